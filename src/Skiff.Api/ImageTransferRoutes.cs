using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Skiff.Daemon;
using Skiff.Distribution;

namespace Skiff.Api;

/// <summary>
/// Image transfer routes: pull (<c>POST /images/create?fromImage=</c>, called from <see cref="ImageRoutes"/>), push,
/// <c>POST /auth</c>, save (<c>GET /images/get</c>, <c>GET /images/{name}/get</c>), load and prune. Pull and push answer Docker's JSON message stream: one object per line with
/// <c>status</c>/<c>id</c>/<c>progressDetail</c>, <c>aux</c> for push's result and <c>errorDetail</c>/<c>error</c> for a
/// failure after the stream started. A failure before the first message is an ordinary error response.
/// </summary>
internal static class ImageTransferRoutes
{
    public static void Map(IEndpointRouteBuilder app, Daemon.Daemon d)
    {
        app.MapPost("/auth", Errors.Handle(async ctx =>
        {
            var body = await JsonSerializer.DeserializeAsync(ctx.Request.Body, TransferJson.Default.AuthConfigDto, ctx.RequestAborted).ConfigureAwait(false)
                ?? throw new BadRequestException("missing auth config");
            var creds = Credentials(body);
            var status = await d.Images.LoginAsync(body.ServerAddress ?? "", creds, ctx.RequestAborted).ConfigureAwait(false);
            await SystemRoutes.WriteJson(ctx, new AuthResponseDto { Status = status }, TransferJson.Default.AuthResponseDto).ConfigureAwait(false);
        }));

        app.MapGet("/images/get", Errors.Handle(async ctx =>
        {
            var names = ctx.Request.Query["names"].Where(n => !string.IsNullOrEmpty(n)).Select(n => n!).ToList();
            if (names.Count == 0) throw new BadRequestException("no images to save: pass names=");
            await SaveAsync(ctx, d, names).ConfigureAwait(false);
        }));

        // dockerd: quiet defaults to true; without it each layer imported reports "Loading layer" progress (the Docker CLI
        // asks for it when its output is a terminal). The "Loaded image" lines are stream messages either way.
        app.MapPost("/images/load", Errors.Handle(ctx =>
        {
            ctx.Features.Get<IHttpBodyControlFeature>()!.AllowSynchronousIO = true;
            bool quiet = Query.Bool(ctx, "quiet", true);
            return StreamMessagesAsync(ctx, async (post, ct) =>
            {
                var lines = await d.Images.LoadAsync(ctx.Request.Body, quiet ? null : (id, current, total) => post(new JsonMessageDto
                {
                    Status = "Loading layer", Id = id, ProgressDetail = new ProgressDetailDto { Current = current, Total = total }, Progress = ProgressText(current, total),
                }), ct).ConfigureAwait(false);
                foreach (var line in lines) post(new JsonMessageDto { Stream = line + "\n" });
                return lines.Count;
            });
        }));

        app.MapPost("/images/prune", Errors.Handle(async ctx =>
        {
            var filters = Query.Filters(ctx);
            bool all = false;
            foreach (var (key, values) in filters)
            {
                if (key != "dangling") throw new BadRequestException($"invalid filter '{key}'");
                foreach (var v in values)
                    all = v.ToLowerInvariant() switch
                    {
                        "false" or "0" => true,
                        "true" or "1" => false,
                        _ => throw new BadRequestException($"invalid filter 'dangling={v}'"),
                    };
            }
            var (deleted, space) = d.PruneImages(all);
            var dto = new ImagePruneDto
            {
                ImagesDeleted = deleted.Count == 0 ? null : deleted.Select(x => new ImageDeleteDto { Untagged = x.Untagged, Deleted = x.Deleted }).ToList(),
                SpaceReclaimed = space,
            };
            await SystemRoutes.WriteJson(ctx, dto, TransferJson.Default.ImagePruneDto).ConfigureAwait(false);
        }));
    }

