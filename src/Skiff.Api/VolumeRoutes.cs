using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Skiff.Daemon;
using Skiff.Volumes;

namespace Skiff.Api;

/// <summary>Docker's Volume object (GET /volumes/{name}, an element of GET /volumes, POST /volumes/create's answer).</summary>
internal sealed class VolumeDto
{
    public string CreatedAt { get; set; } = "";
    public string Driver { get; set; } = "";
    public Dictionary<string, string>? Labels { get; set; }
    public string Mountpoint { get; set; } = "";
    public string Name { get; set; } = "";
    public Dictionary<string, string>? Options { get; set; }
    public string Scope { get; set; } = "local";
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public VolumeUsageDto? UsageData { get; set; }
}

internal sealed class VolumeUsageDto
{
    public long Size { get; set; }
    public long RefCount { get; set; }
}

internal sealed class VolumeListDto
{
    public List<VolumeDto> Volumes { get; set; } = [];
    public List<string> Warnings { get; set; } = [];
}

internal sealed class VolumeCreateDto
{
    public string? Name { get; set; }
    public string? Driver { get; set; }
    public Dictionary<string, string>? DriverOpts { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
}

internal sealed class VolumePruneDto
{
    public List<string> VolumesDeleted { get; set; } = [];
    public long SpaceReclaimed { get; set; }
}

/// <summary>HostConfig.Mounts[] as Docker's API shapes it.</summary>
internal sealed class MountDto
{
    public string? Type { get; set; }
    public string? Source { get; set; }
    public string? Target { get; set; }
    public bool ReadOnly { get; set; }
    public string? Consistency { get; set; }
    public MountBindOptionsDto? BindOptions { get; set; }
    public MountVolumeOptionsDto? VolumeOptions { get; set; }
    public MountTmpfsOptionsDto? TmpfsOptions { get; set; }
}

internal sealed class MountBindOptionsDto
{
    public string? Propagation { get; set; }
    public bool NonRecursive { get; set; }
    public bool CreateMountpoint { get; set; }
}

internal sealed class MountVolumeOptionsDto
{
    public bool NoCopy { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    public MountDriverConfigDto? DriverConfig { get; set; }
    public string? Subpath { get; set; }
}

internal sealed class MountDriverConfigDto
{
    public string? Name { get; set; }
    public Dictionary<string, string>? Options { get; set; }
}

internal sealed class MountTmpfsOptionsDto
{
    public long SizeBytes { get; set; }
    public int Mode { get; set; }
}

/// <summary>An element of a container's <c>Mounts</c> in inspect and in the container list.</summary>
internal sealed class MountPointDto
{
    public string Type { get; set; } = "";
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public string Name { get; set; } = "";
    public string Source { get; set; } = "";
    public string Destination { get; set; } = "";
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public string Driver { get; set; } = "";
    public string Mode { get; set; } = "";
    public bool RW { get; set; }
    public string Propagation { get; set; } = "";
}

[JsonSerializable(typeof(VolumeDto))]
[JsonSerializable(typeof(VolumeListDto))]
[JsonSerializable(typeof(VolumeCreateDto))]
[JsonSerializable(typeof(VolumePruneDto))]
[JsonSerializable(typeof(MountDto))]
[JsonSerializable(typeof(MountPointDto))]
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true, NumberHandling = JsonNumberHandling.AllowReadingFromString)]
internal sealed partial class VolumeJson : JsonSerializerContext;

/// <summary>/volumes: Docker's volume create, list, inspect, remove and prune.</summary>
internal static class VolumeRoutes
{
    public static void Map(IEndpointRouteBuilder app, Daemon.Daemon d)
    {
        app.MapGet("/volumes", Errors.Handle(async ctx =>
        {
            var list = d.ListVolumes(Query.Filters(ctx)).OrderBy(v => v.Name, StringComparer.Ordinal).Select(v => ToDto(v)).ToList();
            await SystemRoutes.WriteJson(ctx, new VolumeListDto { Volumes = list }, VolumeJson.Default.VolumeListDto).ConfigureAwait(false);
        }));

        app.MapPost("/volumes/create", Errors.Handle(async ctx =>
        {
            var body = await JsonSerializer.DeserializeAsync(ctx.Request.Body, VolumeJson.Default.VolumeCreateDto, ctx.RequestAborted).ConfigureAwait(false)
                ?? new VolumeCreateDto();
            var v = d.CreateVolume(body.Name, body.Driver, body.Labels, body.DriverOpts);
            await SystemRoutes.WriteJson(ctx, ToDto(v), VolumeJson.Default.VolumeDto, 201).ConfigureAwait(false);
        }));

        app.MapPost("/volumes/prune", Errors.Handle(async ctx =>
        {
            // Since API 1.42 prune removes only anonymous volumes unless asked for all=true.
            var (deleted, space) = d.PruneVolumes(Query.Filters(ctx), allByDefault: ApiVersion.Of(ctx) < new Version(1, 42));
            await SystemRoutes.WriteJson(ctx, new VolumePruneDto { VolumesDeleted = deleted, SpaceReclaimed = space }, VolumeJson.Default.VolumePruneDto).ConfigureAwait(false);
        }));

        app.MapGet("/volumes/{name}", Errors.Handle(async ctx =>
        {
            var v = d.GetVolume(Name(ctx));
            await SystemRoutes.WriteJson(ctx, ToDto(v), VolumeJson.Default.VolumeDto).ConfigureAwait(false);
        }));

        app.MapDelete("/volumes/{name}", Errors.Handle(ctx =>
        {
            d.RemoveVolume(Name(ctx), Query.Bool(ctx, "force"));
            ctx.Response.StatusCode = 204;
            return Task.CompletedTask;
        }));
    }

