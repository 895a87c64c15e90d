using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Skiff.Daemon;

namespace Skiff.Api;

internal sealed class ExecCreateDto
{
    public bool AttachStdin { get; set; }
    public bool AttachStdout { get; set; }
    public bool AttachStderr { get; set; }
    public string? DetachKeys { get; set; }
    public bool Tty { get; set; }
    public List<string>? Env { get; set; }
    [JsonConverter(typeof(StringOrListConverter))] public List<string>? Cmd { get; set; }
    public bool Privileged { get; set; }
    public string? User { get; set; }
    public string? WorkingDir { get; set; }
}

internal sealed class ExecStartDto
{
    public bool Detach { get; set; }
    public bool Tty { get; set; }
}

internal sealed class ExecProcessConfigDto
{
    [JsonPropertyName("arguments")] public List<string> Arguments { get; set; } = [];
    [JsonPropertyName("entrypoint")] public string Entrypoint { get; set; } = "";
    [JsonPropertyName("privileged")] public bool Privileged { get; set; }
    [JsonPropertyName("tty")] public bool Tty { get; set; }
    [JsonPropertyName("user")] public string User { get; set; } = "";
}

internal sealed class ExecInspectDto
{
    public bool CanRemove { get; set; }
    public string ContainerID { get; set; } = "";
    public string DetachKeys { get; set; } = "";
    public int? ExitCode { get; set; }
    public string ID { get; set; } = "";
    public bool OpenStderr { get; set; }
    public bool OpenStdin { get; set; }
    public bool OpenStdout { get; set; }
    public ExecProcessConfigDto ProcessConfig { get; set; } = new();
    public bool Running { get; set; }
    public int Pid { get; set; }
}

[JsonSerializable(typeof(ExecCreateDto))]
[JsonSerializable(typeof(ExecStartDto))]
[JsonSerializable(typeof(ExecInspectDto))]
[JsonSerializable(typeof(IdResponse))]
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true)]
internal sealed partial class ExecJson : JsonSerializerContext;

