using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Skiff.Network.Tests;

/// <summary>
/// Real bridges, veths and namespaces, each test with names of its own, removed in finally blocks
/// even when an assertion fails. Traffic only between the test's namespace and its bridge.
/// </summary>
public sealed class KernelTests
{
    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task SandboxOnBridgeReachesTheGateway()
    {
        var bridge = Unique("skt");
        var dir = Path.Combine(Path.GetTempPath(), Unique("skiff-netns-"));
        var ns = Path.Combine(dir, "ns");
        var veth = Unique("vt");
        using var host = Rtnl.Open();
        try
        {
            var gw = IPAddress.Parse("10.251.77.1");
            var index = host.EnsureBridge(bridge, gw, 24);
            Assert.True(index > 0);
            Assert.Equal(index, host.EnsureBridge(bridge, gw, 24));
            var sw = Stopwatch.StartNew();
            Sandbox.Create(ns, host, [new EndpointSpec(bridge, veth, "eth0", IPAddress.Parse("10.251.77.2"), 24, gw, DefaultRoute: true)]);
            var setup = sw.Elapsed;
            Assert.True(setup < TimeSpan.FromSeconds(1), $"sandbox setup took {setup}");
            var links = host.Links();
            var v = Assert.Single(links, l => l.Name == veth);
            Assert.Equal(index, v.Master);
            Assert.Contains(links, l => l.Name == bridge && l.Kind == "bridge");

            // From inside: the container's interface has its address and MAC and reaches the bridge's address over TCP.
            using var listener = new TcpListener(gw, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var accept = listener.AcceptTcpClientAsync();
            var names = NetNs.Enter(ns, () =>
            {
                using var inner = Rtnl.Open();
                using var c = new TcpClient();
                c.Connect(gw, port);
                return inner.Links().Select(l => l.Name).Order().ToList();
            });
            Assert.Equal(["eth0", "lo"], names);
            using var accepted = await accept;
            Assert.Equal(IPAddress.Parse("10.251.77.2"), ((IPEndPoint)accepted.Client.RemoteEndPoint!).Address);
            var mac = File.ReadAllText($"/sys/class/net/{veth}/address").Trim();
            Assert.Matches("^[0-9a-f:]{17}$", mac);
        }
        finally
        {
            Sandbox.Delete(ns, host, [veth]);
            host.DeleteLink(bridge);
            Directory.Delete(dir, recursive: true);
        }
        Assert.Null(host.IndexOf(veth));
        Assert.Null(host.IndexOf(bridge));
        Assert.False(File.Exists(ns));
    }

    [Fact]
    public void DnsServerAnswersInsideTheNamespace()
    {
        var dir = Path.Combine(Path.GetTempPath(), Unique("skiff-netns-"));
        var ns = Path.Combine(dir, "ns");
        try
        {
            NetNs.Create(ns, () => 0);
            using var dns = DnsServer.StartInNamespace(ns, (n, t) => n == "web" ? [IPAddress.Parse("10.0.0.5")] : null, () => []);
            var (rcode, addrs) = NetNs.Enter(ns, () =>
            {
                using var u = new UdpClient();
                u.Client.ReceiveTimeout = 5000;
                u.Connect(DnsServer.ContainerAddress, 53);
                u.Send(DnsMessage.Query(7, "web", DnsMessage.TypeA));
                IPEndPoint? from = null;
                return DnsMessage.ReadAnswers(u.Receive(ref from));
            });
            Assert.Equal(0, rcode);
            Assert.Equal([IPAddress.Parse("10.0.0.5")], addrs);
        }
        finally
        {
            NetNs.Delete(ns);
            Directory.Delete(dir, recursive: true);
        }
    }
}
