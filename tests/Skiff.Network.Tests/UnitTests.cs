using System.Net;
using System.Net.Sockets;

namespace Skiff.Network.Tests;

public sealed class CidrAndIpamTests
{
    [Fact]
    public void CidrParsesAndNormalises()
    {
        var c = Cidr.Parse("172.31.5.9/16");
        Assert.Equal("172.31.0.0/16", c.ToString());
        Assert.True(c.Contains(IPAddress.Parse("172.31.255.254")));
        Assert.False(c.Contains(IPAddress.Parse("172.32.0.1")));
        Assert.True(c.Overlaps(Cidr.Parse("172.31.7.0/24")));
        Assert.False(c.Overlaps(Cidr.Parse("172.17.0.0/16")));
        Assert.False(Cidr.TryParse("172.31.0.0", out _));
        Assert.False(Cidr.TryParse("172.31.0.0/33", out _));
        Assert.False(Cidr.TryParse("::1/64", out _));
        Assert.Equal("172.31.255.255", Cidr.Broadcast(IPAddress.Parse("172.31.0.1"), 16).ToString());
        Assert.Equal("02:42:ac:1f:00:02", Cidr.FormatMac(Cidr.MacFor(IPAddress.Parse("172.31.0.2"))));
    }

    [Fact]
    public void ValidateFillsTheGatewayAndChecksRanges()
    {
        var (s, gw, range) = Ipam.Validate("10.1.2.0/24", null, null);
        Assert.Equal("10.1.2.0/24", s.ToString());
        Assert.Equal("10.1.2.1", gw.ToString());
        Assert.Null(range);
        Assert.Throws<ArgumentException>(() => Ipam.Validate("10.1.2.0/24", "10.1.3.1", null));
        Assert.Throws<ArgumentException>(() => Ipam.Validate("10.1.2.0/24", null, "10.1.0.0/16"));
        Assert.Throws<ArgumentException>(() => Ipam.Validate("bogus", null, null));
        Assert.Throws<ArgumentException>(() => Ipam.Validate("10.1.2.0/31", null, null));
    }

    [Fact]
    public void AllocateSkipsReservedAndUsedAddresses()
    {
        var s = Cidr.Parse("10.1.2.0/29");
        var gw = IPAddress.Parse("10.1.2.1");
        var used = new HashSet<uint> { Cidr.ToUInt(IPAddress.Parse("10.1.2.2")) };
        Assert.Equal("10.1.2.3", Ipam.Allocate(s, gw, null, used, null).ToString());
        Assert.Equal("10.1.2.5", Ipam.Allocate(s, gw, null, used, "10.1.2.5").ToString());
        Assert.Throws<InvalidOperationException>(() => Ipam.Allocate(s, gw, null, used, "10.1.2.2"));
        Assert.Throws<InvalidOperationException>(() => Ipam.Allocate(s, gw, null, used, "10.1.2.1"));
        Assert.Throws<ArgumentException>(() => Ipam.Allocate(s, gw, null, used, "10.1.2.7"));
        Assert.Throws<ArgumentException>(() => Ipam.Allocate(s, gw, null, used, "10.9.9.9"));
        // 10.1.2.2..6 usable, minus the used one: 4 more, then the pool is exhausted.
        var all = new HashSet<uint>(used);
        for (var i = 0; i < 4; i++) all.Add(Cidr.ToUInt(Ipam.Allocate(s, gw, null, all, null)));
        Assert.Throws<InvalidOperationException>(() => Ipam.Allocate(s, gw, null, all, null));
        var range = Cidr.Parse("10.1.2.4/30");
        Assert.Equal("10.1.2.4", Ipam.Allocate(s, gw, range, used, null).ToString());
    }

