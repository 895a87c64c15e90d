using System.Globalization;

namespace Skiff.Network;

/// <summary>Docker's legacy links (--link on the default bridge): the environment a link gives the linking container.</summary>
public static class LegacyLink
{
    /// <summary>
    /// The variables of one link, in dockerd's order: ALIAS_PORT (the lowest port, tcp first),
    /// for each run of three or more consecutive ports its _START/_END variables, for each port
    /// ALIAS_PORT_N_PROTO with _ADDR, _PORT, _PROTO, then ALIAS_NAME and ALIAS_ENV_* of the child's
    /// environment (without HOME and PATH).
    /// </summary>
    public static List<string> Variables(string linkName, string childIp, IEnumerable<string> exposedPorts, IEnumerable<string> childEnv)
    {
        var alias = linkName[(linkName.LastIndexOf('/') + 1)..].ToUpperInvariant().Replace('-', '_');
        var ports = new List<(int Port, string Proto)>();
        foreach (var p in exposedPorts)
        {
            var slash = p.IndexOf('/');
            var proto = slash < 0 ? "tcp" : p[(slash + 1)..].ToLowerInvariant();
            if (int.TryParse(slash < 0 ? p : p[..slash], NumberStyles.None, CultureInfo.InvariantCulture, out var n)) ports.Add((n, proto));
        }
        ports.Sort((a, b) => a.Port != b.Port ? a.Port.CompareTo(b.Port) : (a.Proto == "tcp") == (b.Proto == "tcp") ? string.CompareOrdinal(a.Proto, b.Proto) : a.Proto == "tcp" ? -1 : 1);
        var env = new List<string>();
        string S(int port) => port.ToString(CultureInfo.InvariantCulture);
        if (ports.Count > 0) env.Add($"{alias}_PORT={ports[0].Proto}://{childIp}:{S(ports[0].Port)}");
        for (var i = 0; i < ports.Count;)
        {
            var j = i;
            while (j + 1 < ports.Count && ports[j + 1].Port <= ports[i].Port + (j + 1 - i)) j++;
            if (j > i + 1)
            {
                var (p, q) = (ports[i], ports[j]);
                var key = $"{alias}_PORT_{S(p.Port)}";
                env.Add($"{key}_{p.Proto.ToUpperInvariant()}_START={p.Proto}://{childIp}:{S(p.Port)}");
                env.Add($"{key}_{p.Proto.ToUpperInvariant()}_ADDR={childIp}");
                env.Add($"{key}_{p.Proto.ToUpperInvariant()}_PROTO={p.Proto}");
                env.Add($"{key}_{p.Proto.ToUpperInvariant()}_PORT_START={S(p.Port)}");
                env.Add($"{key}_{q.Proto.ToUpperInvariant()}_END={q.Proto}://{childIp}:{S(q.Port)}");
                env.Add($"{key}_{q.Proto.ToUpperInvariant()}_PORT_END={S(q.Port)}");
                i = j + 1;
            }
            else
            {
                i++;
            }
        }
        foreach (var (port, proto) in ports)
        {
            var key = $"{alias}_PORT_{S(port)}_{proto.ToUpperInvariant()}";
            env.Add($"{key}={proto}://{childIp}:{S(port)}");
            env.Add($"{key}_ADDR={childIp}");
            env.Add($"{key}_PORT={S(port)}");
            env.Add($"{key}_PROTO={proto}");
        }
        env.Add($"{alias}_NAME={linkName}");
        foreach (var e in childEnv)
        {
            var eq = e.IndexOf('=');
            if (eq < 0) continue;
            var k = e[..eq];
            if (k is "HOME" or "PATH") continue;
            env.Add($"{alias}_ENV_{e}");
        }
        return env;
    }
}
