using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Skiff.Network;

/// <summary>An IPv6 prefix such as fd42:1::/64 (the address is normalised to the network address).</summary>
public readonly record struct Cidr6(UInt128 Network, int Prefix)
{
    public UInt128 Mask => Prefix == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - Prefix);
    public UInt128 First => Network;
    public UInt128 Last => Network | ~Mask;

    public static Cidr6 Parse(string s) => TryParse(s, out var c) ? c : throw new FormatException($"invalid CIDR address: {s}");

    /// <summary>Parses "addr/n" (host bits are cleared), IPv6 only (no IPv4-mapped addresses).</summary>
    public static bool TryParse(string? s, out Cidr6 cidr)
    {
        cidr = default;
        if (string.IsNullOrEmpty(s)) return false;
        var slash = s.IndexOf('/');
        if (slash < 0) return false;
        if (!IPAddress.TryParse(s[..slash], out var ip) || ip.AddressFamily != AddressFamily.InterNetworkV6 || ip.IsIPv4MappedToIPv6 || ip.ScopeId != 0) return false;
        if (!int.TryParse(s[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var prefix) || prefix > 128) return false;
        var c = new Cidr6(UInt128.Zero, prefix);
        cidr = c with { Network = ToUInt128(ip) & c.Mask };
        return true;
    }

    public bool Contains(UInt128 address) => (address & Mask) == Network;
    public bool Contains(IPAddress address) => address.AddressFamily == AddressFamily.InterNetworkV6 && Contains(ToUInt128(address));
    public bool Overlaps(Cidr6 other) => Contains(other.Network) || other.Contains(Network);

    public override string ToString() => $"{FromUInt128(Network)}/{Prefix.ToString(CultureInfo.InvariantCulture)}";

    public static UInt128 ToUInt128(IPAddress ip) => BinaryPrimitives.ReadUInt128BigEndian(ip.GetAddressBytes());

    public static IPAddress FromUInt128(UInt128 v)
    {
        var b = new byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(b, v);
        return new IPAddress(b);
    }
}