    [Fact]
    public void NextSubnetAvoidsTakenPrefixes()
    {
        var pool = Cidr.Parse("10.210.0.0/16");
        Assert.Equal("10.210.0.0/24", Ipam.NextSubnet(pool, 24, [])!.Value.ToString());
        Assert.Equal("10.210.2.0/24", Ipam.NextSubnet(pool, 24, [Cidr.Parse("10.210.0.0/23")])!.Value.ToString());
        Assert.Null(Ipam.NextSubnet(Cidr.Parse("10.210.0.0/24"), 24, [Cidr.Parse("10.0.0.0/8")]));
    }
}

public sealed class NetlinkEncodingTests
{
    [Fact]
    public void MessageHasHeaderAlignedAttributesAndNesting()
    {
        var m = new NetlinkMessage(NetlinkMessage.RTM_NEWLINK, NetlinkMessage.NLM_F_REQUEST | NetlinkMessage.NLM_F_ACK, 7)
            .IfInfo(3, NetlinkMessage.IFF_UP, NetlinkMessage.IFF_UP)
            .Attr(NetlinkMessage.IFLA_IFNAME, "br0")
            .Begin(NetlinkMessage.IFLA_LINKINFO).Attr(NetlinkMessage.IFLA_INFO_KIND, "bridge").End()
            .ToArray();
        byte[] expected =
        [
            56, 0, 0, 0, 16, 0, 5, 0, 7, 0, 0, 0, 0, 0, 0, 0,        // nlmsghdr: len 56, RTM_NEWLINK, REQUEST|ACK, seq 7
            0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0,          // ifinfomsg: index 3, flags/change IFF_UP
            8, 0, 3, 0, (byte)'b', (byte)'r', (byte)'0', 0,          // IFLA_IFNAME "br0\0"
            16, 0, 18, 0,                                            // IFLA_LINKINFO (nested, 16 bytes)
            11, 0, 1, 0, (byte)'b', (byte)'r', (byte)'i', (byte)'d', (byte)'g', (byte)'e', 0, 0, // IFLA_INFO_KIND "bridge\0" + pad
        ];
        Assert.Equal(expected, m);
    }

    [Fact]
    public void ParsesALinkMessage()
    {
        var payload = new NetlinkMessage(NetlinkMessage.RTM_NEWLINK, 0, 0).IfInfo(42)
            .Attr(NetlinkMessage.IFLA_IFNAME, "veth1234567").AttrU32(NetlinkMessage.IFLA_MASTER, 5)
            .Begin(NetlinkMessage.IFLA_LINKINFO).Attr(NetlinkMessage.IFLA_INFO_KIND, "veth").End()
            .ToArray();
        var link = Rtnl.ParseLink(payload.AsSpan(16));
        Assert.Equal(new LinkInfo(42, "veth1234567", 5, "veth"), link);
    }
}

public sealed class NatRenderTests
{
    [Fact]
    public void RulesetMatchesGolden()
    {
        var nat = new Nat("skiff-test0");
        var text = nat.Render(
            [new BridgeNat("skiff0", "172.31.0.0/16", false), new BridgeNat("sk-internal", "10.210.1.0/24", true)],
            [new PortMapping("", 8080, "tcp", "172.31.0.2", 80), new PortMapping("127.0.0.1", 5353, "udp", "172.31.0.3", 53)]);
        var golden = Path.Combine(AppContext.BaseDirectory, "golden", "nat.nft");
        Assert.Equal(File.ReadAllText(golden), text);
    }
}

public sealed class DnsTests
{
    [Fact]
    public void ParsesAQueryAndFormatsAnAnswer()
    {
        var q = DnsMessage.Query(0x1234, "Web.Example.", DnsMessage.TypeA);
        Assert.True(DnsMessage.TryParseQuery(q, out var question, out var end));
        Assert.Equal(new DnsQuestion("web.example", DnsMessage.TypeA, DnsMessage.ClassIN), question);
        Assert.Equal(q.Length, end);
        var response = DnsMessage.Response(q, end, DnsMessage.RcodeNoError, [IPAddress.Parse("10.0.0.7"), IPAddress.Parse("10.0.0.8")]);
        Assert.Equal(0x12, response[0]);
        Assert.Equal(0x34, response[1]);
        Assert.Equal(0x85, response[2]);   // QR, AA, RD
        Assert.Equal(0x80, response[3]);   // RA, NOERROR
        var (rcode, addrs) = DnsMessage.ReadAnswers(response);
        Assert.Equal(0, rcode);
        Assert.Equal([IPAddress.Parse("10.0.0.7"), IPAddress.Parse("10.0.0.8")], addrs);
    }