/// <summary>/containers/{id}/exec and /exec/{id}/...: Docker's exec create, start (hijacked), resize and inspect.</summary>
internal static class ExecRoutes
{
    public static void Map(IEndpointRouteBuilder app, Daemon.Daemon d)
    {
        app.MapPost("/containers/{id}/exec", Errors.Handle(async ctx =>
        {
            var body = await JsonSerializer.DeserializeAsync(ctx.Request.Body, ExecJson.Default.ExecCreateDto, ctx.RequestAborted).ConfigureAwait(false)
                ?? throw new BadRequestException("exec config cannot be empty");
            var exec = d.CreateExec((string)ctx.Request.RouteValues["id"]!, new ExecRecord
            {
                Cmd = body.Cmd ?? [], Env = body.Env ?? [], WorkingDir = body.WorkingDir ?? "", User = body.User ?? "",
                Tty = body.Tty, Privileged = body.Privileged,
                AttachStdin = body.AttachStdin, AttachStdout = body.AttachStdout, AttachStderr = body.AttachStderr,
                DetachKeys = body.DetachKeys ?? "",
            });
            await SystemRoutes.WriteJson(ctx, new IdResponse { Id = exec.Id }, ExecJson.Default.IdResponse, 201).ConfigureAwait(false);
        }));

        app.MapPost("/exec/{id}/start", Errors.Handle(async ctx =>
        {
            // The body comes with the upgrade request: read it before switching protocols.
            var body = ctx.Request.ContentLength is > 0 || ctx.Request.Headers.TransferEncoding.Count > 0
                ? await JsonSerializer.DeserializeAsync(ctx.Request.Body, ExecJson.Default.ExecStartDto, ctx.RequestAborted).ConfigureAwait(false) ?? new ExecStartDto()
                : new ExecStartDto();
            var id = (string)ctx.Request.RouteValues["id"]!;
            var exec = d.GetExec(id);
            if (body.Detach)
            {
                var detached = await d.StartExecAsync(id).ConfigureAwait(false);
                _ = detached(null, CancellationToken.None);
                ctx.Response.StatusCode = 200;
                return;
            }
            var container = d.Containers.Get(exec.ContainerId);
            if (!container.Record.State.Running) throw DaemonException.Conflict($"Container {container.Id} is not running");
            var contentType = exec.Tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
            // As Docker does, the connection is hijacked before the process starts: clients that read the
            // stream from the socket under their HTTP parser (docker-py) lose bytes that arrive together
            // with the response head. A process that cannot start is then reported inside the stream and
            // the client reads the exit code (126/127) from exec inspect.
            var upgrade = ctx.Features.Get<IHttpUpgradeFeature>();
            Stream? client = null;
            var raw = false;
            if (upgrade is { IsUpgradableRequest: true })
            {
                ctx.Response.Headers.ContentType = contentType;
                ctx.Response.Headers.Connection = "Upgrade";
                ctx.Response.Headers.Upgrade = "tcp";
                HalfCloseConnection.MarkHijacked(ctx);
                client = await upgrade.UpgradeAsync().ConfigureAwait(false);
            }
            else if (await HalfCloseConnection.HijackAsync(ctx, contentType).ConfigureAwait(false) is { } hijacked)
            {
                client = hijacked;
                raw = true;
            }
            if (client is null)
            {
                var run = await d.StartExecAsync(id).ConfigureAwait(false);
                ctx.Response.Headers.ContentType = contentType;
                await ctx.Response.StartAsync().ConfigureAwait(false);
                await run(ctx.Response.Body, ctx.RequestAborted).ConfigureAwait(false);
                return;
            }
            try
            {
                Func<Stream?, CancellationToken, Task>? run = null;
                try
                {
                    run = await d.StartExecAsync(id).ConfigureAwait(false);
                }
                catch (DaemonException e)
                {
                    var text = System.Text.Encoding.UTF8.GetBytes(e.Message + "\r\n");
                    if (!exec.Tty)
                    {
                        var header = new byte[8];
                        header[0] = 2;
                        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), text.Length);
                        await client.WriteAsync(header).ConfigureAwait(false);
                    }
                    await client.WriteAsync(text).ConfigureAwait(false);
                }
                if (run is not null) await run(client, CancellationToken.None).ConfigureAwait(false);
                await client.FlushAsync().ConfigureAwait(false);
            }
            finally
            {
                if (raw) await HalfCloseConnection.EndHijackAsync(ctx).ConfigureAwait(false);
            }
        }));

        app.MapPost("/exec/{id}/resize", Errors.Handle(async ctx =>
        {
            await d.ResizeExecAsync((string)ctx.Request.RouteValues["id"]!, Query.Int(ctx, "h") ?? 0, Query.Int(ctx, "w") ?? 0).ConfigureAwait(false);
            ctx.Response.StatusCode = 200;
        }));

        app.MapGet("/exec/{id}/json", Errors.Handle(async ctx =>
        {
            var e = d.GetExec((string)ctx.Request.RouteValues["id"]!);
            var dto = new ExecInspectDto
            {
                ContainerID = e.ContainerId,
                CanRemove = !e.Running && e.ExitCode is not null,
                DetachKeys = e.DetachKeys,
                ExitCode = e.ExitCode,
                ID = e.Id,
                OpenStderr = e.AttachStderr,
                OpenStdin = e.AttachStdin,
                OpenStdout = e.AttachStdout,
                ProcessConfig = new ExecProcessConfigDto { Entrypoint = e.Cmd[0], Arguments = e.Cmd.Skip(1).ToList(), Privileged = e.Privileged, Tty = e.Tty, User = e.User },
                Running = e.Running,
                Pid = e.Pid,
            };
            await SystemRoutes.WriteJson(ctx, dto, ExecJson.Default.ExecInspectDto).ConfigureAwait(false);
        }));
    }
}