    /// <summary>
    /// <c>POST /images/create?fromImage=&amp;tag=&amp;platform=</c> with the X-Registry-Auth header. As in dockerd, a
    /// <c>fromImage</c> without tag or digest and an empty or missing <c>tag</c> pulls every tag of the repository (the
    /// Docker CLI's <c>pull --all-tags</c> leaves <c>tag</c> out; its plain <c>pull</c> always sends one).
    /// </summary>
    public static Task PullAsync(HttpContext ctx, Daemon.Daemon d)
    {
        var image = Query.Str(ctx, "fromImage") ?? "";
        var tag = Query.Str(ctx, "tag");
        var platform = Query.Str(ctx, "platform");
        var creds = RegistryAuth(ctx);
        if (string.IsNullOrEmpty(tag) && ImageService.IsRepositoryOnly(image))
            return StreamProgressAsync(ctx, (sink, ct) => d.Images.PullAllTagsAsync(image, platform, creds, sink, ct));
        return StreamProgressAsync(ctx, (sink, ct) => d.Images.PullAsync(image, tag, platform, creds, sink, ct));
    }

    /// <summary>
    /// <c>POST /images/create?fromSrc=URL</c> (<c>docker import URL</c>): dockerd's "Downloading from URL" line, the
    /// download's "Importing" progress, then the new image's ID as a status line.
    /// </summary>
    public static Task ImportFromUrlAsync(HttpContext ctx, Daemon.Daemon d, string source, string? reference, IReadOnlyList<string> changes)
    {
        ImageService.ImportUrl(source);
        string? message = Query.Str(ctx, "message");
        return StreamMessagesAsync(ctx, async (post, ct) =>
        {
            var view = await d.Images.ImportFromUrlAsync(source, reference, message, changes, u => post(new JsonMessageDto { Status = "Downloading from " + u }), (_, current, total) => post(new JsonMessageDto
            {
                Status = "Importing", ProgressDetail = new ProgressDetailDto { Current = current, Total = total }, Progress = ProgressText(current, total),
            }), ct).ConfigureAwait(false);
            post(new JsonMessageDto { Status = view.Id });
            return view;
        });
    }

    /// <summary><c>POST /images/{name}/push?tag=</c> with the X-Registry-Auth header.</summary>
    public static Task PushAsync(HttpContext ctx, Daemon.Daemon d, string name)
    {
        var tag = Query.Str(ctx, "tag");
        var creds = RegistryAuth(ctx);
        return StreamProgressAsync(ctx, (sink, ct) => d.Images.PushAsync(name, tag, creds, sink, ct));
    }

