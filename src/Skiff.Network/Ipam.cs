using System.Net;

namespace Skiff.Network;

/// <summary>
/// Address management for one network: which addresses a container may get. Allocations are not
/// stored here: the caller passes the addresses in use (held in the container records, which are
/// persisted anyway), so there is no second record to keep consistent.
/// </summary>
public static class Ipam
{
    /// <summary>
    /// Checks a network's IPAM settings and fills in the gateway (the first host address) when it
    /// is not given. Throws <see cref="FormatException"/> or <see cref="ArgumentException"/> with a
    /// message for the user.
    /// </summary>
    public static (Cidr Subnet, IPAddress Gateway, Cidr? Range) Validate(string subnet, string? gateway, string? ipRange)
    {
        if (!Cidr.TryParse(subnet, out var s)) throw new ArgumentException($"invalid subnet {subnet}: invalid CIDR address: {subnet}");
        if (s.Prefix > 30) throw new ArgumentException($"invalid subnet {subnet}: no usable addresses");
        IPAddress gw;
        if (string.IsNullOrEmpty(gateway)) gw = Cidr.FromUInt(s.First + 1);
        else if (!IPAddress.TryParse(gateway, out gw!) || gw.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            throw new ArgumentException($"invalid gateway address {gateway}");
        if (!s.Contains(gw)) throw new ArgumentException($"no matching subnet for gateway {gateway}");
        Cidr? range = null;
        if (!string.IsNullOrEmpty(ipRange))
        {
            if (!Cidr.TryParse(ipRange, out var r)) throw new ArgumentException($"invalid ip-range {ipRange}: invalid CIDR address: {ipRange}");
            if (!s.Contains(r.First) || !s.Contains(r.Last)) throw new ArgumentException($"no matching subnet for range {ipRange}");
            range = r;
        }
        return (s, gw, range);
    }

    /// <summary>
    /// Picks an address: the requested one (which must be in the subnet and free), else the lowest
    /// free host address of the range (or subnet), skipping the network, broadcast and gateway addresses.
    /// </summary>
    public static IPAddress Allocate(Cidr subnet, IPAddress gateway, Cidr? range, IReadOnlySet<uint> used, string? requested)
    {
        var gw = Cidr.ToUInt(gateway);
        if (!string.IsNullOrEmpty(requested))
        {
            if (!IPAddress.TryParse(requested, out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                throw new ArgumentException($"invalid IPv4 address: {requested}");
            var v = Cidr.ToUInt(ip);
            if (!subnet.Contains(v) || v == subnet.First || v == subnet.Last)
                throw new ArgumentException($"no configured subnet or ip-range contain the IP address {requested}");
            if (v == gw || used.Contains(v)) throw new InvalidOperationException("Address already in use");
            return ip;
        }
        var from = range?.First ?? subnet.First;
        var to = range?.Last ?? subnet.Last;
        for (var v = from; v <= to && v >= from; v++)
        {
            if (v == subnet.First || v == subnet.Last || v == gw || used.Contains(v)) continue;
            return Cidr.FromUInt(v);
        }
        throw new InvalidOperationException("no available IPv4 addresses on this network's address pools");
    }

    /// <summary>
    /// The first subnet of <paramref name="size"/> bits in <paramref name="pool"/> that overlaps none of
    /// <paramref name="taken"/> (other networks of this daemon and the host's routes).
    /// </summary>
    public static Cidr? NextSubnet(Cidr pool, int size, IEnumerable<Cidr> taken)
    {
        var list = taken.ToList();
        var step = 1UL << (32 - size);
        for (ulong v = pool.First; v + step - 1 <= pool.Last; v += step)
        {
            var candidate = new Cidr((uint)v, size);
            if (!list.Any(t => t.Overlaps(candidate))) return candidate;
        }
        return null;
    }

    /// <summary>The IPv4 destinations routed on this host (from /proc/net/route), default route excluded.</summary>
    public static List<Cidr> HostRoutes()
    {
        var result = new List<Cidr>();
        string[] lines;
        try { lines = File.ReadAllLines("/proc/net/route"); } catch (IOException) { return result; }
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split('\t', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 8) continue;
            if (!uint.TryParse(f[1], System.Globalization.NumberStyles.HexNumber, null, out var dst)) continue;
            if (!uint.TryParse(f[7], System.Globalization.NumberStyles.HexNumber, null, out var mask) || mask == 0) continue;
            // /proc/net/route prints the little-endian in-memory value.
            dst = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(dst);
            mask = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(mask);
            result.Add(new Cidr(dst & mask, System.Numerics.BitOperations.PopCount(mask)));
        }
        return result;
    }
}

/// <summary>
/// Address management for the IPv6 side of a network, as <see cref="Ipam"/> for IPv4: the
/// addresses in use come from the container records.
/// </summary>
public static class Ipam6
{
    /// <summary>Checks an IPv6 subnet and gateway (default: the subnet's first host address, ::1).</summary>
    public static (Cidr6 Subnet, IPAddress Gateway) Validate(string subnet, string? gateway)
    {
        if (!Cidr6.TryParse(subnet, out var s)) throw new ArgumentException($"invalid subnet {subnet}: invalid CIDR address: {subnet}");
        if (s.Prefix > 126) throw new ArgumentException($"invalid subnet {subnet}: no usable addresses");
        IPAddress gw;
        if (string.IsNullOrEmpty(gateway)) gw = Cidr6.FromUInt128(s.First + 1);
        else if (!IPAddress.TryParse(gateway, out gw!) || gw.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            throw new ArgumentException($"invalid gateway address {gateway}");
        if (!s.Contains(gw)) throw new ArgumentException($"no matching subnet for gateway {gateway}");
        return (s, gw);
    }

    /// <summary>
    /// The requested address (in the subnet, free), else the lowest free address after the
    /// subnet-router anycast address (::0), skipping the gateway.
    /// </summary>
    public static IPAddress Allocate(Cidr6 subnet, IPAddress gateway, IReadOnlySet<UInt128> used, string? requested)
    {
        var gw = Cidr6.ToUInt128(gateway);
        if (!string.IsNullOrEmpty(requested))
        {
            if (!IPAddress.TryParse(requested, out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
                throw new ArgumentException($"invalid IPv6 address: {requested}");
            var v = Cidr6.ToUInt128(ip);
            if (!subnet.Contains(v) || v == subnet.First)
                throw new ArgumentException($"no configured subnet or ip-range contain the IP address {requested}");
            if (v == gw || used.Contains(v)) throw new InvalidOperationException("Address already in use");
            return ip;
        }
        for (var v = subnet.First + 1; v <= subnet.Last && v > subnet.First; v++)
        {
            if (v == gw || used.Contains(v)) continue;
            return Cidr6.FromUInt128(v);
        }
        throw new InvalidOperationException("no available IPv6 addresses on this network's address pools");
    }

    /// <summary>The IPv6 destinations routed on this host (from /proc/net/ipv6_route), default and link-local routes excluded.</summary>
    public static List<Cidr6> HostRoutes()
    {
        var result = new List<Cidr6>();
        string[] lines;
        try { lines = File.ReadAllLines("/proc/net/ipv6_route"); } catch (IOException) { return result; }
        foreach (var line in lines)
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 2 || f[0].Length != 32) continue;
            if (!UInt128.TryParse(f[0], System.Globalization.NumberStyles.HexNumber, null, out var dst)) continue;
            if (!int.TryParse(f[1], System.Globalization.NumberStyles.HexNumber, null, out var prefix) || prefix == 0 || prefix > 128) continue;
            var c = new Cidr6(UInt128.Zero, prefix);
            c = c with { Network = dst & c.Mask };
            // Link-local and multicast routes exist on every interface and say nothing about a ULA subnet.
            if ((dst >> 118) == 0x3FA || (dst >> 120) == 0xFF) continue;
            result.Add(c);
        }
        return result;
    }
}
