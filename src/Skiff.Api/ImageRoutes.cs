using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Skiff.Daemon;

namespace Skiff.Api;

/// <summary>/images/...: import and pull (create), list, inspect, history, tag, remove, push and save (see <see cref="ImageTransferRoutes"/>).</summary>
internal static class ImageRoutes
{
    public static void Map(IEndpointRouteBuilder app, Daemon.Daemon d)
    {
        app.MapPost("/images/create", Errors.Handle(async ctx =>
        {
            var fromSrc = Query.Str(ctx, "fromSrc");
            if (fromSrc is null)
            {
                await ImageTransferRoutes.PullAsync(ctx, d).ConfigureAwait(false);
                return;
            }
            var repo = Query.Str(ctx, "repo");
            var tag = Query.Str(ctx, "tag");
            var reference = string.IsNullOrEmpty(repo) ? null : string.IsNullOrEmpty(tag) ? repo : $"{repo}:{tag}";
            var changes = ctx.Request.Query["changes"].Where(c => !string.IsNullOrEmpty(c)).Select(c => c!).ToList();
            if (fromSrc != "-")
            {
                await ImageTransferRoutes.ImportFromUrlAsync(ctx, d, fromSrc, reference, changes).ConfigureAwait(false);
                return;
            }
            var view = await d.Images.ImportAsync(ctx.Request.Body, reference, Query.Str(ctx, "message"), changes, ctx.RequestAborted).ConfigureAwait(false);
            ctx.Response.Headers.ContentType = "application/json";
            await JsonSerializer.SerializeAsync(ctx.Response.Body, new JsonMessageDto { Status = view.Id }, TransferJson.Default.JsonMessageDto).ConfigureAwait(false);
            await ctx.Response.WriteAsync("\r\n").ConfigureAwait(false);
        }));

        app.MapGet("/images/json", Errors.Handle(async ctx =>
        {
            // Without "all", intermediate images (untagged parents of other images, e.g. build steps) are hidden, as in Docker.
            var filters = Query.Filters(ctx);
            var images = d.Images.List();
            var parents = Query.Bool(ctx, "all") ? [] : images.Select(i => i.Parent).Where(p => p.Length > 0).ToHashSet(StringComparer.Ordinal);
            var list = images
                .Where(i => i.RepoTags.Count > 0 || i.RepoDigests.Count > 0 || !parents.Contains(i.Id))
                .Where(i => Matches(i, filters, d))
                .OrderByDescending(i => i.Created)
                .Select(i => (Image: i, Tags: ReferencesMatching(i.RepoTags, filters, ':'), Digests: ReferencesMatching(i.RepoDigests, filters, '@')))
                .Where(x => filters.GetValueOrDefault("reference") is not { Count: > 0 } || x.Tags.Count + x.Digests.Count > 0)
                .Select(x => new ImageSummaryDto
                {
                    Id = x.Image.Id,
                    ParentId = x.Image.Parent,
                    RepoTags = x.Tags,
                    RepoDigests = x.Digests,
                    Created = x.Image.Created.ToUnixTimeSeconds(),
                    Size = x.Image.Size,
                    VirtualSize = x.Image.Size,
                    SharedSize = -1,
                    Labels = x.Image.Config.Labels.ToDictionary(),
                    Containers = -1,
                })
                .ToList();
            await SystemRoutes.WriteJson(ctx, list, ApiJson.Default.ListImageSummaryDto).ConfigureAwait(false);
        }));

        // Image names contain slashes and colons, so the rest of the path is parsed here.
        app.MapMethods("/images/{**rest}", ["GET", "POST", "DELETE"], Errors.Handle(async ctx =>
        {
            // Routing leaves %2F encoded; clients that escape the whole name (slashes included) mean the same image.
            var rest = Uri.UnescapeDataString((string)ctx.Request.RouteValues["rest"]!);
            var method = ctx.Request.Method;
            if (method == "DELETE")
            {
                var items = d.RemoveImage(rest, Query.Bool(ctx, "force"), Query.Bool(ctx, "noprune"));
                var body = items.Select(x => new ImageDeleteDto { Untagged = x.Untagged, Deleted = x.Deleted }).ToList();
                await SystemRoutes.WriteJson(ctx, body, ApiJson.Default.ListImageDeleteDto).ConfigureAwait(false);
                return;
            }
            var slash = rest.LastIndexOf('/');
            var (name, verb) = slash < 0 ? (rest, "") : (rest[..slash], rest[(slash + 1)..]);
            switch (method, verb)
            {
                case ("GET", "json"):
                    await SystemRoutes.WriteJson(ctx, Inspect(d.Images.Get(name)), ApiJson.Default.ImageInspectDto).ConfigureAwait(false);
                    return;
                case ("GET", "history"):
                    var history = d.Images.History(name).Select(h => new ImageHistoryDto
                    {
                        Id = h.Id,
                        Created = h.Created.ToUnixTimeSeconds(),
                        CreatedBy = h.CreatedBy,
                        Comment = h.Comment,
                        Size = h.Size,
                        Tags = h.Tags.Count == 0 ? null : h.Tags.ToList(),
                    }).ToList();
                    await SystemRoutes.WriteJson(ctx, history, ApiJson.Default.ListImageHistoryDto).ConfigureAwait(false);
                    return;
                case ("POST", "push"):
                    await ImageTransferRoutes.PushAsync(ctx, d, name).ConfigureAwait(false);
                    return;
                case ("GET", "get"):
                    await ImageTransferRoutes.SaveAsync(ctx, d, [name]).ConfigureAwait(false);
                    return;
                case ("POST", "tag"):
                    var repo = Query.Str(ctx, "repo") ?? throw new BadRequestException("repository name must have at least one component");
                    var tag = Query.Str(ctx, "tag");
                    d.Images.Tag(name, string.IsNullOrEmpty(tag) ? repo : $"{repo}:{tag}");
                    ctx.Response.StatusCode = 201;
                    return;
                default:
                    await Errors.WriteAsync(ctx, 404, "page not found").ConfigureAwait(false);
                    return;
            }
        }));
    }

