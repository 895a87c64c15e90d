using System.Net;

namespace Skiff.Network.Tests;

public sealed class Ipv6Tests
{
    [Fact]
    public void Cidr6ParsesAndNormalises()
    {
        var c = Cidr6.Parse("fd42:1::5/64");
        Assert.Equal("fd42:1::/64", c.ToString());
        Assert.True(c.Contains(IPAddress.Parse("fd42:1::ffff")));
        Assert.False(c.Contains(IPAddress.Parse("fd42:2::1")));
        Assert.False(c.Contains(IPAddress.Parse("10.0.0.1")));
        Assert.True(c.Overlaps(Cidr6.Parse("fd42::/16")));
        Assert.False(c.Overlaps(Cidr6.Parse("fd42:2::/64")));
        Assert.False(Cidr6.TryParse("fd42::", out _));
        Assert.False(Cidr6.TryParse("fd42::/129", out _));
        Assert.False(Cidr6.TryParse("10.0.0.0/8", out _));
        Assert.False(Cidr6.TryParse("::ffff:10.0.0.0/104", out _));
    }

    [Fact]
    public void ValidateAndAllocateAsDocker()
    {
        var (s, gw) = Ipam6.Validate("fd42:2::/64", null);
        Assert.Equal("fd42:2::1", gw.ToString());
        Assert.Throws<ArgumentException>(() => Ipam6.Validate("fd42:2::/64", "fd42:3::1"));
        Assert.Throws<ArgumentException>(() => Ipam6.Validate("fd42:2::/127", null));
        Assert.Throws<ArgumentException>(() => Ipam6.Validate("10.0.0.0/24", null));

        var used = new HashSet<UInt128>();
        var a = Ipam6.Allocate(s, gw, used, null);
        Assert.Equal("fd42:2::2", a.ToString());
        used.Add(Cidr6.ToUInt128(a));
        Assert.Equal("fd42:2::3", Ipam6.Allocate(s, gw, used, null).ToString());
        Assert.Equal("fd42:2::99", Ipam6.Allocate(s, gw, used, "fd42:2::99").ToString());
        Assert.Throws<InvalidOperationException>(() => Ipam6.Allocate(s, gw, used, "fd42:2::2"));
        Assert.Throws<InvalidOperationException>(() => Ipam6.Allocate(s, gw, used, "fd42:2::1"));
        Assert.Throws<ArgumentException>(() => Ipam6.Allocate(s, gw, used, "fd42:9::2"));
        var tiny = Cidr6.Parse("fd42:3::/126");
        var g = IPAddress.Parse("fd42:3::1");
        var taken = new HashSet<UInt128> { Cidr6.ToUInt128(IPAddress.Parse("fd42:3::2")), Cidr6.ToUInt128(IPAddress.Parse("fd42:3::3")) };
        Assert.Throws<InvalidOperationException>(() => Ipam6.Allocate(tiny, g, taken, null));
    }

    [Fact]
    public void ResponsesCarryAaaaRecordsForAaaaQuestions()
    {
        var v4 = IPAddress.Parse("10.1.2.3");
        var v6 = IPAddress.Parse("fd42:2::2");
        var q = DnsMessage.Query(7, "web", DnsMessage.TypeAAAA);
        Assert.True(DnsMessage.TryParseQuery(q, out var question, out var end));
        var answers = new[] { v4, v6 }.Where(a => DnsMessage.Answers(question.Type, a)).ToList();
        var (rcode, addresses) = DnsMessage.ReadAnswers(DnsMessage.Response(q, end, DnsMessage.RcodeNoError, answers));
        Assert.Equal(0, rcode);
        Assert.Equal([v6], addresses);
        Assert.False(DnsMessage.Answers(DnsMessage.TypeA, v6));
        Assert.True(DnsMessage.Answers(DnsMessage.TypeA, v4));
    }
}