    /// <summary>The volumes part of <c>GET /system/df</c>: every volume with its size and how many containers reference it.</summary>
    internal static List<VolumeDto> DiskUsage(Daemon.Daemon d) =>
        d.ListVolumes(new Dictionary<string, List<string>>()).OrderBy(v => v.Name, StringComparer.Ordinal)
            .Select(v => ToDto(v, new VolumeUsageDto { Size = VolumeStore.Size(v), RefCount = d.VolumeUsers(v.Name).Count }))
            .ToList();

    private static string Name(HttpContext ctx) => (string)ctx.Request.RouteValues["name"]!;

    internal static VolumeDto ToDto(Volume v, VolumeUsageDto? usage = null) => new()
    {
        CreatedAt = v.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        Driver = v.Driver,
        Labels = v.Labels.Count == 0 ? null : new Dictionary<string, string>(v.Labels),
        Mountpoint = v.Mountpoint,
        Name = v.Name,
        Options = v.Options.Count == 0 ? null : new Dictionary<string, string>(v.Options),
        UsageData = usage,
    };

    /// <summary>HostConfig.Mounts of a create request (kept as raw JSON by the shared DTO) as the daemon's specs.</summary>
    internal static List<MountSpec> ToCore(List<JsonElement>? mounts)
    {
        var result = new List<MountSpec>();
        foreach (var e in mounts ?? [])
        {
            var m = e.Deserialize(VolumeJson.Default.MountDto) ?? throw new BadRequestException("invalid mount: null");
            if (!string.IsNullOrEmpty(m.VolumeOptions?.Subpath))
                throw new BadRequestException($"invalid mount config for type \"{m.Type}\": volume subpaths are not supported by this engine");
            result.Add(new MountSpec
            {
                Type = string.IsNullOrEmpty(m.Type) ? "volume" : m.Type,
                Source = m.Source ?? "",
                Target = m.Target ?? "",
                ReadOnly = m.ReadOnly,
                BindPropagation = m.BindOptions?.Propagation ?? "",
                BindCreateMountpoint = m.BindOptions?.CreateMountpoint ?? false,
                BindNonRecursive = m.BindOptions?.NonRecursive ?? false,
                VolumeNoCopy = m.VolumeOptions?.NoCopy ?? false,
                VolumeLabels = m.VolumeOptions?.Labels ?? [],
                VolumeDriver = m.VolumeOptions?.DriverConfig?.Name ?? "",
                VolumeDriverOptions = m.VolumeOptions?.DriverConfig?.Options ?? [],
                TmpfsSize = m.TmpfsOptions?.SizeBytes ?? 0,
                TmpfsMode = m.TmpfsOptions?.Mode ?? 0,
            });
        }
        return result;
    }

    /// <summary>HostConfig.Mounts echoed back by inspect.</summary>
    internal static List<JsonElement>? ToDto(List<MountSpec> mounts) => mounts.Count == 0 ? null : mounts.Select(m => JsonSerializer.SerializeToElement(new MountDto
    {
        Type = m.Type,
        Source = m.Source,
        Target = m.Target,
        ReadOnly = m.ReadOnly,
        BindOptions = m.Type == "bind" && (m.BindPropagation.Length > 0 || m.BindCreateMountpoint || m.BindNonRecursive)
            ? new MountBindOptionsDto { Propagation = m.BindPropagation, CreateMountpoint = m.BindCreateMountpoint, NonRecursive = m.BindNonRecursive }
            : null,
        VolumeOptions = m.Type == "volume" && (m.VolumeNoCopy || m.VolumeLabels.Count > 0 || m.VolumeDriver.Length > 0 || m.VolumeDriverOptions.Count > 0)
            ? new MountVolumeOptionsDto { NoCopy = m.VolumeNoCopy, Labels = m.VolumeLabels, DriverConfig = new MountDriverConfigDto { Name = m.VolumeDriver, Options = m.VolumeDriverOptions } }
            : null,
        TmpfsOptions = m.Type == "tmpfs" && (m.TmpfsSize != 0 || m.TmpfsMode != 0) ? new MountTmpfsOptionsDto { SizeBytes = m.TmpfsSize, Mode = m.TmpfsMode } : null,
    }, VolumeJson.Default.MountDto)).ToList();

    /// <summary>A container's resolved mounts in inspect's and the list's <c>Mounts</c> shape.</summary>
    internal static List<JsonElement> MountPoints(IEnumerable<MountPoint> mounts) => mounts.Select(m => JsonSerializer.SerializeToElement(new MountPointDto
    {
        Type = m.Type,
        Name = m.Name,
        Source = m.Source,
        Destination = m.Destination,
        Driver = m.Driver,
        Mode = m.Mode,
        RW = m.RW,
        Propagation = m.Propagation,
    }, VolumeJson.Default.MountPointDto)).ToList();
}
