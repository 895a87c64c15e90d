using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Skiff.Distribution;

/// <summary>
/// dockerd's <c>--insecure-registry</c> set: registries named by <c>host[:port]</c> (matched exactly against a reference's
/// domain) or by CIDR (matched against the addresses the registry's host resolves to). <c>127.0.0.0/8</c> is always in
/// the set, as in dockerd 20.10. An insecure registry is contacted over https without verifying its certificate, and
/// over plain http when https fails (dockerd's endpoint order).
/// </summary>
public sealed class InsecureRegistries
{
    private readonly ConcurrentDictionary<string, bool> _resolved = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The loopback network every daemon treats as insecure.</summary>
    public const string LoopbackCidr = "127.0.0.0/8";

    private InsecureRegistries(IReadOnlyList<string> hosts, IReadOnlyList<IPNetwork> cidrs)
    {
        Hosts = hosts;
        Cidrs = cidrs;
    }

    /// <summary><c>host[:port]</c> entries in the order given (dockerd's IndexConfigs with Secure false).</summary>
    public IReadOnlyList<string> Hosts { get; }
    /// <summary>CIDR entries in the order given, then 127.0.0.0/8 (dockerd's InsecureRegistryCIDRs).</summary>
    public IReadOnlyList<IPNetwork> Cidrs { get; }

    /// <summary>Only the loopback default.</summary>
    public static InsecureRegistries Default { get; } = Parse([]);

    /// <summary>
    /// Validates the entries as dockerd does: an <c>http://</c> or <c>https://</c> prefix is dropped, any other scheme,
    /// a path or an invalid host or port is refused; CIDRs and hosts are de-duplicated.
    /// </summary>
    /// <exception cref="ArgumentException">An invalid entry, with dockerd's wording.</exception>
    public static InsecureRegistries Parse(IEnumerable<string> entries)
    {
        var hosts = new List<string>();
        var cidrs = new List<IPNetwork>();
        foreach (var raw in entries.Append(LoopbackCidr))
        {
            string r = raw.Trim();
            if (r.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) r = r[7..];
            else if (r.StartsWith("https://", StringComparison.OrdinalIgnoreCase)) r = r[8..];
            else if (r.Contains("://", StringComparison.Ordinal)) throw new ArgumentException($"insecure registry {raw} should not contain '://'");
            if (r.Length == 0 || r.StartsWith('-') || r.EndsWith('-')) throw new ArgumentException($"invalid index name ({raw})");
            if (TryParseCidr(r, out var net))
            {
                if (!cidrs.Contains(net)) cidrs.Add(net);
                continue;
            }
            if (!ValidHostPort(r)) throw new ArgumentException($"insecure registry {raw} is not valid: invalid host \"{r}\"");
            if (!hosts.Contains(r, StringComparer.Ordinal)) hosts.Add(r);
        }
        return new InsecureRegistries(hosts, cidrs);
    }

    /// <summary>A CIDR as Go's net.ParseCIDR reads it: host bits after the prefix are allowed and masked off.</summary>
    private static bool TryParseCidr(string s, out IPNetwork network)
    {
        network = default;
        int slash = s.IndexOf('/');
        if (slash < 0 || !IPAddress.TryParse(s[..slash], out var ip)) return false;
        if (!int.TryParse(s[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int prefix)) return false;
        byte[] bytes = ip.GetAddressBytes();
        if (prefix > bytes.Length * 8) return false;
        for (int i = 0; i < bytes.Length; i++)
        {
            int keep = Math.Clamp(prefix - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        network = new IPNetwork(new IPAddress(bytes), prefix);
        return true;
    }

    private static bool ValidHostPort(string s)
    {
        string host = s, port = "";
        if (s.StartsWith('['))
        {
            int end = s.IndexOf(']');
            if (end < 0) return false;
            host = s[1..end];
            if (end + 1 < s.Length)
            {
                if (s[end + 1] != ':') return false;
                port = s[(end + 2)..];
                if (port.Length == 0) return false;
            }
            if (!IPAddress.TryParse(host, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6) return false;
        }
        else
        {
            int colon = s.IndexOf(':');
            if (colon >= 0)
            {
                if (s.LastIndexOf(':') != colon) return false;
                host = s[..colon];
                port = s[(colon + 1)..];
                if (port.Length == 0) return false;
            }
            if (host.Length == 0 || host.Length > 255) return false;
            foreach (var label in host.Split('.'))
                if (label.Length == 0 || label.Length > 63 || label[0] == '-' || label[^1] == '-' || !label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-' || c == '_'))
                    return false;
        }
        return port.Length == 0 || (port.All(char.IsAsciiDigit) && port.Length <= 5 && int.Parse(port, System.Globalization.CultureInfo.InvariantCulture) is > 0 and <= 65535);
    }

    /// <summary>
    /// True when <paramref name="registry"/> (a reference's domain, <c>host[:port]</c>) is insecure: listed by name, or
    /// one of its host's addresses is in a listed CIDR. Host names are only looked up when CIDRs other than the loopback
    /// default were given (<c>localhost</c> needs no lookup); lookups are cached for the daemon's lifetime.
    /// </summary>
    public bool IsInsecure(string registry)
    {
        if (Hosts.Contains(registry, StringComparer.OrdinalIgnoreCase)) return true;
        return _resolved.GetOrAdd(registry, r => Addresses(HostOf(r), resolve: Cidrs.Count > 1).Any(a => Cidrs.Any(c => c.Contains(a))));
    }

    private static string HostOf(string registry)
    {
        if (registry.StartsWith('['))
        {
            int end = registry.IndexOf(']');
            return end > 0 ? registry[1..end] : registry;
        }
        int colon = registry.LastIndexOf(':');
        return colon > 0 && registry.IndexOf(':') == colon ? registry[..colon] : registry;
    }

    private static IPAddress[] Addresses(string host, bool resolve)
    {
        if (IPAddress.TryParse(host, out var ip)) return [ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip];
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return [IPAddress.Loopback, IPAddress.IPv6Loopback];
        if (!resolve) return [];
        try
        {
            return Dns.GetHostAddresses(host).Select(a => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).ToArray();
        }
        catch (SocketException)
        {
            return [];
        }
        catch (ArgumentException)
        {
            return [];
        }
    }
}