    /// <summary><c>GET /images/{name}/get</c> and <c>GET /images/get?names=</c>: a docker-archive tar.</summary>
    public static async Task SaveAsync(HttpContext ctx, Daemon.Daemon d, IReadOnlyList<string> names)
    {
        d.Images.CheckExist(names);
        ctx.Features.Get<IHttpBodyControlFeature>()!.AllowSynchronousIO = true;
        ctx.Response.Headers.ContentType = "application/x-tar";
        await d.Images.SaveAsync(names, ctx.Response.Body, ctx.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs an operation that reports progress events and writes them as Docker's JSON message stream. Headers are sent with
    /// the first event, so a failure before it (bad reference, unknown manifest, denied) is a normal error response.
    /// </summary>
    private static Task StreamProgressAsync<T>(HttpContext ctx, Func<ProgressSink, CancellationToken, Task<T>> operation) =>
        StreamMessagesAsync(ctx, (post, ct) => operation(e => post(ToMessage(e)), ct));

    /// <summary>
    /// Runs an operation that posts JSON messages (from any thread) and writes them as one stream, batching the messages
    /// queued meanwhile into one write. As <see cref="StreamProgressAsync"/>: headers go with the first message, and a
    /// failure after it is an error message in the stream.
    /// </summary>
    private static async Task StreamMessagesAsync<T>(HttpContext ctx, Func<Action<JsonMessageDto>, CancellationToken, Task<T>> operation)
    {
        var channel = Channel.CreateUnbounded<JsonMessageDto>(new UnboundedChannelOptions { SingleReader = true });
        var task = Task.Run(async () =>
        {
            try
            {
                return await operation(m => channel.Writer.TryWrite(m), ctx.RequestAborted).ConfigureAwait(false);
            }
            finally
            {
                channel.Writer.TryComplete();
            }
        });
        var body = ctx.Response.Body;
        var buffer = new MemoryStream();
        await foreach (var e in channel.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            if (!ctx.Response.HasStarted)
            {
                ctx.Response.StatusCode = 200;
                ctx.Response.Headers.ContentType = "application/json";
            }
            buffer.SetLength(0);
            JsonSerializer.Serialize(buffer, e, TransferJson.Default.JsonMessageDto);
            buffer.WriteByte((byte)'\n');
            // More messages already queued: batch them into one write.
            while (channel.Reader.TryRead(out var more))
            {
                JsonSerializer.Serialize(buffer, more, TransferJson.Default.JsonMessageDto);
                buffer.WriteByte((byte)'\n');
            }
            try
            {
                await body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), ctx.RequestAborted).ConfigureAwait(false);
                await body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception) when (ctx.RequestAborted.IsCancellationRequested)
            {
            }
        }
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception ex) when (ctx.Response.HasStarted && !ctx.RequestAborted.IsCancellationRequested)
        {
            if (ex is not DaemonException) Console.Error.WriteLine($"skiffd: {ctx.Request.Method} {ctx.Request.Path}: {ex}");
            var msg = new JsonMessageDto { Error = ex.Message, ErrorDetail = new ErrorDetailDto { Message = ex.Message } };
            await JsonSerializer.SerializeAsync(body, msg, TransferJson.Default.JsonMessageDto).ConfigureAwait(false);
            await body.WriteAsync("\n"u8.ToArray()).ConfigureAwait(false);
        }
    }

    private static JsonMessageDto ToMessage(ProgressEvent e) => new()
    {
        Status = e.Aux is null ? e.Status : null,
        Id = e.Id,
        ProgressDetail = e.HasDetail || e.Current is not null ? new ProgressDetailDto { Current = e.Current, Total = e.Total } : null,
        Progress = ProgressText(e.Current ?? 0, e.Total ?? 0),
        Aux = e.Aux is { } a ? new PushAuxDto { Tag = a.Tag, Digest = a.Digest, Size = a.Size } : null,
    };

    /// <summary>
    /// The <c>progress</c> text dockerd adds to a message with byte counts (its JSONProgress rendered for a 200-column
    /// terminal): <c>[=====&gt;    ]  32.77kB/307.2kB</c>, just the count without a total, null without counts.
    /// Clients that print progress without a terminal show it (docker-py, Compose v1).
    /// </summary>
    internal static string? ProgressText(long current, long total)
    {
        if (current <= 0 && total <= 0) return null;
        if (total <= 0) return HumanSize(current).PadLeft(8);
        int bar = Math.Min(50, (int)((double)current / total * 100) / 2);
        string numbers = current > total ? HumanSize(current).PadLeft(8) : HumanSize(current).PadLeft(8) + "/" + HumanSize(total);
        return "[" + new string('=', bar) + ">" + new string(' ', Math.Max(0, 50 - bar)) + "] " + numbers;
    }

    /// <summary>Docker's decimal size with 4 significant digits (go-units HumanSize): 32.77kB, 307.2kB, 5B.</summary>
    internal static string HumanSize(double size)
    {
        string[] units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
        int i = 0;
        while (size >= 1000 && i < units.Length - 1)
        {
            size /= 1000;
            i++;
        }
        return size.ToString("G4", System.Globalization.CultureInfo.InvariantCulture) + units[i];
    }

    /// <summary>
    /// Decodes the X-Registry-Auth header: base64url (padding optional) JSON of an auth config, as the Docker CLI sends it.
    /// A missing or empty header means anonymous access; an undecodable one is a 400.
    /// </summary>
    internal static RegistryCredentials? RegistryAuth(HttpContext ctx)
    {
        string header = ctx.Request.Headers["X-Registry-Auth"].ToString();
        if (string.IsNullOrWhiteSpace(header)) return null;
        AuthConfigDto? config;
        try
        {
            string b64 = header.Trim().Replace('-', '+').Replace('_', '/');
            b64 = b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '=');
            config = JsonSerializer.Deserialize(Convert.FromBase64String(b64), TransferJson.Default.AuthConfigDto);
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            throw new BadRequestException("invalid X-Registry-Auth header: " + ex.Message);
        }
        return config is null ? null : Credentials(config);
    }

    private static RegistryCredentials Credentials(AuthConfigDto c)
    {
        string? user = c.Username, pass = c.Password;
        if (string.IsNullOrEmpty(user) && !string.IsNullOrEmpty(c.Auth))
        {
            try
            {
                var s = Encoding.UTF8.GetString(Convert.FromBase64String(c.Auth));
                int colon = s.IndexOf(':');
                if (colon > 0) (user, pass) = (s[..colon], s[(colon + 1)..]);
            }
            catch (FormatException)
            {
                throw new BadRequestException("invalid auth field in the auth config");
            }
        }
        return new RegistryCredentials(user, pass, c.IdentityToken, c.RegistryToken);
    }
}