    private static bool Matches(ImageView i, Dictionary<string, List<string>> filters, Daemon.Daemon d)
    {
        foreach (var (key, values) in filters)
        {
            if (values.Count == 0) continue;
            var ok = key switch
            {
                "dangling" => values.Any(v => (v is "true" or "1") == (i.RepoTags.Count == 0)),
                // Narrowed to the matching names in ReferencesMatching.
                "reference" => true,
                "label" => values.All(v =>
                {
                    var kv = v.Split('=', 2);
                    return i.Config.Labels.TryGetValue(kv[0], out var val) && (kv.Length == 1 || val == kv[1]);
                }),
                "before" => values.Any(v => i.Created < d.Images.Get(v).Created),
                "since" => values.Any(v => i.Created > d.Images.Get(v).Created),
                _ => throw new BadRequestException($"invalid filter '{key}'"),
            };
            if (!ok) return false;
        }
        return true;
    }

    /// <summary>
    /// The names of an image a <c>reference</c> filter keeps, as dockerd lists them: only the tags (or digests) that match
    /// one of the patterns by Docker's FamiliarMatch (the pattern against the whole name and against the repository
    /// before <paramref name="separator"/>); all of them when there is no such filter.
    /// </summary>
    private static List<string> ReferencesMatching(IReadOnlyList<string> names, Dictionary<string, List<string>> filters, char separator)
    {
        if (!filters.TryGetValue("reference", out var patterns) || patterns.Count == 0) return names.ToList();
        return names.Where(n =>
        {
            int cut = n.LastIndexOf(separator);
            string repository = cut > 0 && n.IndexOf('/', cut) < 0 ? n[..cut] : n;
            return patterns.Any(p => GlobMatch(p, n) || GlobMatch(p, repository));
        }).ToList();
    }

    /// <summary>Shell-style pattern with * and ?, as Docker's reference filter uses.</summary>
    private static bool GlobMatch(string pattern, string text)
    {
        var regex = "^" + System.Text.RegularExpressions.Regex.Escape(pattern).Replace("\\*", "[^/]*").Replace("\\?", ".") + "$";
        return System.Text.RegularExpressions.Regex.IsMatch(text, regex);
    }

    private static ImageInspectDto Inspect(ImageView i)
    {
        var config = new ConfigDto
        {
            User = i.Config.User,
            Env = i.Config.Env.ToList(),
            Cmd = i.Config.Cmd,
            Entrypoint = i.Config.Entrypoint,
            WorkingDir = i.Config.WorkingDir,
            Labels = i.Config.Labels.ToDictionary(),
            StopSignal = i.Config.StopSignal,
            ExposedPorts = i.Config.ExposedPorts.Count == 0 ? null : Mapping.EmptyObjects(i.Config.ExposedPorts),
            Volumes = i.Config.Volumes.Count == 0 ? null : Mapping.EmptyObjects(i.Config.Volumes),
            Healthcheck = i.Config.Healthcheck is { } h
                ? new HealthConfigDto { Test = [.. h.Test], Interval = h.Interval, Timeout = h.Timeout, StartPeriod = h.StartPeriod, StartInterval = h.StartInterval, Retries = h.Retries }
                : null,
            OnBuild = i.Config.OnBuild?.ToList(),
            Shell = i.Config.Shell?.ToList(),
        };
        return new()
        {
            Id = i.Id,
            RepoTags = i.RepoTags.ToList(),
            RepoDigests = i.RepoDigests.ToList(),
            Parent = i.Parent,
            Comment = i.Comment,
            Created = Mapping.Time(i.Created),
            Author = i.Author,
            Architecture = i.Architecture,
            Os = i.Os,
            Size = i.Size,
            VirtualSize = i.Size,
            Config = config,
            ContainerConfig = config,
            RootFS = new RootFsDto { Layers = i.Layers.ToList() },
        };
    }
}
