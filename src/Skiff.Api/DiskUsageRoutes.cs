using System.Globalization;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;

namespace Skiff.Api;

/// <summary>
/// <c>GET /system/df</c> (<c>docker system df</c>): images with their shared sizes and container counts, containers
/// with their writable-layer sizes, volumes with their sizes and users, and the build cache records; <c>type=</c>
/// (API 1.42+) limits the answer to the kinds asked for.
/// </summary>
internal static class DiskUsageRoutes
{
    public static void Map(IEndpointRouteBuilder app, Daemon.Daemon d)
    {
        app.MapGet("/system/df", Errors.Handle(async ctx =>
        {
            var types = ctx.Request.Query["type"].Where(t => !string.IsNullOrEmpty(t)).Select(t => t!).ToHashSet(StringComparer.Ordinal);
            foreach (var t in types)
                if (t is not ("container" or "image" or "volume" or "build-cache"))
                    throw new BadRequestException($"invalid type: {t}");
            bool Want(string t) => types.Count == 0 || types.Contains(t);
            var dto = new DiskUsageDto();
            if (Want("image"))
            {
                var (images, layersSize) = d.Images.DiskUsage();
                var users = d.ImageUsers();
                dto.LayersSize = layersSize;
                dto.Images = images.OrderByDescending(x => x.Image.Created).Select(x => new ImageSummaryDto
                {
                    Id = x.Image.Id,
                    ParentId = x.Image.Parent,
                    RepoTags = x.Image.RepoTags.ToList(),
                    RepoDigests = x.Image.RepoDigests.ToList(),
                    Created = x.Image.Created.ToUnixTimeSeconds(),
                    Size = x.Image.Size,
                    VirtualSize = x.Image.Size,
                    SharedSize = x.SharedSize,
                    Labels = x.Image.Config.Labels.ToDictionary(),
                    Containers = users.GetValueOrDefault(x.Image.Id),
                }).ToList();
            }
            if (Want("container"))
            {
                var now = DateTimeOffset.UtcNow;
                dto.Containers = d.Containers.All.OrderByDescending(c => c.Record.Created).Select(c =>
                {
                    var summary = Mapping.Summary(c, now);
                    (summary.SizeRw, summary.SizeRootFs) = d.Size(c);
                    return summary;
                }).ToList();
            }
            if (Want("volume")) dto.Volumes = VolumeRoutes.DiskUsage(d);
            if (Want("build-cache"))
                dto.BuildCache = d.BuildCacheUsage().Select(b => new BuildCacheDto
                {
                    ID = b.Id,
                    Type = b.Type,
                    Description = b.Type == "regular" ? "image " + b.ImageId : b.Description,
                    InUse = b.InUse,
                    Shared = b.Shared,
                    Size = b.Size,
                    CreatedAt = b.Created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture),
                    LastUsedAt = b.Created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture),
                    UsageCount = 1,
                }).ToList();
            await SystemRoutes.WriteJson(ctx, dto, DiskUsageJson.Default.DiskUsageDto).ConfigureAwait(false);
        }));
    }
}

internal sealed class DiskUsageDto
{
    public long LayersSize { get; set; }
    public List<ImageSummaryDto>? Images { get; set; }
    public List<ContainerSummaryDto>? Containers { get; set; }
    public List<VolumeDto>? Volumes { get; set; }
    public List<BuildCacheDto>? BuildCache { get; set; }
}

/// <summary>One build cache record as Docker reports it (the classic builder's cache: one record per cached step).</summary>
internal sealed class BuildCacheDto
{
    public string ID { get; set; } = "";
    public string Type { get; set; } = "";
    public string Description { get; set; } = "";
    public bool InUse { get; set; }
    public bool Shared { get; set; }
    public long Size { get; set; }
    public string CreatedAt { get; set; } = "";
    public string LastUsedAt { get; set; } = "";
    public int UsageCount { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DiskUsageDto))]
internal sealed partial class DiskUsageJson : JsonSerializerContext;
