using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Skiff.Network;

/// <summary>An IPv4 prefix such as 172.31.0.0/16 (the address is normalised to the network address).</summary>
public readonly record struct Cidr(uint Network, int Prefix)
{
    public uint Mask => Prefix == 0 ? 0 : uint.MaxValue << (32 - Prefix);
    public uint First => Network;
    public uint Last => Network | ~Mask;
    public ulong Size => 1UL << (32 - Prefix);

    public static Cidr Parse(string s)
    {
        if (!TryParse(s, out var c)) throw new FormatException($"invalid CIDR address: {s}");
        return c;
    }

    /// <summary>Parses "a.b.c.d/n" (host bits are cleared), IPv4 only.</summary>
    public static bool TryParse(string? s, out Cidr cidr)
    {
        cidr = default;
        if (string.IsNullOrEmpty(s)) return false;
        var slash = s.IndexOf('/');
        if (slash < 0) return false;
        if (!IPAddress.TryParse(s[..slash], out var ip) || ip.AddressFamily != AddressFamily.InterNetwork) return false;
        if (!int.TryParse(s[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var prefix) || prefix > 32) return false;
        var mask = prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);
        cidr = new Cidr(ToUInt(ip) & mask, prefix);
        return true;
    }

    public bool Contains(uint address) => (address & Mask) == Network;
    public bool Contains(IPAddress address) => Contains(ToUInt(address));
    public bool Overlaps(Cidr other) => Contains(other.Network) || other.Contains(Network);

    public override string ToString() => $"{FromUInt(Network)}/{Prefix.ToString(CultureInfo.InvariantCulture)}";

    public static uint ToUInt(IPAddress ip) => BinaryPrimitives.ReadUInt32BigEndian(ip.GetAddressBytes());

    public static IPAddress FromUInt(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, v);
        return new IPAddress(b);
    }

    public static IPAddress Broadcast(IPAddress ip, int prefix)
    {
        var mask = prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);
        return FromUInt(ToUInt(ip) | ~mask);
    }

    /// <summary>Docker's MAC for a container address: 02:42 followed by the four address bytes.</summary>
    public static byte[] MacFor(IPAddress ip)
    {
        var a = ip.GetAddressBytes();
        return [0x02, 0x42, a[0], a[1], a[2], a[3]];
    }

    public static string FormatMac(ReadOnlySpan<byte> mac) => string.Join(':', mac.ToArray().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
}
