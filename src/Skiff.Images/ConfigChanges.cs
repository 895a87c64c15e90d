using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Skiff.Images;

/// <summary>
/// Applies Dockerfile-like change instructions (<c>docker import -c</c>, <c>docker commit -c</c>) to a container
/// config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL, ONBUILD, HEALTHCHECK.
/// CMD/ENTRYPOINT/VOLUME accept the JSON array form or the shell form (wrapped in the config's SHELL, by
/// default <c>/bin/sh -c</c>), like a Dockerfile.
/// </summary>
public static class ConfigChanges
{
    /// <summary>Applies each change in order to <paramref name="config"/>.</summary>
    /// <exception cref="InvalidImageArgumentException">Unknown instruction or malformed arguments.</exception>
    public static void Apply(ContainerConfig config, IEnumerable<string> changes)
    {
        foreach (var raw in changes)
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int sp = line.IndexOfAny([' ', '\t']);
            string instr = (sp < 0 ? line : line[..sp]).ToUpperInvariant();
            string rest = sp < 0 ? "" : line[(sp + 1)..].Trim();
            switch (instr)
            {
                case "CMD": config.Cmd = Command(config, rest, instr); break;
                case "ENTRYPOINT": config.Entrypoint = Command(config, rest, instr); break;
                case "ENV":
                    config.Env ??= [];
                    foreach (var (k, v) in Pairs(rest, instr))
                    {
                        config.Env.RemoveAll(e => e == k || e.StartsWith(k + "=", StringComparison.Ordinal));
                        config.Env.Add(k + "=" + v);
                    }
                    break;
                case "LABEL":
                    config.Labels ??= new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (var (k, v) in Pairs(rest, instr)) config.Labels[k] = v;
                    break;
                case "EXPOSE":
                    config.ExposedPorts ??= new Dictionary<string, EmptyObject>(StringComparer.Ordinal);
                    foreach (var p in Words(rest, instr)) foreach (var port in Ports(p)) config.ExposedPorts[port] = new EmptyObject();
                    break;
                case "VOLUME":
                    config.Volumes ??= new Dictionary<string, EmptyObject>(StringComparer.Ordinal);
                    foreach (var v in JsonArray(rest) ?? Words(rest, instr))
                    {
                        if (v.Length == 0) throw new InvalidImageArgumentException("VOLUME specified can not be an empty string");
                        config.Volumes[v] = new EmptyObject();
                    }
                    break;
                case "USER": config.User = Single(rest, instr); break;
                case "WORKDIR":
                    string wd = Single(rest, instr);
                    config.WorkingDir = wd.StartsWith('/') ? wd : Path.Combine(config.WorkingDir ?? "/", wd);
                    break;
                case "STOPSIGNAL": config.StopSignal = Single(rest, instr); break;
                case "ONBUILD":
                    if (rest.Length == 0) throw new InvalidImageArgumentException("ONBUILD requires at least one argument");
                    (config.OnBuild ??= []).Add(rest);
                    break;
                case "HEALTHCHECK": config.Healthcheck = Healthcheck(config, rest); break;
                default:
                    throw new InvalidImageArgumentException($"{instr.ToLowerInvariant()} is not a valid change command");
            }
        }
    }

    private static List<string> Command(ContainerConfig config, string rest, string instr)
    {
        if (JsonArray(rest) is { } json) return json;
        if (rest.Length == 0) throw new InvalidImageArgumentException($"{instr} requires at least one argument");
        var shell = config.Shell is { Count: > 0 } s ? new List<string>(s) : ["/bin/sh", "-c"];
        shell.Add(rest);
        return shell;
    }

    private static List<string>? JsonArray(string rest)
    {
        if (!rest.StartsWith('[')) return null;
        try
        {
            return JsonSerializer.Deserialize(rest, ImageJsonContext.Default.ListString);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Single(string rest, string instr)
    {
        var w = Words(rest, instr);
        if (w.Count != 1) throw new InvalidImageArgumentException($"{instr} requires exactly one argument");
        return w[0];
    }

    private static IEnumerable<string> Ports(string spec)
    {
        string proto = "tcp";
        int slash = spec.IndexOf('/');
        if (slash >= 0) { proto = spec[(slash + 1)..].ToLowerInvariant(); spec = spec[..slash]; }
        if (proto is not ("tcp" or "udp" or "sctp")) throw new InvalidImageArgumentException($"invalid proto: {proto}");
        int dash = spec.IndexOf('-');
        if (!ushort.TryParse(dash < 0 ? spec : spec[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out ushort lo)
            || !ushort.TryParse(dash < 0 ? spec : spec[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out ushort hi) || hi < lo)
            throw new InvalidImageArgumentException($"invalid containerPort: {spec}");
        for (int p = lo; p <= hi; p++) yield return $"{p}/{proto}";
    }

    private static List<(string Key, string Value)> Pairs(string rest, string instr)
    {
        var words = Words(rest, instr);
        if (words.Count == 0) throw new InvalidImageArgumentException($"{instr} requires at least one argument");
        if (!words[0].Contains('='))
        {
            // Legacy form "ENV key value with spaces": the rest of the line is the value.
            int sp = rest.IndexOfAny([' ', '\t']);
            if (sp < 0) throw new InvalidImageArgumentException($"{instr} must have two arguments");
            return [(words[0], Unquote(rest[(sp + 1)..].Trim()))];
        }
        var result = new List<(string, string)>();
        foreach (var w in words)
        {
            int eq = w.IndexOf('=');
            if (eq <= 0) throw new InvalidImageArgumentException($"{instr} names can not be blank and need key=value pairs: '{w}'");
            result.Add((w[..eq], w[(eq + 1)..]));
        }
        return result;
    }

    private static string Unquote(string s) => Words(s, "").Count == 1 ? Words(s, "")[0] : s;

    /// <summary>Splits on whitespace honouring double and single quotes and backslash escapes.</summary>
    private static List<string> Words(string s, string instr)
    {
        var result = new List<string>();
        var sb = new StringBuilder();
        bool inWord = false;
        char quote = '\0';
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (quote != '\0')
            {
                if (c == quote) { quote = '\0'; continue; }
                if (c == '\\' && quote == '"' && i + 1 < s.Length) { sb.Append(s[++i]); continue; }
                sb.Append(c);
                continue;
            }
            if (char.IsWhiteSpace(c))
            {
                if (inWord) { result.Add(sb.ToString()); sb.Clear(); inWord = false; }
                continue;
            }
            inWord = true;
            if (c is '"' or '\'') { quote = c; continue; }
            if (c == '\\' && i + 1 < s.Length) { sb.Append(s[++i]); continue; }
            sb.Append(c);
        }
        if (quote != '\0') throw new InvalidImageArgumentException($"{instr}: unmatched quote");
        if (inWord) result.Add(sb.ToString());
        return result;
    }

    private static HealthConfig Healthcheck(ContainerConfig config, string rest)
    {
        if (rest.Trim().Equals("NONE", StringComparison.OrdinalIgnoreCase)) return new HealthConfig { Test = ["NONE"] };
        var hc = new HealthConfig();
        string remaining = rest;
        while (remaining.StartsWith("--", StringComparison.Ordinal))
        {
            int sp = remaining.IndexOfAny([' ', '\t']);
            if (sp < 0) throw new InvalidImageArgumentException("HEALTHCHECK requires a CMD");
            string flag = remaining[..sp];
            remaining = remaining[(sp + 1)..].TrimStart();
            int eq = flag.IndexOf('=');
            if (eq < 0) throw new InvalidImageArgumentException($"HEALTHCHECK flag needs a value: {flag}");
            string name = flag[2..eq], value = flag[(eq + 1)..];
            switch (name)
            {
                case "interval": hc.Interval = Duration(value); break;
                case "timeout": hc.Timeout = Duration(value); break;
                case "start-period": hc.StartPeriod = Duration(value); break;
                case "start-interval": hc.StartInterval = Duration(value); break;
                case "retries":
                    hc.Retries = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int r) ? r
                        : throw new InvalidImageArgumentException($"invalid retries: {value}");
                    break;
                default: throw new InvalidImageArgumentException($"unknown HEALTHCHECK flag: --{name}");
            }
        }
        int cmdSp = remaining.IndexOfAny([' ', '\t']);
        if (cmdSp < 0 || !remaining[..cmdSp].Equals("CMD", StringComparison.OrdinalIgnoreCase))
            throw new InvalidImageArgumentException("HEALTHCHECK must be NONE or [OPTIONS] CMD command");
        string cmd = remaining[(cmdSp + 1)..].Trim();
        if (JsonArray(cmd) is { } json) hc.Test = ["CMD", .. json];
        else hc.Test = ["CMD-SHELL", cmd];
        return hc;
    }

    /// <summary>Go-style durations (<c>30s</c>, <c>1m30s</c>, <c>500ms</c>) in nanoseconds.</summary>
    private static long Duration(string s)
    {
        long total = 0;
        int i = 0;
        if (s.Length == 0) throw new InvalidImageArgumentException("empty duration");
        while (i < s.Length)
        {
            int start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
            if (!double.TryParse(s.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double n))
                throw new InvalidImageArgumentException($"invalid duration: {s}");
            int ustart = i;
            while (i < s.Length && !char.IsAsciiDigit(s[i]) && s[i] != '.') i++;
            long unit = s[ustart..i] switch
            {
                "ns" => 1L,
                "us" or "µs" => 1_000L,
                "ms" => 1_000_000L,
                "s" => 1_000_000_000L,
                "m" => 60_000_000_000L,
                "h" => 3_600_000_000_000L,
                _ => throw new InvalidImageArgumentException($"invalid duration: {s}"),
            };
            total += (long)(n * unit);
        }
        return total;
    }
}