    [Fact]
    public void RejectsResponsesAndTruncatedMessages()
    {
        var q = DnsMessage.Query(1, "a", DnsMessage.TypeA);
        q[2] |= 0x80;
        Assert.False(DnsMessage.TryParseQuery(q, out _, out _));
        Assert.False(DnsMessage.TryParseQuery(DnsMessage.Query(1, "abc", DnsMessage.TypeA).AsSpan(0, 15), out _, out _));
        Assert.False(DnsMessage.TryParseQuery(new byte[5], out _, out _));
    }

    [Fact]
    public async Task ServerAnswersOwnNamesAndForwardsTheRest()
    {
        // A fake upstream on loopback answers every forwarded query with 192.0.2.99.
        using var upstream = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var upstreamTask = Task.Run(async () =>
        {
            var r = await upstream.ReceiveAsync();
            Assert.True(DnsMessage.TryParseQuery(r.Buffer, out _, out var end));
            await upstream.SendAsync(DnsMessage.Response(r.Buffer, end, 0, [IPAddress.Parse("192.0.2.99")]), r.RemoteEndPoint);
        });
        var upstreamEp = (IPEndPoint)upstream.Client.LocalEndPoint!;
        using var server = DnsServer.Start(new IPEndPoint(IPAddress.Loopback, 0),
            (name, type) => name == "web" ? [IPAddress.Parse("10.0.0.5")] : null, () => [upstreamEp]);

        using var client = new UdpClient();
        client.Connect(server.UdpEndPoint);
        await client.SendAsync(DnsMessage.Query(1, "web", DnsMessage.TypeA));
        var own = DnsMessage.ReadAnswers((await client.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(5))).Buffer);
        Assert.Equal([IPAddress.Parse("10.0.0.5")], own.Addresses);

        await client.SendAsync(DnsMessage.Query(2, "web", DnsMessage.TypeAAAA));
        var v6 = DnsMessage.ReadAnswers((await client.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(5))).Buffer);
        Assert.Equal(0, v6.Rcode);
        Assert.Empty(v6.Addresses);

        await client.SendAsync(DnsMessage.Query(3, "elsewhere.test", DnsMessage.TypeA));
        var forwarded = DnsMessage.ReadAnswers((await client.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(5))).Buffer);
        Assert.Equal([IPAddress.Parse("192.0.2.99")], forwarded.Addresses);
        await upstreamTask.WaitAsync(TimeSpan.FromSeconds(5));

        // TCP, length-prefixed.
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.TcpEndPoint);
        var stream = tcp.GetStream();
        var query = DnsMessage.Query(4, "web", DnsMessage.TypeA);
        await stream.WriteAsync(new byte[] { 0, (byte)query.Length });
        await stream.WriteAsync(query);
        var len = new byte[2];
        await stream.ReadExactlyAsync(len);
        var answer = new byte[len[0] * 256 + len[1]];
        await stream.ReadExactlyAsync(answer);
        Assert.Equal([IPAddress.Parse("10.0.0.5")], DnsMessage.ReadAnswers(answer).Addresses);
    }

    [Fact]
    public async Task ServerFailsWhenNoUpstreamAnswers()
    {
        using var server = DnsServer.Start(new IPEndPoint(IPAddress.Loopback, 0), (_, _) => null, () => []);
        using var client = new UdpClient();
        client.Connect(server.UdpEndPoint);
        await client.SendAsync(DnsMessage.Query(9, "x.test", DnsMessage.TypeA));
        var r = DnsMessage.ReadAnswers((await client.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(5))).Buffer);
        Assert.Equal(DnsMessage.RcodeServFail, r.Rcode);
    }
}
