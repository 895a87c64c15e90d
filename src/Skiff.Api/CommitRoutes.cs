using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Skiff.Daemon;

namespace Skiff.Api;

/// <summary>The body of POST /containers/{id}/update (Docker's UpdateConfig: resources and a restart policy).</summary>
internal sealed class UpdateDto
{
    public long Memory { get; set; }
    public long MemorySwap { get; set; }
    public long MemoryReservation { get; set; }
    public long KernelMemory { get; set; }
    public long NanoCpus { get; set; }
    public long CpuShares { get; set; }
    public long CpuPeriod { get; set; }
    public long CpuQuota { get; set; }
    public long CpuRealtimePeriod { get; set; }
    public long CpuRealtimeRuntime { get; set; }
    public string? CpusetCpus { get; set; }
    public string? CpusetMems { get; set; }
    public long? PidsLimit { get; set; }
    public ushort BlkioWeight { get; set; }
    public RestartPolicyDto? RestartPolicy { get; set; }
}

internal sealed class UpdateResponseDto
{
    public List<string> Warnings { get; set; } = [];
}

[JsonSerializable(typeof(UpdateDto))]
[JsonSerializable(typeof(UpdateResponseDto))]
[JsonSerializable(typeof(ConfigDto))]
[JsonSerializable(typeof(IdResponse))]
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true)]
internal sealed partial class CommitJson : JsonSerializerContext;

/// <summary>POST /commit (docker commit) and POST /containers/{id}/update (docker update).</summary>
internal static class CommitRoutes
{
    public static void Map(IEndpointRouteBuilder app, Daemon.Daemon d)
    {
        app.MapPost("/commit", Errors.Handle(async ctx =>
        {
            var container = Query.Str(ctx, "container") ?? throw new BadRequestException("container is required");
            var c = d.Containers.Get(container);
            ConfigDto? body = null;
            if (ctx.Request.ContentLength is > 0 || ctx.Request.Headers.TransferEncoding.Count > 0)
            {
                using var buffer = new MemoryStream();
                await ctx.Request.Body.CopyToAsync(buffer, ctx.RequestAborted).ConfigureAwait(false);
                if (buffer.Length > 0 && !(buffer.Length == 4 && System.Text.Encoding.ASCII.GetString(buffer.ToArray()) == "null"))
                    body = JsonSerializer.Deserialize(buffer.ToArray(), CommitJson.Default.ConfigDto);
            }
            var repo = Query.Str(ctx, "repo");
            var tag = Query.Str(ctx, "tag");
            string? reference = string.IsNullOrEmpty(repo) ? null : string.IsNullOrEmpty(tag) ? repo : $"{repo}:{tag}";
            var id = await d.CommitAsync(c.Id, new CommitRequest
            {
                Reference = reference,
                Author = Query.Str(ctx, "author"),
                Comment = Query.Str(ctx, "comment"),
                Changes = ctx.Request.Query["changes"].Where(s => !string.IsNullOrEmpty(s)).SelectMany(s => s!.Split('\n', StringSplitOptions.RemoveEmptyEntries)).ToList(),
                Pause = Query.Bool(ctx, "pause", fallback: true),
                Config = body is null ? null : Merge(c.Record.Config, body),
            }).ConfigureAwait(false);
            await SystemRoutes.WriteJson(ctx, new IdResponse { Id = id }, CommitJson.Default.IdResponse, 201).ConfigureAwait(false);
        }));

        app.MapPost("/containers/{id}/update", Errors.Handle(async ctx =>
        {
            var body = await JsonSerializer.DeserializeAsync(ctx.Request.Body, CommitJson.Default.UpdateDto, ctx.RequestAborted).ConfigureAwait(false)
                ?? throw new BadRequestException("update config cannot be empty");
            var warnings = await d.UpdateAsync((string)ctx.Request.RouteValues["id"]!, new UpdateRequest
            {
                Memory = body.Memory,
                MemorySwap = body.MemorySwap,
                MemoryReservation = body.MemoryReservation,
                NanoCpus = body.NanoCpus,
                CpuShares = body.CpuShares,
                CpuPeriod = body.CpuPeriod,
                CpuQuota = body.CpuQuota,
                CpusetCpus = string.IsNullOrEmpty(body.CpusetCpus) ? null : body.CpusetCpus,
                CpusetMems = string.IsNullOrEmpty(body.CpusetMems) ? null : body.CpusetMems,
                PidsLimit = body.PidsLimit is null or 0 ? null : body.PidsLimit,
                BlkioWeight = body.BlkioWeight,
                RestartPolicy = string.IsNullOrEmpty(body.RestartPolicy?.Name) ? null
                    : new RestartPolicy { Name = body.RestartPolicy.Name, MaximumRetryCount = body.RestartPolicy.MaximumRetryCount },
            }).ConfigureAwait(false);
            await SystemRoutes.WriteJson(ctx, new UpdateResponseDto { Warnings = [.. warnings] }, CommitJson.Default.UpdateResponseDto).ConfigureAwait(false);
        }));
    }

    /// <summary>Docker's merge for commit: fields set in the request's config win, the container's fill the rest.</summary>
    private static ContainerConfig Merge(ContainerConfig container, ConfigDto body)
    {
        var given = Mapping.ToCore(body);
        return new ContainerConfig
        {
            Image = container.Image,
            Hostname = given.Hostname.Length > 0 ? given.Hostname : container.Hostname,
            Domainname = given.Domainname.Length > 0 ? given.Domainname : container.Domainname,
            User = given.User.Length > 0 ? given.User : container.User,
            Env = given.Env.Count > 0 ? given.Env : container.Env,
            Cmd = given.Cmd ?? container.Cmd,
            Entrypoint = given.Entrypoint ?? container.Entrypoint,
            WorkingDir = given.WorkingDir.Length > 0 ? given.WorkingDir : container.WorkingDir,
            Labels = given.Labels.Count > 0 ? given.Labels : container.Labels,
            StopSignal = given.StopSignal ?? container.StopSignal,
            ExposedPorts = given.ExposedPorts.Count > 0 ? given.ExposedPorts : container.ExposedPorts,
            Volumes = given.Volumes.Count > 0 ? given.Volumes : container.Volumes,
            Healthcheck = given.Healthcheck ?? container.Healthcheck,
            Tty = container.Tty,
            OpenStdin = container.OpenStdin,
            StdinOnce = container.StdinOnce,
        };
    }
}
