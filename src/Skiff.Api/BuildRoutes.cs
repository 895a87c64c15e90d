using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Http.Features;
using Skiff.Build;
using Skiff.Build.Session;
using Skiff.Daemon;

namespace Skiff.Api;

internal sealed class BuildAux
{
    public string ID { get; set; } = "";
}

internal sealed class BuildErrorDetail
{
    [JsonPropertyName("code")] public int? Code { get; set; }
    [JsonPropertyName("message")] public string Message { get; set; } = "";
}

/// <summary>One line of the build's JSON stream.</summary>
internal sealed class BuildMessage
{
    [JsonPropertyName("stream")] public string? Stream { get; set; }
    [JsonPropertyName("aux")] public BuildAux? Aux { get; set; }
    [JsonPropertyName("errorDetail")] public BuildErrorDetail? ErrorDetail { get; set; }
    [JsonPropertyName("error")] public string? Error { get; set; }
}

internal sealed class BuildPruneResponse
{
    public List<string> CachesDeleted { get; set; } = [];
    public long SpaceReclaimed { get; set; }
}

[JsonSerializable(typeof(BuildMessage))]
[JsonSerializable(typeof(BuildPruneResponse))]
[JsonSerializable(typeof(Dictionary<string, string?>))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class BuildJson : JsonSerializerContext;

/// <summary>
/// <c>POST /build</c> (the classic builder, what the Docker CLI uses with <c>DOCKER_BUILDKIT=0</c>) and
/// <c>POST /build/prune</c>. The build's output is a stream of JSON lines (<c>{"stream": ...}</c>, <c>{"aux":{"ID": ...}}</c>);
/// a failure before any output is an ordinary error response, after it an <c>{"errorDetail": ...}</c> line, as dockerd does.
/// </summary>
internal static class BuildRoutes
{
    public static void Map(IEndpointRouteBuilder app, Daemon.Daemon d)
    {
        app.MapPost("/build", Errors.Handle(ctx => BuildAsync(ctx, d)));

        app.MapPost("/build/session", Errors.Handle(ctx => SessionAsync(ctx, d)));

        app.MapPost("/build/prune", Errors.Handle(async ctx =>
        {
            var (deleted, reclaimed) = await Task.Run(d.PruneBuildCache).ConfigureAwait(false);
            ctx.Response.Headers.ContentType = "application/json";
            await JsonSerializer.SerializeAsync(ctx.Response.Body, new BuildPruneResponse { CachesDeleted = [.. deleted], SpaceReclaimed = reclaimed },
                BuildJson.Default.BuildPruneResponse).ConfigureAwait(false);
        }));
    }

    private sealed class ChannelProgress(ChannelWriter<BuildMessage> writer, bool quiet) : IBuildProgress
    {
        public void Stream(string text)
        {
            if (!quiet) writer.TryWrite(new BuildMessage { Stream = text });
        }

        public void ImageId(string id)
        {
            writer.TryWrite(new BuildMessage { Aux = new BuildAux { ID = id } });
            if (quiet) writer.TryWrite(new BuildMessage { Stream = id + "\n" });
        }
    }

    private static async Task BuildAsync(HttpContext ctx, Daemon.Daemon d)
    {
        if (!string.IsNullOrEmpty(Query.Str(ctx, "remote")))
            throw new BadRequestException("building from a remote context (git or URL) is not supported: send the context as a tar");
        var tags = ctx.Request.Query["t"].Where(t => !string.IsNullOrEmpty(t)).Select(t => t!).ToList();
        foreach (var t in tags)
            if (!Images.ImageReference.TryParse(t, out _, out var why)) throw new BadRequestException($"invalid tag \"{t}\": {why}");
        var buildArgs = Map<Dictionary<string, string?>>(Query.Str(ctx, "buildargs"), "buildargs", BuildJson.Default.DictionaryStringString) ?? [];
        var labels = (Map<Dictionary<string, string?>>(Query.Str(ctx, "labels"), "labels", BuildJson.Default.DictionaryStringString) ?? [])
            .ToDictionary(kv => kv.Key, kv => kv.Value ?? "");
        bool quiet = Query.Bool(ctx, "q");
        var secrets = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (ctx.Request.Headers["X-Skiff-Build-Secrets"].ToString() is { Length: > 0 } secretHeader)
        {
            // skiff build --secret: {"id": base64 content}, base64 again as a whole (a header, so never in a URL or log).
            try
            {
                var map = JsonSerializer.Deserialize(Convert.FromBase64String(secretHeader), BuildJson.Default.DictionaryStringString) ?? [];
                foreach (var (k, v) in map) secrets[k] = Convert.FromBase64String(v ?? "");
            }
            catch (Exception e) when (e is FormatException or JsonException)
            {
                throw new BadRequestException("invalid X-Skiff-Build-Secrets header: " + e.Message);
            }
        }
        string network = Query.Str(ctx, "networkmode") is { Length: > 0 } nm ? nm : "default";
        if (network == "bridge") network = "default";
        if (network is not ("default" or "host" or "none"))
            throw new BadRequestException($"network mode \"{network}\" is not supported for builds: use default, host or none");
        var extraHosts = new List<string>();
        foreach (var raw in ctx.Request.Query["extrahosts"])
        {
            foreach (var h in (raw ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                int sep = h.IndexOfAny([':', '=']);
                if (sep <= 0 || sep == h.Length - 1) throw new BadRequestException($"invalid IP address in add-host: \"{h}\"");
                string ip = h[(sep + 1)..].Trim('[', ']');
                if (!System.Net.IPAddress.TryParse(ip, out _))
                    throw new BadRequestException(ip == "host-gateway" ? "host-gateway is not supported in builds: their steps have no bridge" : $"invalid IP address in add-host: \"{ip}\"");
                extraHosts.Add(h[..sep] + ":" + ip);
            }
        }
        string? platform = Query.Str(ctx, "platform") is { Length: > 0 } pf ? pf : null;
        if (platform is not null)
        {
            try { platform = BuildPlatform.Parse(platform).ToString(); }
            catch (BuildException e) { throw new BadRequestException(e.Message); }
            if (!platform.StartsWith("linux/", StringComparison.Ordinal)) throw new BadRequestException($"\"{platform}\": operating system is not supported");
        }
        var options = new BuildOptions
        {
            Dockerfile = Query.Str(ctx, "dockerfile") is { Length: > 0 } df ? df : "Dockerfile",
            Tags = tags,
            BuildArgs = buildArgs,
            Labels = labels,
            Target = Query.Str(ctx, "target"),
            NoCache = Query.Bool(ctx, "nocache"),
            Pull = Query.Bool(ctx, "pull"),
            Quiet = quiet,
            Secrets = secrets,
            Ssh = d.BuildSessions.Find(Query.Str(ctx, "session")),
            Platform = platform,
            Network = network,
            ExtraHosts = extraHosts,
        };

        var channel = Channel.CreateUnbounded<BuildMessage>(new UnboundedChannelOptions { SingleReader = true });
        var build = Task.Run(async () =>
        {
            try
            {
                await d.BuildAsync(ctx.Request.Body, options, new ChannelProgress(channel.Writer, quiet), ctx.RequestAborted).ConfigureAwait(false);
            }
            finally
            {
                channel.Writer.TryComplete();
            }
        });

        // Headers go out with the first message, so a build that fails before saying anything is a plain error response.
        bool started = false;
        await foreach (var message in channel.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            if (!started)
            {
                started = true;
                ctx.Response.StatusCode = 200;
                ctx.Response.Headers.ContentType = "application/json";
            }
            await WriteLineAsync(ctx, message).ConfigureAwait(false);
        }
        try
        {
            await build.ConfigureAwait(false);
        }
        catch (BuildFailedException e) when (started)
        {
            await WriteLineAsync(ctx, new BuildMessage { Error = e.Message, ErrorDetail = new BuildErrorDetail { Message = e.Message, Code = e.ExitCode } }).ConfigureAwait(false);
        }
        catch (Exception e) when (started && e is not OperationCanceledException)
        {
            if (e is not DaemonException) Console.Error.WriteLine($"skiffd: POST /build: {e}");
            await WriteLineAsync(ctx, new BuildMessage { Error = e.Message, ErrorDetail = new BuildErrorDetail { Message = e.Message } }).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// <c>POST /build/session?id=ID&amp;ssh=AGENT...</c> (Skiff's own; the Docker CLI's BuildKit session speaks gRPC over
    /// <c>/session</c>): the client's connection is hijacked and carries a <see cref="SessionMux"/> for as long as the client
    /// keeps it open. Builds that name the session (<c>POST /build?session=ID</c>) reach the SSH agents it offers through it.
    /// The session is registered before the upgrade answer goes out, so a build sent after that answer finds it.
    /// </summary>
    private static async Task SessionAsync(HttpContext ctx, Daemon.Daemon d)
    {
        string id = Query.Str(ctx, "id") ?? "";
        if (id.Length is 0 or > 128) throw new BadRequestException("a build session needs an id (1 to 128 characters)");
        var sshIds = ctx.Request.Query["ssh"].Where(s => !string.IsNullOrEmpty(s)).Select(s => s!).ToHashSet(StringComparer.Ordinal);
        const string contentType = "application/vnd.skiff.session";
        var upgrade = ctx.Features.Get<IHttpUpgradeFeature>();
        Stream? stream = null;
        bool raw = false;
        BuildSession session;
        try { session = d.BuildSessions.Register(id, sshIds); }
        catch (ArgumentException e) { throw DaemonException.Conflict(e.Message); }
        try
        {
            if (upgrade is { IsUpgradableRequest: true })
            {
                ctx.Response.Headers.ContentType = contentType;
                ctx.Response.Headers.Connection = "Upgrade";
                ctx.Response.Headers.Upgrade = "tcp";
                HalfCloseConnection.MarkHijacked(ctx);
                stream = await upgrade.UpgradeAsync().ConfigureAwait(false);
            }
            else if (await HalfCloseConnection.HijackAsync(ctx, contentType).ConfigureAwait(false) is { } hijacked)
            {
                stream = hijacked;
                raw = true;
            }
            if (stream is null) throw new BadRequestException("a build session needs a connection that can be hijacked (Connection: Upgrade)");
            await using var mux = new SessionMux(stream, connect: null);
            session.Attach(mux);
            await mux.RunAsync(ctx.RequestAborted).ConfigureAwait(false);
        }
        finally
        {
            d.BuildSessions.Remove(session);
            if (raw) await HalfCloseConnection.EndHijackAsync(ctx).ConfigureAwait(false);
        }
    }

    private static async Task WriteLineAsync(HttpContext ctx, BuildMessage message)
    {
        // One write per message, line end included, as Docker does: docker-py decodes each chunk it
        // receives and fails on a chunk holding only the line end.
        var json = JsonSerializer.SerializeToUtf8Bytes(message, BuildJson.Default.BuildMessage);
        var line = new byte[json.Length + 2];
        json.CopyTo(line, 0);
        line[^2] = (byte)'\r';
        line[^1] = (byte)'\n';
        await ctx.Response.Body.WriteAsync(line).ConfigureAwait(false);
        await ctx.Response.Body.FlushAsync().ConfigureAwait(false);
    }

    private static T? Map<T>(string? raw, string name, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info) where T : class
    {
        if (string.IsNullOrEmpty(raw)) return null;
        try
        {
            return JsonSerializer.Deserialize(raw, info);
        }
        catch (JsonException e)
        {
            throw new BadRequestException($"invalid {name}: {e.Message}");
        }
    }
}
