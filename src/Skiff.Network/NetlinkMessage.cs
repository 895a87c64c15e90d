using System.Buffers.Binary;
using System.Text;

namespace Skiff.Network;

/// <summary>
/// Builds one rtnetlink request: the 16-byte nlmsghdr, a fixed family header (ifinfomsg,
/// ifaddrmsg, rtmsg) and 4-byte aligned attributes, possibly nested. Host byte order (little endian
/// on the platforms Skiff supports), as the kernel expects for netlink.
/// </summary>
internal sealed class NetlinkMessage
{
    public const ushort RTM_NEWLINK = 16, RTM_DELLINK = 17, RTM_GETLINK = 18, RTM_NEWADDR = 20, RTM_NEWROUTE = 24;
    public const ushort NLM_F_REQUEST = 1, NLM_F_MULTI = 2, NLM_F_ACK = 4, NLM_F_DUMP = 0x300, NLM_F_EXCL = 0x200, NLM_F_CREATE = 0x400;
    public const ushort NLMSG_ERROR = 2, NLMSG_DONE = 3;
    public const ushort IFLA_ADDRESS = 1, IFLA_IFNAME = 3, IFLA_MTU = 4, IFLA_MASTER = 10, IFLA_LINKINFO = 18, IFLA_NET_NS_FD = 28;
    public const ushort IFLA_INFO_KIND = 1, IFLA_INFO_DATA = 2, VETH_INFO_PEER = 1;
    public const ushort IFA_ADDRESS = 1, IFA_LOCAL = 2, IFA_BROADCAST = 4;
    public const byte AF_INET6 = 10, IFA_F_NODAD = 0x02;
    public const ushort RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5;
    public const uint IFF_UP = 1;

    private byte[] _buf = new byte[256];
    private int _len;
    private readonly Stack<int> _nests = new();

    public NetlinkMessage(ushort type, ushort flags, uint seq)
    {
        _len = 16;
        BinaryPrimitives.WriteUInt16LittleEndian(_buf.AsSpan(4), type);
        BinaryPrimitives.WriteUInt16LittleEndian(_buf.AsSpan(6), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(_buf.AsSpan(8), seq);
    }

    private Span<byte> Reserve(int n)
    {
        var aligned = Align(n);
        if (_len + aligned > _buf.Length) Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _len + aligned));
        var span = _buf.AsSpan(_len, aligned);
        span.Clear();
        _len += aligned;
        return span[..n];
    }

    public static int Align(int n) => (n + 3) & ~3;

    /// <summary>struct ifinfomsg: family, type, index, flags, change.</summary>
    public NetlinkMessage IfInfo(int index = 0, uint flags = 0, uint change = 0)
    {
        var s = Reserve(16);
        BinaryPrimitives.WriteInt32LittleEndian(s[4..], index);
        BinaryPrimitives.WriteUInt32LittleEndian(s[8..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[12..], change);
        return this;
    }

    /// <summary>struct ifaddrmsg for IPv4.</summary>
    public NetlinkMessage IfAddr(byte prefixLen, int index, byte family = 2, byte flags = 0)
    {
        var s = Reserve(8);
        s[0] = family; // AF_INET or AF_INET6
        s[1] = prefixLen;
        s[2] = flags;
        BinaryPrimitives.WriteInt32LittleEndian(s[4..], index);
        return this;
    }

    /// <summary>struct rtmsg for a unicast route in the main table (IPv4 unless <paramref name="family"/> is AF_INET6).</summary>
    public NetlinkMessage RtMsg(byte dstLen, byte family = 2)
    {
        var s = Reserve(12);
        s[0] = family;
        s[1] = dstLen;
        s[4] = 254;      // RT_TABLE_MAIN
        s[5] = 3;        // RTPROT_BOOT
        s[6] = 0;        // RT_SCOPE_UNIVERSE
        s[7] = 1;        // RTN_UNICAST
        return this;
    }

    public NetlinkMessage Attr(ushort type, ReadOnlySpan<byte> value)
    {
        var s = Reserve(4 + value.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(s, (ushort)(4 + value.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(s[2..], type);
        value.CopyTo(s[4..]);
        return this;
    }

    /// <summary>A NUL-terminated string attribute (interface names, link kinds).</summary>
    public NetlinkMessage Attr(ushort type, string value)
    {
        Span<byte> b = stackalloc byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, b);
        b[^1] = 0;
        return Attr(type, b);
    }

    public NetlinkMessage AttrU32(ushort type, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        return Attr(type, b);
    }

    public NetlinkMessage Begin(ushort type)
    {
        _nests.Push(_len);
        Reserve(4);
        BinaryPrimitives.WriteUInt16LittleEndian(_buf.AsSpan(_len - 4 + 2), type);
        return this;
    }

    public NetlinkMessage End()
    {
        var start = _nests.Pop();
        BinaryPrimitives.WriteUInt16LittleEndian(_buf.AsSpan(start), (ushort)(_len - start));
        return this;
    }

    public byte[] ToArray()
    {
        if (_nests.Count != 0) throw new InvalidOperationException("unclosed nested attribute");
        BinaryPrimitives.WriteUInt32LittleEndian(_buf, (uint)_len);
        return _buf.AsSpan(0, _len).ToArray();
    }

    /// <summary>Walks the attributes in <paramref name="data"/>, calling <paramref name="visit"/> with each type and payload.</summary>
    public static void ParseAttrs(ReadOnlySpan<byte> data, AttrVisitor visit)
    {
        while (data.Length >= 4)
        {
            int len = BinaryPrimitives.ReadUInt16LittleEndian(data);
            var type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(data[2..]) & 0x3fff);
            if (len < 4 || len > data.Length) return;
            visit(type, data[4..len]);
            var next = Align(len);
            if (next >= data.Length) return;
            data = data[next..];
        }
    }

    public delegate void AttrVisitor(ushort type, ReadOnlySpan<byte> payload);
}
