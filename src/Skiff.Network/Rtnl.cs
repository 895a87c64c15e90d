using System.Buffers.Binary;
using System.Net;
using System.Text;
using Skiff.Linux;
using static Skiff.Network.NetlinkMessage;

namespace Skiff.Network;

/// <summary>A link as listed by the kernel: its index, name and the index of its master (0 when none).</summary>
public readonly record struct LinkInfo(int Index, string Name, int Master, string Kind);

/// <summary>
/// An rtnetlink (NETLINK_ROUTE) connection: creates bridges and veth pairs, sets addresses and
/// routes. A socket acts in the network namespace its creating thread was in when it was opened
/// (see <see cref="NetNs"/>), so one instance per namespace. Requests are serialised.
/// </summary>
public sealed class Rtnl : IDisposable
{
    private const int ENODEV = 19, EEXIST = 17;
    private readonly int _fd;
    private readonly Lock _lock = new();
    private readonly byte[] _rx = new byte[64 * 1024];
    private uint _seq;

    private Rtnl(int fd) => _fd = fd;

    /// <summary>Opens a socket in the calling thread's current network namespace.</summary>
    public static Rtnl Open() => new(Libc.OpenRtnetlink());

    /// <summary>Creates a bridge (or accepts an existing one), gives it <paramref name="address"/>/<paramref name="prefix"/> and brings it up.</summary>
    public int EnsureBridge(string name, IPAddress address, int prefix, int mtu = 1500)
    {
        var m = Msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL).IfInfo(0, IFF_UP, IFF_UP)
            .Attr(IFLA_IFNAME, name).AttrU32(IFLA_MTU, (uint)mtu)
            .Begin(IFLA_LINKINFO).Attr(IFLA_INFO_KIND, "bridge").End();
        Call(m, "create bridge " + name, EEXIST);
        var index = IndexOf(name) ?? throw new LinuxException("netlink create bridge", ENODEV, name);
        SetUp(index);
        AddAddress(index, address, prefix, ignoreExisting: true);
        return index;
    }

    /// <summary>
    /// Creates a veth pair: <paramref name="hostName"/> enslaved to <paramref name="masterIndex"/> in this
    /// namespace, its peer named <paramref name="peerName"/> created directly in the namespace open as
    /// <paramref name="peerNsFd"/>, with MAC <paramref name="peerMac"/>. The host end is up; the peer is
    /// brought up from its namespace (opening it here fails with ENOTCONN: the kernel configures the
    /// peer before the pair is linked).
    /// </summary>
    public void CreateVeth(string hostName, int masterIndex, string peerName, int peerNsFd, ReadOnlySpan<byte> peerMac, int mtu = 1500)
    {
        var m = Msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL).IfInfo(0, IFF_UP, IFF_UP)
            .Attr(IFLA_IFNAME, hostName).AttrU32(IFLA_MTU, (uint)mtu).AttrU32(IFLA_MASTER, (uint)masterIndex)
            .Begin(IFLA_LINKINFO).Attr(IFLA_INFO_KIND, "veth")
            .Begin(IFLA_INFO_DATA).Begin(VETH_INFO_PEER).IfInfo()
            .Attr(IFLA_IFNAME, peerName).AttrU32(IFLA_MTU, (uint)mtu).Attr(IFLA_ADDRESS, peerMac).AttrU32(IFLA_NET_NS_FD, (uint)peerNsFd)
            .End().End().End();
        Call(m, "create veth " + hostName);
    }

    /// <summary>Deletes a link by name; a link that is already gone is not an error.</summary>
    public bool DeleteLink(string name)
    {
        var m = Msg(RTM_DELLINK, 0).IfInfo().Attr(IFLA_IFNAME, name);
        return Call(m, "delete link " + name, ENODEV) == 0;
    }

    public void SetUp(int index) => Call(Msg(RTM_NEWLINK, 0).IfInfo(index, IFF_UP, IFF_UP), "set link up");

    public void AddAddress(int index, IPAddress address, int prefix, bool ignoreExisting = false)
    {
        var a = address.GetAddressBytes();
        var brd = Cidr.Broadcast(address, prefix).GetAddressBytes();
        var m = Msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL).IfAddr((byte)prefix, index)
            .Attr(IFA_LOCAL, a).Attr(IFA_ADDRESS, a).Attr(IFA_BROADCAST, brd);
        Call(m, $"add address {address}/{prefix}", ignoreExisting ? EEXIST : 0);
    }

    /// <summary>
    /// Adds an IPv6 address without duplicate address detection (IFA_F_NODAD, as Docker does): the
    /// daemon hands out each address once, and DAD would keep it "tentative", unusable, for a second or more.
    /// </summary>
    public void AddAddress6(int index, IPAddress address, int prefix, bool ignoreExisting = false)
    {
        var a = address.GetAddressBytes();
        var m = Msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL).IfAddr((byte)prefix, index, AF_INET6, IFA_F_NODAD)
            .Attr(IFA_LOCAL, a).Attr(IFA_ADDRESS, a);
        Call(m, $"add address {address}/{prefix}", ignoreExisting ? EEXIST : 0);
    }

    /// <summary>The IPv6 default route via <paramref name="gateway"/> on <paramref name="oif"/>.</summary>
    public void AddDefaultRoute6(IPAddress gateway, int oif)
    {
        var m = Msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL).RtMsg(0, AF_INET6)
            .Attr(RTA_GATEWAY, gateway.GetAddressBytes()).AttrU32(RTA_OIF, (uint)oif);
        Call(m, $"add default route via {gateway}", EEXIST);
    }

    public void AddDefaultRoute(IPAddress gateway, int oif)
    {
        var m = Msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL).RtMsg(0)
            .Attr(RTA_GATEWAY, gateway.GetAddressBytes()).AttrU32(RTA_OIF, (uint)oif);
        Call(m, $"add default route via {gateway}", EEXIST);
    }

    /// <summary>The index of a link of this namespace, or null when there is none.</summary>
    public int? IndexOf(string name)
    {
        // No NLM_F_ACK: the reply is the link itself or an error, one message with our sequence number.
        var m = new NetlinkMessage(RTM_GETLINK, NLM_F_REQUEST, Interlocked.Increment(ref _seq)).IfInfo().Attr(IFLA_IFNAME, name);
        var bytes = m.ToArray();
        var seq = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        lock (_lock)
        {
            Libc.SendAll(_fd, bytes);
            while (true)
            {
                int n = Libc.Receive(_fd, _rx);
                var msg = _rx.AsSpan(0, n);
                if (msg.Length < 20 || BinaryPrimitives.ReadUInt32LittleEndian(msg[8..]) != seq) continue;
                var type = BinaryPrimitives.ReadUInt16LittleEndian(msg[4..]);
                if (type == NLMSG_ERROR)
                {
                    var err = -BinaryPrimitives.ReadInt32LittleEndian(msg[16..]);
                    if (err is ENODEV or 0) return null;
                    throw new LinuxException("netlink get link", err, name);
                }
                return BinaryPrimitives.ReadInt32LittleEndian(msg[20..]);
            }
        }
    }

    /// <summary>Every link of this namespace.</summary>
    public List<LinkInfo> Links()
    {
        var result = new List<LinkInfo>();
        var request = new NetlinkMessage(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, Interlocked.Increment(ref _seq)).IfInfo().ToArray();
        var seq = BinaryPrimitives.ReadUInt32LittleEndian(request.AsSpan(8));
        lock (_lock)
        {
            Libc.SendAll(_fd, request);
            while (true)
            {
                int n = Libc.Receive(_fd, _rx);
                var buf = _rx.AsSpan(0, n);
                while (buf.Length >= 16)
                {
                    var len = (int)BinaryPrimitives.ReadUInt32LittleEndian(buf);
                    var type = BinaryPrimitives.ReadUInt16LittleEndian(buf[4..]);
                    if (len < 16 || len > buf.Length) break;
                    if (BinaryPrimitives.ReadUInt32LittleEndian(buf[8..]) != seq) { /* a stray reply of an earlier request */ }
                    else if (type == NLMSG_DONE) return result;
                    else if (type == NLMSG_ERROR)
                    {
                        var err = -BinaryPrimitives.ReadInt32LittleEndian(buf[16..]);
                        throw new LinuxException("netlink dump links", err);
                    }
                    else if (type == RTM_NEWLINK) result.Add(ParseLink(buf[16..len]));
                    var next = Align(len);
                    if (next >= buf.Length) break;
                    buf = buf[next..];
                }
            }
        }
    }

    internal static LinkInfo ParseLink(ReadOnlySpan<byte> payload)
    {
        var index = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
        string name = "", kind = "";
        var master = 0;
        ParseAttrs(payload[16..], (t, v) =>
        {
            if (t == IFLA_IFNAME) name = Encoding.UTF8.GetString(v.TrimEnd((byte)0));
            else if (t == IFLA_MASTER && v.Length >= 4) master = BinaryPrimitives.ReadInt32LittleEndian(v);
            else if (t == IFLA_LINKINFO)
                ParseAttrs(v, (t2, v2) => { if (t2 == IFLA_INFO_KIND) kind = Encoding.UTF8.GetString(v2.TrimEnd((byte)0)); });
        });
        return new LinkInfo(index, name, master, kind);
    }

    private NetlinkMessage Msg(ushort type, ushort flags) => new(type, (ushort)(NLM_F_REQUEST | NLM_F_ACK | flags), Interlocked.Increment(ref _seq));

    /// <summary>Sends a request and reads its acknowledgement; returns the (positive) errno that was tolerated, else 0.</summary>
    private int Call(NetlinkMessage m, string what, int tolerated = 0)
    {
        var bytes = m.ToArray();
        var seq = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        lock (_lock)
        {
            Libc.SendAll(_fd, bytes);
            while (true)
            {
                int n = Libc.Receive(_fd, _rx);
                var msg = _rx.AsSpan(0, n);
                if (msg.Length < 20) continue;
                if (BinaryPrimitives.ReadUInt16LittleEndian(msg[4..]) != NLMSG_ERROR || BinaryPrimitives.ReadUInt32LittleEndian(msg[8..]) != seq) continue;
                var err = -BinaryPrimitives.ReadInt32LittleEndian(msg[16..]);
                if (err == 0) return 0;
                if (tolerated != 0 && err == tolerated) return err;
                throw new LinuxException("netlink " + what, err);
            }
        }
    }

    public void Dispose() => Libc.close(_fd);
}
