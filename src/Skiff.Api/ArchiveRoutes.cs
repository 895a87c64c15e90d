using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Skiff.Daemon;

namespace Skiff.Api;

/// <summary>Docker's PathStat, sent base64-encoded in the X-Docker-Container-Path-Stat header.</summary>
internal sealed class PathStatDto
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("size")] public long Size { get; set; }
    [JsonPropertyName("mode")] public uint Mode { get; set; }
    [JsonPropertyName("mtime")] public string Mtime { get; set; } = "";
    [JsonPropertyName("linkTarget")] public string LinkTarget { get; set; } = "";
}

internal sealed class ChangeDto
{
    public string Path { get; set; } = "";
    public int Kind { get; set; }
}

[JsonSerializable(typeof(PathStatDto))]
[JsonSerializable(typeof(List<ChangeDto>))]
internal sealed partial class ArchiveJson : JsonSerializerContext;

/// <summary>
/// docker cp (HEAD/GET/PUT /containers/{id}/archive), docker export (GET /containers/{id}/export)
/// and docker diff (GET /containers/{id}/changes).
/// </summary>
internal static class ArchiveRoutes
{
    private const string StatHeader = "X-Docker-Container-Path-Stat";

    public static void Map(IEndpointRouteBuilder app, Daemon.Daemon d)
    {
        app.MapMethods("/containers/{id}/archive", ["HEAD"], Errors.Handle(async ctx =>
        {
            var stat = await d.StatPathAsync(Id(ctx), RequiredPath(ctx)).ConfigureAwait(false);
            ctx.Response.Headers[StatHeader] = Encode(stat);
            ctx.Response.StatusCode = 200;
        }));

        app.MapGet("/containers/{id}/archive", Errors.Handle(async ctx =>
        {
            await d.CopyFromAsync(Id(ctx), RequiredPath(ctx), stat =>
            {
                ctx.Response.StatusCode = 200;
                ctx.Response.Headers[StatHeader] = Encode(stat);
                ctx.Response.Headers.ContentType = "application/x-tar";
                return ctx.Response.Body;
            }).ConfigureAwait(false);
        }));

        app.MapPut("/containers/{id}/archive", Errors.Handle(async ctx =>
        {
            await d.CopyToAsync(Id(ctx), RequiredPath(ctx), ctx.Request.Body,
                Query.Bool(ctx, "noOverwriteDirNonDir"), Query.Bool(ctx, "copyUIDGID")).ConfigureAwait(false);
            ctx.Response.StatusCode = 200;
        }));

        app.MapGet("/containers/{id}/export", Errors.Handle(async ctx =>
        {
            var c = d.Containers.Get(Id(ctx));
            ctx.Response.StatusCode = 200;
            ctx.Response.Headers.ContentType = "application/x-tar";
            await d.ExportAsync(c.Id, ctx.Response.Body).ConfigureAwait(false);
        }));

        app.MapGet("/containers/{id}/changes", Errors.Handle(async ctx =>
        {
            var changes = d.Changes(Id(ctx)).Select(c => new ChangeDto { Path = c.Path, Kind = c.Kind }).ToList();
            await SystemRoutes.WriteJson(ctx, changes, ArchiveJson.Default.ListChangeDto).ConfigureAwait(false);
        }));
    }

    private static string Id(HttpContext ctx) => (string)ctx.Request.RouteValues["id"]!;

    private static string RequiredPath(HttpContext ctx) =>
        Query.Str(ctx, "path") is { Length: > 0 } p ? p : throw new BadRequestException("path cannot be empty");

    private static string Encode(ContainerPathStat s)
    {
        var dto = new PathStatDto
        {
            Name = s.Name,
            Size = s.Size,
            Mode = s.Mode,
            Mtime = s.Mtime.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", System.Globalization.CultureInfo.InvariantCulture),
            LinkTarget = s.LinkTarget,
        };
        return Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(dto, ArchiveJson.Default.PathStatDto));
    }
}
