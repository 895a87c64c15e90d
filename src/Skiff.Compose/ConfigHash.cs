using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Skiff.Compose;

/// <summary>
/// The <c>com.docker.compose.config-hash</c> label value, computed as docker-compose 1.29 computes it, so a project
/// brought up by docker-compose 1.29 and then by skiff compose (or the other way round) keeps its containers.
/// docker-compose 1.29 hashes (sha256, hex) the JSON of a dict with sorted keys and no spaces, ASCII only:
/// <c>options</c> (the service's mapping after its own normalisation), <c>image_id</c>, <c>links</c>, <c>net</c>,
/// <c>ipc_mode</c>, <c>networks</c>, <c>secrets</c> and <c>volumes_from</c>. <c>options</c> is the mapping as written
/// (YAML 1.1 types for plain scalars), without the keys it keeps elsewhere (networks, network_mode, links,
/// volumes_from, secrets, ipc, pid, deploy, scale, env_file, platform), with environment (env_file merged, bare keys
/// resolved), ports (<c>[target, published, protocol, mode, host_ip]</c>), volumes (<c>[source, target, mode]</c>
/// with absolute host paths and project volume names, or the long form), healthcheck durations (nanoseconds),
/// restart, labels, sysctls, depends_on, dns, dns_search and tmpfs normalised the way it does.
/// Matched against docker-compose 1.29.2 for those keys (tests/Skiff.Compose.Tests/testfiles/config-hash); a key it
/// translates otherwise (deploy resources, links, secrets, build) still changes the hash when it changes, but does
/// not give docker-compose's value.
/// </summary>
public static partial class ConfigHash
{
    /// <summary>The hash of <paramref name="s"/> in <paramref name="p"/> whose image has ID <paramref name="imageId"/> (null: no such image).</summary>
    public static string Compute(Project p, Service s, string? imageId)
        => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Json(ConfigDict(p, s, imageId)))));

    /// <summary>docker-compose 1.29's <c>Service.config_dict()</c> for the service.</summary>
    public static SortedDictionary<string, object?> ConfigDict(Project p, Service s, string? imageId)
    {
        var m = s.Definition ?? new YMap();
        var options = Dict();
        foreach (var (k, v) in m.Items)
        {
            switch (k)
            {
                case "networks" or "network_mode" or "links" or "volumes_from" or "secrets" or "ipc" or "pid" or "deploy"
                    or "scale" or "env_file" or "extends" or "platform" or "environment" or "volumes":
                    break;
                case "ports": options[k] = Ports(v); break;
                case "healthcheck": options[k] = Healthcheck(v); break;
                case "restart": options[k] = Restart(v); break;
                case "labels" or "sysctls": options[k] = KeyValues(v); break;
                case "depends_on": options[k] = DependsOn(v); break;
                case "dns" or "dns_search" or "tmpfs": options[k] = v is YScalar one ? new List<object?> { Value(one) } : Value(v); break;
                default:
                    if (!k.StartsWith("x-", StringComparison.Ordinal)) options[k] = Value(v);
                    break;
            }
        }
        if (m.Has("environment") || m.Has("env_file")) options["environment"] = Environment(s, m["environment"]);
        options["volumes"] = Volumes(p, s, m["volumes"]);
        options["device_requests"] = null;
        options["platform"] = m["platform"] is YScalar platform ? platform.Value : null;

        var d = Dict();
        d["options"] = options;
        d["image_id"] = imageId;
        d["links"] = new List<object?>();
        d["ipc_mode"] = m["ipc"] is YScalar ipc ? ipc.Value : null;
        d["secrets"] = new List<object?>();
        d["volumes_from"] = new List<object?>();
        var networks = Dict();
        if (s.NetworkMode is { } mode)
        {
            d["net"] = mode.StartsWith("service:", StringComparison.Ordinal) ? mode["service:".Length..] : mode;
        }
        else
        {
            var defs = m["networks"] as YMap;
            foreach (var key in s.Networks.Keys)
                networks[p.Networks[key].Name] = defs?[key] is YMap def ? Value(def) : Dict();
            // The primary network: the highest priority, else the first by name.
            var byPriority = s.Networks.Keys.Select(key => (Name: p.Networks[key].Name, Priority: defs?[key] is YMap def && def["priority"] is YScalar pr && long.TryParse(pr.Value, out long n) ? n : 0)).ToList();
            var primary = byPriority.Any(x => x.Priority != 0)
                ? byPriority.OrderByDescending(x => x.Priority).FirstOrDefault()
                : byPriority.OrderBy(x => x.Name, StringComparer.Ordinal).FirstOrDefault();
            d["net"] = primary.Name ?? "none";
        }
        d["networks"] = networks;
        return d;
    }

    private static SortedDictionary<string, object?> Dict() => new(StringComparer.Ordinal);

    /// <summary>A YAML value as PyYAML loads it: plain scalars become null, booleans, integers or floats when they read as one (YAML 1.1).</summary>
    public static object? Value(YNode? n)
    {
        switch (n)
        {
            case null: return null;
            case YMap map:
                var d = Dict();
                foreach (var (k, v) in map.Items) d[k] = Value(v);
                return d;
            case YSeq seq:
                return seq.Items.Select(Value).ToList();
            case YScalar s:
                if (s.Quoted || s.Interpolated) return s.Value;
                string t = s.Value;
                if (t is "" or "~" or "null" or "Null" or "NULL") return null;
                if (t is "true" or "True" or "TRUE" or "yes" or "Yes" or "YES" or "on" or "On" or "ON") return true;
                if (t is "false" or "False" or "FALSE" or "no" or "No" or "NO" or "off" or "Off" or "OFF") return false;
                if (IntPattern().IsMatch(t) && long.TryParse(t.Replace("_", ""), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
                if (FloatPattern().IsMatch(t) && double.TryParse(t.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture, out double f)) return f;
                return t;
            default:
                throw new InvalidOperationException("unknown YAML node");
        }
    }

    [GeneratedRegex("^[-+]?(0|[1-9][0-9_]*)$")]
    private static partial Regex IntPattern();

    [GeneratedRegex("^[-+]?([0-9][0-9_]*)?\\.[0-9_]*([eE][-+][0-9]+)?$")]
    private static partial Regex FloatPattern();

    /// <summary>env_file then environment, bare keys resolved (as loaded); values keep their YAML type in the mapping form.</summary>
    private static SortedDictionary<string, object?> Environment(Service s, YNode? raw)
    {
        var d = Dict();
        foreach (var (k, v) in s.Environment) d[k] = v;
        if (raw is YMap map)
            foreach (var (k, v) in map.Items)
                if (v is YScalar scalar) d[k] = Value(scalar);
        return d;
    }

    private static List<object?> Ports(YNode? raw)
    {
        var list = new List<object?>();
        foreach (var item in raw is YSeq seq ? seq.Items : [])
        {
            if (item is YMap m)
            {
                list.Add(new List<object?>
                {
                    Value(m["target"]),
                    m["published"] is YScalar pub && long.TryParse(pub.Value, out long pn) ? pn : Value(m["published"]),
                    Value(m["protocol"]), Value(m["mode"]), Value(m["host_ip"]),
                });
                continue;
            }
            if (item is not YScalar s) continue;
            // [[host_ip:]published:]target[/protocol], ports and published ports as single ports or ranges
            string spec = s.Value;
            string? protocol = null;
            int slash = spec.LastIndexOf('/');
            if (slash >= 0) { protocol = spec[(slash + 1)..]; spec = spec[..slash]; }
            int colon = spec.LastIndexOf(':');
            string target = colon >= 0 ? spec[(colon + 1)..] : spec;
            string? external = colon >= 0 ? spec[..colon] : null;
            string? hostIp = null;
            if (external is not null)
            {
                int c2 = external.LastIndexOf(':');
                if (c2 >= 0) { hostIp = external[..c2]; external = external[(c2 + 1)..]; }
                if (external.Length == 0) external = null;
            }
            var (t0, t1) = Range(target);
            var (p0, p1) = external is null ? (-1, -1) : Range(external);
            for (long t = t0; t <= t1; t++)
            {
                object? published = external is null ? null : p1 > p0 ? p0 + (t - t0) : (object)p0;
                list.Add(new List<object?> { t, published, protocol, null, hostIp });
            }
        }
        return list;
    }

    private static (long, long) Range(string s)
    {
        int dash = s.IndexOf('-');
        return dash < 0 ? (long.Parse(s, CultureInfo.InvariantCulture), long.Parse(s, CultureInfo.InvariantCulture))
            : (long.Parse(s[..dash], CultureInfo.InvariantCulture), long.Parse(s[(dash + 1)..], CultureInfo.InvariantCulture));
    }

    /// <summary>Short form: <c>[source, target, mode]</c> with the absolute host path, the project volume's name or null; long form as written with those sources.</summary>
    private static List<object?> Volumes(Project p, Service s, YNode? raw)
    {
        var list = new List<object?>();
        int i = 0;
        foreach (var item in raw is YSeq seq ? seq.Items : [])
        {
            var mount = i < s.Volumes.Count ? s.Volumes[i] : null;
            i++;
            string? source = mount switch
            {
                null => null,
                { Type: "volume", Source: { } key } => p.Volumes.TryGetValue(key, out var vol) ? vol.Name : key,
                _ => mount.Source,
            };
            if (item is YMap m)
            {
                var d = (SortedDictionary<string, object?>)Value(m)!;
                if (m.Has("source") && source is not null) d["source"] = source;
                list.Add(d);
            }
            else if (item is YScalar sc)
            {
                var (_, target, mode) = ProjectLoader.SplitVolumeSpec(sc.Value);
                list.Add(new List<object?> { source, target, mode ?? "rw" });
            }
        }
        return list;
    }

    private static object? Healthcheck(YNode? raw)
    {
        if (raw is not YMap m) return Value(raw);
        if (m["disable"] is YScalar dis && Value(dis) is true) return new SortedDictionary<string, object?>(StringComparer.Ordinal) { ["test"] = new List<object?> { "NONE" } };
        var d = Dict();
        foreach (var (k, v) in m.Items)
            d[k] = k is "interval" or "timeout" or "start_period" or "start_interval" && v is YScalar ? ProjectLoader.Duration(v, "healthcheck." + k) : Value(v);
        return d;
    }

    private static object? Restart(YNode? raw)
    {
        if (raw is not YScalar s) return Value(raw);
        var parts = s.Value.Split(':', 2);
        return new SortedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["Name"] = parts[0],
            ["MaximumRetryCount"] = parts.Length == 2 && long.TryParse(parts[1], out long n) ? n : 0L,
        };
    }

    /// <summary>labels and sysctls as a mapping; a key without a value (<c>- key</c>) has the empty string.</summary>
    private static object? KeyValues(YNode? raw)
    {
        if (raw is YMap map)
        {
            var m = Dict();
            foreach (var (k, v) in map.Items) m[k] = Value(v) ?? "";
            return m;
        }
        if (raw is not YSeq seq) return Value(raw);
        var d = Dict();
        foreach (var item in seq.Items)
        {
            if (item is not YScalar s) continue;
            int eq = s.Value.IndexOf('=');
            if (eq < 0) d[s.Value] = "";
            else d[s.Value[..eq]] = s.Value[(eq + 1)..];
        }
        return d;
    }

    private static object? DependsOn(YNode? raw)
    {
        if (raw is not YSeq seq) return Value(raw);
        var d = Dict();
        foreach (var item in seq.Items)
            if (item is YScalar s) d[s.Value] = new SortedDictionary<string, object?>(StringComparer.Ordinal) { ["condition"] = "service_started" };
        return d;
    }

    /// <summary>
    /// JSON as Python's <c>json.dumps(obj, sort_keys=True, separators=(',', ':'))</c> writes it: keys in code-point
    /// order, no spaces, everything outside ASCII and every control character escaped as <c>\uXXXX</c>.
    /// </summary>
    public static string Json(object? value)
    {
        var sb = new StringBuilder();
        Write(sb, value);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, object? value)
    {
        switch (value)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case int i: sb.Append(i.ToString(CultureInfo.InvariantCulture)); break;
            case double f: sb.Append(PythonFloat(f)); break;
            case string s: WriteString(sb, s); break;
            case SortedDictionary<string, object?> d:
                sb.Append('{');
                bool first = true;
                foreach (var (k, v) in d)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    WriteString(sb, k);
                    sb.Append(':');
                    Write(sb, v);
                }
                sb.Append('}');
                break;
            case List<object?> list:
                sb.Append('[');
                for (int j = 0; j < list.Count; j++)
                {
                    if (j > 0) sb.Append(',');
                    Write(sb, list[j]);
                }
                sb.Append(']');
                break;
            default: throw new InvalidOperationException("no JSON form for " + value.GetType());
        }
    }

    private static string PythonFloat(double f)
    {
        string s = f.ToString("R", CultureInfo.InvariantCulture).Replace('E', 'e');
        return s.Contains('.') || s.Contains('e') || s.Contains('N') || s.Contains('I') ? s : s + ".0";
    }

    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20 || c > 0x7e && c != 0x7f) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
