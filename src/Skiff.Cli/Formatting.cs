using System.Text;
using System.Text.Json.Nodes;

namespace Skiff.Cli;

/// <summary>
/// Renders rows with a Docker <c>--format</c> string: a <c>table</c> prefix adds a header row
/// (the template evaluated over <c>headers</c>) and tabwriter alignment; literal <c>\t</c> and
/// <c>\n</c> in the format become tab and newline; <c>json</c> means <c>{{json .}}</c>.
/// Every row is followed by a newline.
/// </summary>
public static class Formatting
{
    /// <summary>Renders <paramref name="rows"/>; throws <see cref="TemplateException"/> for a bad template.</summary>
    public static string Render(string format, IEnumerable<JsonNode?> rows, JsonObject? headers)
    {
        bool table = false;
        string f = format;
        if (f.StartsWith("table", StringComparison.Ordinal) && (f.Length == 5 || char.IsWhiteSpace(f[5])))
        {
            table = true;
            f = f[5..];
        }
        f = f.Trim(' ');
        if (f == "json") f = "{{json .}}";
        f = f.Replace("\\t", "\t").Replace("\\n", "\n");
        var tmpl = GoTemplate.Parse(f);
        if (!table)
        {
            var sb = new StringBuilder();
            foreach (var row in rows) sb.Append(tmpl.Execute(row)).Append('\n');
            return sb.ToString();
        }
        var tw = new TabWriter();
        if (headers is not null) tw.Write(tmpl.Execute(headers) + "\n");
        foreach (var row in rows) tw.Write(tmpl.Execute(row) + "\n");
        return tw.Flush();
    }

    /// <summary>Docker's Ellipsis: text wider than <paramref name="max"/> runes is cut to max-1 plus "…".</summary>
    public static string Ellipsis(string s, int max)
    {
        var runes = s.EnumerateRunes().ToList();
        if (runes.Count <= max) return s;
        if (max <= 1) return string.Concat(runes.Take(max).Select(r => r.ToString()));
        return string.Concat(runes.Take(max - 1).Select(r => r.ToString())) + "…";
    }

    /// <summary>The short form of an ID: "sha256:" stripped, 12 characters.</summary>
    public static string ShortId(string id)
    {
        int colon = id.IndexOf(':');
        if (colon >= 0) id = id[(colon + 1)..];
        return id.Length > 12 ? id[..12] : id;
    }

    /// <summary>Go's default time.Time String form used by CreatedAt: "2026-11-23 16:54:14 +0000 UTC".</summary>
    public static string GoTime(DateTimeOffset t)
    {
        var local = t.ToLocalTime();
        string offset = local.Offset < TimeSpan.Zero ? "-" : "+";
        offset += local.Offset.Duration().ToString("hhmm", System.Globalization.CultureInfo.InvariantCulture);
        string zone = local.Offset == TimeSpan.Zero ? "UTC" : offset;
        return local.ToString("yyyy-MM-dd HH:mm:ss ", System.Globalization.CultureInfo.InvariantCulture) + offset + " " + zone;
    }
}