internal sealed class AuthConfigDto
{
    [JsonPropertyName("username")] public string? Username { get; set; }
    [JsonPropertyName("password")] public string? Password { get; set; }
    [JsonPropertyName("auth")] public string? Auth { get; set; }
    [JsonPropertyName("email")] public string? Email { get; set; }
    [JsonPropertyName("serveraddress")] public string? ServerAddress { get; set; }
    [JsonPropertyName("identitytoken")] public string? IdentityToken { get; set; }
    [JsonPropertyName("registrytoken")] public string? RegistryToken { get; set; }
}

internal sealed class AuthResponseDto
{
    public string Status { get; set; } = "";
    public string IdentityToken { get; set; } = "";
}

internal sealed class JsonMessageDto
{
    [JsonPropertyName("status")] public string? Status { get; set; }
    [JsonPropertyName("progressDetail")] public ProgressDetailDto? ProgressDetail { get; set; }
    [JsonPropertyName("progress")] public string? Progress { get; set; }
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("aux")] public PushAuxDto? Aux { get; set; }
    [JsonPropertyName("errorDetail")] public ErrorDetailDto? ErrorDetail { get; set; }
    [JsonPropertyName("error")] public string? Error { get; set; }
    [JsonPropertyName("stream")] public string? Stream { get; set; }
}

internal sealed class ProgressDetailDto
{
    [JsonPropertyName("current")] public long? Current { get; set; }
    [JsonPropertyName("total")] public long? Total { get; set; }
}

internal sealed class PushAuxDto
{
    public string Tag { get; set; } = "";
    public string Digest { get; set; } = "";
    public long Size { get; set; }
}

internal sealed class ErrorDetailDto
{
    [JsonPropertyName("message")] public string Message { get; set; } = "";
}

internal sealed class ImagePruneDto
{
    public List<ImageDeleteDto>? ImagesDeleted { get; set; }
    public long SpaceReclaimed { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AuthConfigDto))]
[JsonSerializable(typeof(AuthResponseDto))]
[JsonSerializable(typeof(JsonMessageDto))]
[JsonSerializable(typeof(ImagePruneDto))]
internal sealed partial class TransferJson : JsonSerializerContext;
