using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Skiff.Daemon;

namespace Skiff.Api;

internal sealed class EventActorDto
{
    public string ID { get; set; } = "";
    public Dictionary<string, string> Attributes { get; set; } = [];
}

/// <summary>Docker's event message, with the legacy status/id/from fields for containers and images.</summary>
internal sealed class EventMessageDto
{
    [JsonPropertyName("status"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Status { get; set; }
    [JsonPropertyName("id"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Id { get; set; }
    [JsonPropertyName("from"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? From { get; set; }
    public string Type { get; set; } = "";
    public string Action { get; set; } = "";
    public EventActorDto Actor { get; set; } = new();
    [JsonPropertyName("scope")] public string Scope { get; set; } = "local";
    [JsonPropertyName("time")] public long Time { get; set; }
    [JsonPropertyName("timeNano")] public long TimeNano { get; set; }
}

[JsonSerializable(typeof(EventMessageDto))]
internal sealed partial class EventJson : JsonSerializerContext;

/// <summary>
/// GET /events: past events from the bus's ring buffer from <c>since</c>, then live ones until
/// <c>until</c> (or until the client leaves), one JSON object per line, filtered by type,
/// container, image, event, label, network, volume, daemon.
/// </summary>
internal static class EventRoutes
{
    public static void Map(IEndpointRouteBuilder app, Daemon.Daemon d)
    {
        app.MapGet("/events", Errors.Handle(async ctx =>
        {
            var filters = Query.Filters(ctx);
            foreach (var key in filters.Keys)
                if (key is not ("type" or "container" or "image" or "event" or "label" or "network" or "volume" or "daemon" or "scope" or "node" or "service" or "secret" or "config" or "plugin"))
                    throw new BadRequestException($"invalid filter '{key}'");
            var since = Nanos(Query.Str(ctx, "since"), "since");
            var until = Nanos(Query.Str(ctx, "until"), "until");
            var now = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;
            if (since is { } s && until is { } u && s > u) throw new BadRequestException("`since` time cannot be after `until` time");

            using var sub = d.Events.Subscribe(since);
            ctx.Response.StatusCode = 200;
            ctx.Response.Headers.ContentType = "application/json";
            await ctx.Response.Body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
            foreach (var e in sub.Past)
            {
                if (until is { } u0 && e.TimeNano > u0) return;
                if (Matches(e, filters)) await WriteAsync(ctx, e).ConfigureAwait(false);
            }
            await ctx.Response.Body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
            if (until is { } u1 && u1 <= now) return;

            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
            if (until is { } u2) deadline.CancelAfter(TimeSpan.FromTicks(Math.Max(0, (u2 - now) / 100)));
            try
            {
                while (await sub.Live.WaitToReadAsync(deadline.Token).ConfigureAwait(false))
                {
                    while (sub.Live.TryRead(out var e))
                    {
                        if (until is { } u3 && e.TimeNano > u3) return;
                        if (Matches(e, filters)) await WriteAsync(ctx, e).ConfigureAwait(false);
                    }
                    await ctx.Response.Body.FlushAsync(deadline.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (!ctx.RequestAborted.IsCancellationRequested)
            {
                // until reached
            }
        }));
    }

    private static async Task WriteAsync(HttpContext ctx, EngineEvent e)
    {
        var legacy = e.Type is "container" or "image";
        var dto = new EventMessageDto
        {
            Status = legacy ? e.Action : null,
            Id = legacy ? e.ActorId : null,
            From = e.Type == "container" && e.Attributes.TryGetValue("image", out var image) ? image : null,
            Type = e.Type,
            Action = e.Action,
            Actor = new EventActorDto { ID = e.ActorId, Attributes = new Dictionary<string, string>(e.Attributes) },
            Time = e.Time,
            TimeNano = e.TimeNano,
        };
        await JsonSerializer.SerializeAsync(ctx.Response.Body, dto, EventJson.Default.EventMessageDto, ctx.RequestAborted).ConfigureAwait(false);
        await ctx.Response.Body.WriteAsync("\n"u8.ToArray(), ctx.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Docker's since/until: Unix seconds with an optional fraction of up to 9 digits, or RFC 3339.</summary>
    private static long? Nanos(string? v, string name)
    {
        if (string.IsNullOrEmpty(v)) return null;
        var parts = v.Split('.', 2);
        if (long.TryParse(parts[0], System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var secs))
        {
            long frac = 0;
            if (parts.Length == 2)
            {
                var digits = parts[1].PadRight(9, '0')[..9];
                if (!long.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out frac))
                    throw new BadRequestException($"invalid value for {name}: {v}");
            }
            return secs * 1_000_000_000 + frac;
        }
        if (DateTimeOffset.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t))
            return (t - DateTimeOffset.UnixEpoch).Ticks * 100;
        throw new BadRequestException($"invalid value for {name}: {v}");
    }

    /// <summary>Docker's event filters: OR within one key, AND across keys.</summary>
    internal static bool Matches(EngineEvent e, Dictionary<string, List<string>> filters)
    {
        foreach (var (key, values) in filters)
        {
            if (values.Count == 0) continue;
            var name = e.Attributes.GetValueOrDefault("name", "");
            var ok = key switch
            {
                "type" => values.Contains(e.Type),
                "event" => values.Any(v => e.Action == v || e.Action.StartsWith(v + ":", StringComparison.Ordinal)),
                "container" => e.Type == "container" && values.Any(v => ActorIs(e, name, v)),
                "image" => values.Any(v => ImageIs(e, name, v)),
                "network" => e.Type == "network" && values.Any(v => ActorIs(e, name, v)),
                "volume" => e.Type == "volume" && values.Any(v => ActorIs(e, name, v)),
                "daemon" => e.Type == "daemon" && values.Any(v => ActorIs(e, name, v)),
                "label" => values.Any(v =>
                {
                    var kv = v.Split('=', 2);
                    return e.Attributes.TryGetValue(kv[0], out var val) && (kv.Length == 1 || val == kv[1]);
                }),
                "scope" => values.Contains("local"),
                _ => false,
            };
            if (!ok) return false;
        }
        return true;
    }

    private static bool ImageIs(EngineEvent e, string name, string v)
    {
        if (e.Type == "image") return ActorIs(e, name, v) || SameReference(name, v);
        return e.Type == "container" && e.Attributes.TryGetValue("image", out var image) && SameReference(image, v);
    }

    private static bool SameReference(string a, string b) =>
        a == b || a == b + ":latest" || b == a + ":latest" || a.StartsWith(b + ":", StringComparison.Ordinal);

    private static bool ActorIs(EngineEvent e, string name, string v) =>
        e.ActorId == v || name == v.TrimStart('/') || (v.Length >= 1 && e.ActorId.StartsWith(v, StringComparison.Ordinal)) ||
        e.ActorId == "sha256:" + v || e.ActorId.StartsWith("sha256:" + v, StringComparison.Ordinal);
}
