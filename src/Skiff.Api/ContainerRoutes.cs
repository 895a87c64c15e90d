using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Skiff.Daemon;

namespace Skiff.Api;

/// <summary>/containers/...: create, start, stop, kill, restart, wait, attach, logs, inspect, list, remove.</summary>
internal static class ContainerRoutes
{
    public static void Map(IEndpointRouteBuilder app, Daemon.Daemon d)
    {
        app.MapPost("/containers/create", Errors.Handle(async ctx =>
        {
            var body = await JsonSerializer.DeserializeAsync(ctx.Request.Body, ApiJson.Default.CreateBody, ctx.RequestAborted).ConfigureAwait(false)
                ?? throw new BadRequestException("config cannot be empty in order to create a container");
            var record = d.Create(new CreateContainerRequest
            {
                Name = Query.Str(ctx, "name"),
                Config = Mapping.ToCore(body),
                HostConfig = Mapping.ToCore(body.HostConfig),
                Endpoints = NetworkRoutes.Endpoints(body.NetworkingConfig),
            });
            await SystemRoutes.WriteJson(ctx, new IdResponse { Id = record.Id }, ApiJson.Default.IdResponse, 201).ConfigureAwait(false);
        }));

        app.MapGet("/containers/json", Errors.Handle(async ctx =>
        {
            var all = Query.Bool(ctx, "all");
            var limit = Query.Int(ctx, "limit") ?? -1;
            var filters = Query.Filters(ctx);
            var now = DateTimeOffset.UtcNow;
            IEnumerable<Container> list = d.Containers.All.OrderByDescending(c => c.Record.Created);
            if (!all && limit <= 0 && !filters.ContainsKey("status")) list = list.Where(c => c.Record.State.Running);
            var ancestors = AncestorIds(d, filters);
            list = list.Where(c => Matches(c.Record, filters, ancestors) && Relative(d, c, filters));
            if (limit > 0) list = list.Take(limit);
            var size = Query.Bool(ctx, "size");
            var linkNames = d.LinkNamesByChild();
            var result = list.Select(c =>
            {
                var summary = Mapping.Summary(c, now);
                // As dockerd: a linked container is also listed by its link names ("/parent/alias"), all sorted.
                if (linkNames.TryGetValue(c.Id, out var extra)) summary.Names = [.. summary.Names.Concat(extra).Order(StringComparer.Ordinal)];
                if (size) (summary.SizeRw, summary.SizeRootFs) = d.Size(c);
                return summary;
            }).ToList();
            await SystemRoutes.WriteJson(ctx, result, ApiJson.Default.ListContainerSummaryDto).ConfigureAwait(false);
        }));

        app.MapGet("/containers/{id}/json", Errors.Handle(async ctx =>
        {
            var c = d.Containers.Get(Id(ctx));
            await SystemRoutes.WriteJson(ctx, Mapping.Inspect(d, c), ApiJson.Default.ContainerInspectDto).ConfigureAwait(false);
        }));

        app.MapPost("/containers/{id}/start", Errors.Handle(async ctx =>
        {
            await d.StartAsync(Id(ctx), ctx.RequestAborted).ConfigureAwait(false);
            ctx.Response.StatusCode = 204;
        }));

        app.MapPost("/containers/{id}/stop", Errors.Handle(async ctx =>
        {
            await d.StopAsync(Id(ctx), Query.Int(ctx, "t"), Query.Str(ctx, "signal")).ConfigureAwait(false);
            ctx.Response.StatusCode = 204;
        }));

        app.MapPost("/containers/{id}/restart", Errors.Handle(async ctx =>
        {
            await d.RestartAsync(Id(ctx), Query.Int(ctx, "t"), Query.Str(ctx, "signal")).ConfigureAwait(false);
            ctx.Response.StatusCode = 204;
        }));

        app.MapPost("/containers/{id}/kill", Errors.Handle(async ctx =>
        {
            await d.KillAsync(Id(ctx), Query.Str(ctx, "signal")).ConfigureAwait(false);
            ctx.Response.StatusCode = 204;
        }));

        app.MapPost("/containers/{id}/rename", Errors.Handle(async ctx =>
        {
            await d.RenameAsync(Id(ctx), Query.Str(ctx, "name") ?? "").ConfigureAwait(false);
            ctx.Response.StatusCode = 204;
        }));

        app.MapPost("/containers/prune", Errors.Handle(async ctx =>
        {
            var filters = Query.Filters(ctx);
            foreach (var key in filters.Keys)
                if (key is not ("label" or "label!" or "until")) throw new BadRequestException($"invalid filter '{key}'");
            var until = filters.TryGetValue("until", out var u) && u.Count > 0 ? ParseUntil(u[0]) : (DateTimeOffset?)null;
            var (removed, reclaimed) = await d.PruneContainersAsync(r =>
                (until is null || r.Created < until) &&
                Matches(r, filters.Where(f => f.Key == "label").ToDictionary()) &&
                !(filters.TryGetValue("label!", out var not) && not.Any(v => LabelMatches(r, v)))).ConfigureAwait(false);
            var body = new PruneDto { ContainersDeleted = [.. removed], SpaceReclaimed = reclaimed };
            await SystemRoutes.WriteJson(ctx, body, ApiJson.Default.PruneDto).ConfigureAwait(false);
        }));

        app.MapPost("/containers/{id}/pause", Errors.Handle(async ctx =>
        {
            await d.PauseAsync(Id(ctx)).ConfigureAwait(false);
            ctx.Response.StatusCode = 204;
        }));

        app.MapPost("/containers/{id}/unpause", Errors.Handle(async ctx =>
        {
            await d.UnpauseAsync(Id(ctx)).ConfigureAwait(false);
            ctx.Response.StatusCode = 204;
        }));

        app.MapGet("/containers/{id}/top", Errors.Handle(async ctx =>
        {
            var top = await d.TopAsync(Id(ctx), Query.Str(ctx, "ps_args")).ConfigureAwait(false);
            var body = new TopDto { Titles = [.. top.Titles], Processes = top.Processes.Select(p => p.ToList()).ToList() };
            await SystemRoutes.WriteJson(ctx, body, ApiJson.Default.TopDto).ConfigureAwait(false);
        }));

        // {**id}: a link name to remove (rm --link) is "parent/alias", sent unescaped as dockerd expects.
        app.MapDelete("/containers/{**id}", Errors.Handle(async ctx =>
        {
            // A client that escapes the link name's "/" sends %2F, which routing leaves encoded.
            if (Query.Bool(ctx, "link")) await d.RemoveLinkAsync(Uri.UnescapeDataString(Id(ctx))).ConfigureAwait(false);
            else await d.RemoveAsync(Id(ctx), Query.Bool(ctx, "force"), Query.Bool(ctx, "v")).ConfigureAwait(false);
            ctx.Response.StatusCode = 204;
        }));

        app.MapPost("/containers/{id}/wait", Errors.Handle(async ctx =>
        {
            var condition = Query.Str(ctx, "condition") switch
            {
                null or "" or "not-running" => WaitCondition.NotRunning,
                "next-exit" => WaitCondition.NextExit,
                "removed" => WaitCondition.Removed,
                var other => throw new BadRequestException($"invalid condition: \"{other}\""),
            };
            var wait = d.Wait(Id(ctx), condition);
            // The headers go out now: the client learns the wait is registered before it starts the container.
            ctx.Response.StatusCode = 200;
            ctx.Response.Headers.ContentType = "application/json";
            await ctx.Response.Body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
            var result = await wait.WaitAsync(ctx.RequestAborted).ConfigureAwait(false);
            var body = new WaitResponseDto { StatusCode = result.StatusCode, Error = result.Error is null ? null : new WaitErrorDto { Message = result.Error } };
            await JsonSerializer.SerializeAsync(ctx.Response.Body, body, ApiJson.Default.WaitResponseDto).ConfigureAwait(false);
        }));

        app.MapPost("/containers/{id}/attach", Errors.Handle(async ctx =>
        {
            var c = d.Containers.Get(Id(ctx));
            var options = new AttachOptions
            {
                Stdin = Query.Bool(ctx, "stdin"),
                Stdout = Query.Bool(ctx, "stdout"),
                Stderr = Query.Bool(ctx, "stderr"),
                DetachKeys = Query.Str(ctx, "detachKeys"),
            };
            var contentType = c.Record.Config.Tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
            var upgrade = ctx.Features.Get<IHttpUpgradeFeature>();
            var upgradable = upgrade is { IsUpgradableRequest: true };
            // Docker hijacks the connection whether or not the client asked for an upgrade (old clients
            // send no Upgrade header and read a raw 200 response); only without a raw connection at all
            // is the response body one-way, with no stdin.
            var hijack = upgradable || HalfCloseConnection.CanHijack(ctx);
            var session = d.BeginAttach(c.Id, hijack ? options : new AttachOptions { Stdout = options.Stdout, Stderr = options.Stderr });
            var raw = upgradable ? null : await HalfCloseConnection.HijackAsync(ctx, contentType).ConfigureAwait(false);
            if (raw is not null)
            {
                try
                {
                    await session.RunAsync(raw, CancellationToken.None).ConfigureAwait(false);
                    await raw.FlushAsync().ConfigureAwait(false);
                }
                finally
                {
                    await HalfCloseConnection.EndHijackAsync(ctx).ConfigureAwait(false);
                }
                return;
            }
            if (upgradable)
            {
                ctx.Response.Headers.ContentType = contentType;
                ctx.Response.Headers.Connection = "Upgrade";
                ctx.Response.Headers.Upgrade = "tcp";
                HalfCloseConnection.MarkHijacked(ctx);
                var stream = await upgrade!.UpgradeAsync().ConfigureAwait(false);
                // RequestAborted is not meaningful once the connection is upgraded: the end of the
                // client's stream is what ends the attach.
                await session.RunAsync(stream, CancellationToken.None).ConfigureAwait(false);
                await stream.FlushAsync().ConfigureAwait(false);
                return;
            }
            ctx.Response.Headers.ContentType = contentType;
            await ctx.Response.StartAsync().ConfigureAwait(false);
            await session.RunAsync(ctx.Response.Body, ctx.RequestAborted).ConfigureAwait(false);
        }));

        app.MapPost("/containers/{id}/resize", Errors.Handle(async ctx =>
        {
            await d.ResizeAsync(Id(ctx), Query.Int(ctx, "h") ?? 0, Query.Int(ctx, "w") ?? 0).ConfigureAwait(false);
            ctx.Response.StatusCode = 200;
        }));

        app.MapGet("/containers/{id}/logs", Errors.Handle(async ctx =>
        {
            var c = d.Containers.Get(Id(ctx));
            var stdout = Query.Bool(ctx, "stdout");
            var stderr = Query.Bool(ctx, "stderr");
            if (!stdout && !stderr) throw new BadRequestException("Bad parameters: you must choose at least one stream");
            var tailText = Query.Str(ctx, "tail");
            var tail = -1;
            if (!string.IsNullOrEmpty(tailText) && tailText != "all" &&
                (!int.TryParse(tailText, NumberStyles.None, CultureInfo.InvariantCulture, out tail))) tail = -1;
            var options = new LogsOptions
            {
                Stdout = stdout,
                Stderr = stderr,
                Follow = Query.Bool(ctx, "follow"),
                Tail = tail,
                Since = Query.Time(ctx, "since"),
                Until = Query.Time(ctx, "until"),
            };
            var timestamps = Query.Bool(ctx, "timestamps");
            var details = Query.Bool(ctx, "details");
            var tty = c.Record.Config.Tty;
            var entries = d.LogsAsync(c.Id, options, ctx.RequestAborted);
            await using var e = entries.GetAsyncEnumerator(ctx.RequestAborted);
            var has = await e.MoveNextAsync().ConfigureAwait(false); // errors surface before the headers are sent
            ctx.Response.StatusCode = 200;
            ctx.Response.Headers.ContentType = tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
            var body = ctx.Response.BodyWriter;
            var pending = 0;
            while (has)
            {
                var entry = e.Current;
                var prefix = timestamps ? Encoding.ASCII.GetBytes(entry.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'00Z' ", CultureInfo.InvariantCulture)) : [];
                // details: dockerd puts the entry's log attributes (none are recorded here) and a space before the line.
                if (details) prefix = [.. prefix, (byte)' '];
                var length = prefix.Length + entry.Line.Length;
                if (!tty)
                {
                    var header = body.GetSpan(8);
                    header[0] = entry.Stderr ? (byte)2 : (byte)1;
                    header[1] = header[2] = header[3] = 0;
                    BinaryPrimitives.WriteInt32BigEndian(header[4..], length);
                    body.Advance(8);
                }
                if (prefix.Length > 0) body.Write(prefix.AsSpan());
                body.Write(entry.Line.AsSpan());
                pending += length;
                // Flush in batches while catching up; per entry once the reader is waiting for new lines.
                var moving = e.MoveNextAsync();
                if (pending > 32 * 1024 || !moving.IsCompleted)
                {
                    await body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
                    pending = 0;
                }
                has = await moving.ConfigureAwait(false);
            }
            await body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
        }));
    }

    private static string Id(HttpContext ctx) => (string)ctx.Request.RouteValues["id"]!;

    /// <summary>The before/since filters: containers created before or after the named one.</summary>
    private static bool Relative(Daemon.Daemon d, Container c, Dictionary<string, List<string>> filters)
    {
        if (filters.TryGetValue("before", out var before) && before.Count > 0 && !before.All(v => c.Record.Created < d.Containers.Get(v).Record.Created)) return false;
        if (filters.TryGetValue("since", out var since) && since.Count > 0 && !since.All(v => c.Record.Created > d.Containers.Get(v).Record.Created)) return false;
        return true;
    }

    /// <summary>The image IDs the "ancestor" filter values name (a name, tag, digest or ID prefix the image store resolves).</summary>
    private static HashSet<string> AncestorIds(Daemon.Daemon d, Dictionary<string, List<string>> filters)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var v in filters.GetValueOrDefault("ancestor") ?? [])
        {
            try { ids.Add(d.Images.Get(v).Id); }
            catch (DaemonException) { }
        }
        return ids;
    }

    /// <summary>
    /// "publish" and "expose": a container port or range with an optional protocol (<c>80</c>, <c>8000-8080/udp</c>;
    /// tcp by default) among the container's published ports, or its exposed and published ones.
    /// </summary>
    private static bool PortFilterMatches(ContainerRecord r, string key, string value)
    {
        var slash = value.IndexOf('/');
        var proto = slash < 0 ? "tcp" : value[(slash + 1)..];
        var range = slash < 0 ? value : value[..slash];
        var dash = range.IndexOf('-');
        if (!int.TryParse(dash < 0 ? range : range[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var low) ||
            !int.TryParse(dash < 0 ? range : range[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var high))
            throw new BadRequestException($"invalid port '{range}' in {key} filter");
        IEnumerable<string> ports = r.HostConfig.PortBindings.Keys.Concat(r.Ports.Keys);
        if (key == "expose") ports = ports.Concat(r.Config.ExposedPorts);
        foreach (var p in ports)
        {
            var ps = p.Split('/', 2);
            var pproto = ps.Length > 1 ? ps[1] : "tcp";
            if (pproto == proto && int.TryParse(ps[0], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= low && n <= high) return true;
        }
        return false;
    }

    private static readonly string[] Statuses = ["created", "restarting", "running", "removing", "paused", "exited", "dead"];
    private static readonly string[] Healths = ["starting", "healthy", "unhealthy", "none"];

    /// <summary>
    /// dockerd's "name" filter: a regular expression searched in the name with and without its leading slash, so both
    /// "^/web$" and "^web$" are exact; a value that is no valid expression matches as plain text.
    /// </summary>
    private static bool NameMatches(string name, string pattern)
    {
        try
        {
            var re = new System.Text.RegularExpressions.Regex(pattern, System.Text.RegularExpressions.RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            return re.IsMatch("/" + name) || re.IsMatch(name);
        }
        catch (ArgumentException)
        {
            return ("/" + name).Contains(pattern, StringComparison.Ordinal);
        }
    }

    private static bool LabelMatches(ContainerRecord r, string filter)
    {
        var kv = filter.Split('=', 2);
        return r.Config.Labels.TryGetValue(kv[0], out var val) && (kv.Length == 1 || val == kv[1]);
    }

    /// <summary>An "until" filter: Unix seconds, RFC 3339, or a duration such as "24h" before now.</summary>
    private static DateTimeOffset ParseUntil(string v)
    {
        if (long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var secs)) return DateTimeOffset.FromUnixTimeSeconds(secs);
        if (DateTimeOffset.TryParse(v, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)) return t;
        if (v.Length > 1 && double.TryParse(v[..^1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n))
        {
            var span = v[^1] switch { 's' => TimeSpan.FromSeconds(n), 'm' => TimeSpan.FromMinutes(n), 'h' => TimeSpan.FromHours(n), _ => (TimeSpan?)null };
            if (span is { } s) return DateTimeOffset.UtcNow - s;
        }
        throw new BadRequestException($"invalid until filter: {v}");
    }

    private static bool Matches(ContainerRecord r, Dictionary<string, List<string>> filters, IReadOnlySet<string>? ancestors = null)
    {
        foreach (var (key, values) in filters)
        {
            if (values.Count == 0) continue;
            var ok = key switch
            {
                "id" => values.Any(v => r.Id.StartsWith(v, StringComparison.Ordinal)),
                "name" => values.Any(v => NameMatches(r.Name, v)),
                "status" => values.Any(v => Statuses.Contains(v) ? v == Mapping.StatusName(r.State.Status) : throw new BadRequestException($"invalid filter 'status={v}'")),
                "exited" => r.State.Status == ContainerStatus.Exited && values.Any(v => v == r.State.ExitCode.ToString(CultureInfo.InvariantCulture)),
                "label" => values.All(v => LabelMatches(r, v)),
                "volume" => values.Any(v => r.MountPoints.Any(m => m.Name == v || m.Destination == v)),
                "health" => values.Any(v => Healths.Contains(v) ? v == (r.State.Health?.Status ?? "none") : throw new BadRequestException($"Unrecognised filter value for health: {v}")),
                "network" => values.Any(v => r.Networks.ContainsKey(v) || r.Networks.Values.Any(n => n.NetworkId.Length > 0 && n.NetworkId.StartsWith(v, StringComparison.Ordinal))),
                // Swarm tasks: a daemon without swarm has none.
                "is-task" => values.Any(v => v == "false"),
                "publish" or "expose" => values.Any(v => PortFilterMatches(r, key, v)),
                "before" or "since" => true,
                "ancestor" => (ancestors?.Contains(r.ImageId) ?? false) || values.Any(v => r.Config.Image == v || r.ImageId == v || r.ImageId.StartsWith("sha256:" + v, StringComparison.Ordinal)),
                _ => throw new BadRequestException($"invalid filter '{key}'"),
            };
            if (!ok) return false;
        }
        return true;
    }
}
