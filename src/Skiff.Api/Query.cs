using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Skiff.Api;

/// <summary>Query-string parsing with Docker's conventions ("1"/"true" are true; filters are JSON).</summary>
internal static class Query
{
    public static string? Str(HttpContext ctx, string name)
    {
        var v = ctx.Request.Query[name];
        return v.Count == 0 ? null : v[^1];
    }

    public static bool Bool(HttpContext ctx, string name, bool fallback = false)
    {
        var v = Str(ctx, name);
        if (v is null) return fallback;
        return v is "1" || v.Equals("true", StringComparison.OrdinalIgnoreCase);
    }

    public static int? Int(HttpContext ctx, string name)
    {
        var v = Str(ctx, name);
        if (string.IsNullOrEmpty(v)) return null;
        if (!int.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
            throw new BadRequestException($"invalid value for {name}: {v}");
        return n;
    }

    /// <summary>Docker's filters: {"key":["v1","v2"]}, or the older {"key":{"v1":true}}.</summary>
    public static Dictionary<string, List<string>> Filters(HttpContext ctx)
    {
        var raw = Str(ctx, "filters");
        if (string.IsNullOrEmpty(raw)) return [];
        try
        {
            return JsonSerializer.Deserialize(raw, ApiJson.Default.DictionaryStringListString) ?? [];
        }
        catch (JsonException)
        {
            try
            {
                var old = JsonSerializer.Deserialize(raw, ApiJson.Default.DictionaryStringDictionaryStringBoolean) ?? [];
                return old.ToDictionary(kv => kv.Key, kv => kv.Value.Where(x => x.Value).Select(x => x.Key).ToList());
            }
            catch (JsonException e)
            {
                throw new BadRequestException("invalid filters: " + e.Message);
            }
        }
    }

    /// <summary>A time given as Unix seconds (with optional fraction) or RFC 3339, as docker logs --since sends it.</summary>
    public static DateTimeOffset? Time(HttpContext ctx, string name)
    {
        var v = Str(ctx, name);
        if (string.IsNullOrEmpty(v) || v == "0") return null;
        if (decimal.TryParse(v, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var secs))
            return DateTimeOffset.UnixEpoch.AddTicks((long)(secs * TimeSpan.TicksPerSecond));
        if (DateTimeOffset.TryParse(v, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)) return t;
        throw new BadRequestException($"invalid value for {name}: {v}");
    }
}
