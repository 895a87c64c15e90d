using System.Net.Sockets;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Skiff.Integration.Tests;

/// <summary>
/// Networks through the real Docker CLI (and Docker.DotNet): user-defined bridges with the
/// embedded DNS server, published ports on 127.0.0.1, --network none, network verbs, and cleanup
/// of veths, namespaces and NAT rules. Traffic stays on loopback and this daemon's bridges.
/// </summary>
[Collection("daemon")]
public sealed class NetworkTests(DaemonFixture f)
{
    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    private const string Httpd = "echo hello-from-httpd > /tmp/index.html; exec httpd -f -p 80 -h /tmp";

    private ProcResult Ok(params string[] args)
    {
        var r = f.Docker(args);
        Assert.True(r.ExitCode == 0, $"docker {string.Join(' ', args)}: {r}");
        return r;
    }

    [Fact]
    public void ABridgeDeletedBehindTheDaemonsBackIsMadeAgainAtTheNextStart()
    {
        var net = "gone" + Guid.NewGuid().ToString("N")[..8];
        var id = Ok("network", "create", net).Stdout.Trim();
        try
        {
            var bridge = "sk-" + id[..12];
            Assert.Equal(0, Proc.Run("/sbin/ip", ["link", "delete", bridge]).ExitCode);
            Assert.Equal("up\n", Ok("run", "--rm", "--network", net, "busybox", "echo", "up").Stdout);
            Assert.Equal(0, Proc.Run("/sbin/ip", ["link", "show", bridge]).ExitCode);
        }
        finally
        {
            f.Docker("network", "rm", net);
        }
    }

    [Fact]
    public void ContainersOnAUserNetworkReachEachOtherByNameAndAlias()
    {
        var net = Unique("net");
        var web = Unique("web");
        Ok("network", "create", net);
        try
        {
            Ok("run", "-d", "--name", web, "--network", net, "--network-alias", "www", "busybox", "sh", "-c", Httpd);
            var r = Ok("run", "--rm", "--network", net, "busybox", "sh", "-c",
                $"cat /etc/resolv.conf; for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://{web}/ && break; sleep 0.2; done; wget -qO- http://www/; ping -c1 -W2 {web} >/dev/null && echo ping-ok; echo hi | nc -w1 {web} 80 >/dev/null && echo nc-ok");
            Assert.Contains("nameserver 127.0.0.11", r.Stdout);
            Assert.Contains("options ndots:0", r.Stdout);
            Assert.Equal(2, r.Stdout.Split("hello-from-httpd").Length - 1);
            Assert.Contains("ping-ok", r.Stdout);
            Assert.Contains("nc-ok", r.Stdout);

            var inspect = JsonDocument.Parse(Ok("inspect", web).Stdout).RootElement[0];
            var ep = inspect.GetProperty("NetworkSettings").GetProperty("Networks").GetProperty(net);
            Assert.StartsWith($"10.{f.Subnet16}.", ep.GetProperty("IPAddress").GetString());
            Assert.StartsWith("02:42:", ep.GetProperty("MacAddress").GetString());
            Assert.Contains("www", ep.GetProperty("Aliases").EnumerateArray().Select(a => a.GetString()));
            var hosts = Ok("exec", web, "cat", "/etc/hosts").Stdout;
            Assert.Contains(ep.GetProperty("IPAddress").GetString()!, hosts);
        }
        finally
        {
            f.Docker("rm", "-f", web);
            f.Docker("network", "rm", net);
        }
    }

    [Fact]
    public void PublishedPortAnswersOnLoopbackAndGoesWithTheContainer()
    {
        var name = Unique("pub");
        Ok("run", "-d", "--name", name, "-p", "127.0.0.1::80", "-p", "80", "busybox", "sh", "-c", Httpd);
        int port;
        try
        {
            var lines = Ok("port", name, "80/tcp").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(2, lines.Length);
            var loopback = lines.Single(l => l.StartsWith("127.0.0.1:", StringComparison.Ordinal));
            port = int.Parse(loopback.Split(':')[1]);
            var any = int.Parse(lines.Single(l => l.StartsWith("0.0.0.0:", StringComparison.Ordinal)).Split(':')[1]);
            foreach (var p in new[] { port, any })
            {
                var body = "";
                for (var i = 0; i < 50 && !body.Contains("hello-from-httpd"); i++)
                {
                    body = Proc.Run("/usr/bin/curl", ["-s", "-m", "2", $"http://127.0.0.1:{p}/"]).Stdout;
                    if (!body.Contains("hello-from-httpd")) Thread.Sleep(100);
                }
                Assert.Contains("hello-from-httpd", body);
            }
            var ps = Ok("ps", "--filter", "name=" + name, "--format", "{{.Ports}}").Stdout;
            Assert.Contains($"127.0.0.1:{port}->80/tcp", ps);
            Assert.Contains($"dnat to", Proc.Run("/usr/sbin/nft", ["list", "table", "ip", f.NatTable]).Stdout);
        }
        finally
        {
            f.Docker("rm", "-f", name);
        }
        Assert.DoesNotContain($"dport {port} ", Proc.Run("/usr/sbin/nft", ["list", "table", "ip", f.NatTable]).Stdout);
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Assert.ThrowsAny<SocketException>(() => s.Connect("127.0.0.1", port));
    }

    [Fact]
    public void NetworkNoneHasOnlyLoopback()
    {
        var r = Ok("run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net");
        Assert.Equal("lo", r.Stdout.Trim());
    }

    [Fact]
    public void DefaultBridgeGivesAnAddressAndLeavesNothingBehind()
    {
        var r = Ok("run", "--rm", "busybox", "sh", "-c", "ls /sys/class/net | tr '\\n' ' '; ip -4 route | grep default");
        Assert.Contains("eth0 lo", r.Stdout);
        Assert.Contains($"default via 10.{f.Subnet16}.255.1", r.Stdout);
        var netns = Path.Combine(f.ExecRoot, "netns");
        for (var i = 0; i < 50 && Directory.Exists(netns) && Directory.EnumerateFiles(netns).Any(); i++) Thread.Sleep(50);
        // Other tests may have containers running: none of this one's namespace files may stay.
        Assert.DoesNotContain(Directory.Exists(netns) ? Directory.GetFiles(netns) : [], p => !Ok("ps", "-q", "--no-trunc").Stdout.Contains(Path.GetFileName(p)));
    }

    [Fact]
    public void NetworkVerbsThroughTheCli()
    {
        var net = Unique("cli");
        var c = Unique("c");
        try
        {
            Ok("network", "create", "--subnet", $"10.{f.Subnet16}.250.0/24", "--gateway", $"10.{f.Subnet16}.250.254", "--ip-range", $"10.{f.Subnet16}.250.128/25", "--label", "k=v", net);
            Assert.Contains(net, Ok("network", "ls").Stdout);
            Assert.Contains(net, Ok("network", "ls", "--filter", "label=k=v", "--format", "{{.Name}}").Stdout);
            var dup = f.Docker("network", "create", net);
            Assert.NotEqual(0, dup.ExitCode);
            Assert.Contains("already exists", dup.Stderr);

            var inspect = JsonDocument.Parse(Ok("network", "inspect", net).Stdout).RootElement[0];
            var ipam = inspect.GetProperty("IPAM").GetProperty("Config")[0];
            Assert.Equal($"10.{f.Subnet16}.250.0/24", ipam.GetProperty("Subnet").GetString());
            Assert.Equal($"10.{f.Subnet16}.250.254", ipam.GetProperty("Gateway").GetString());

            Ok("run", "-d", "--name", c, "busybox", "sleep", "60");
            Ok("network", "connect", "--alias", "extra", net, c);
            var addrs = Ok("exec", c, "ip", "-4", "addr").Stdout;
            Assert.Contains($"10.{f.Subnet16}.250.128/24", addrs);
            var members = JsonDocument.Parse(Ok("network", "inspect", net).Stdout).RootElement[0].GetProperty("Containers");
            Assert.Single(members.EnumerateObject());

            var fixedIp = Ok("run", "--rm", "--network", net, "--ip", $"10.{f.Subnet16}.250.200", "busybox", "sh", "-c", "ip -4 addr show eth0; wget -qO- -T 2 http://extra:1/ 2>&1; nslookup extra 127.0.0.11").Stdout;
            Assert.Contains($"10.{f.Subnet16}.250.200/24", fixedIp);
            Assert.Contains($"10.{f.Subnet16}.250.128", fixedIp.Split("127.0.0.11:53")[^1]);

            var busy = f.Docker("network", "rm", net);
            Assert.NotEqual(0, busy.ExitCode);
            Assert.Contains("active endpoints", busy.Stderr);

            Ok("network", "disconnect", net, c);
            Assert.DoesNotContain($"10.{f.Subnet16}.250.", Ok("exec", c, "ip", "-4", "addr").Stdout);

            var predefined = f.Docker("network", "rm", "bridge");
            Assert.NotEqual(0, predefined.ExitCode);
            Assert.Contains("pre-defined network", predefined.Stderr);

            var pruned = Ok("network", "prune", "-f", "--filter", "label=k=v");
            Assert.Contains(net, pruned.Stdout);
            Assert.DoesNotContain(net, Ok("network", "ls").Stdout);
            Assert.NotEqual(0, f.Docker("network", "inspect", net).ExitCode);
        }
        finally
        {
            f.Docker("rm", "-f", c);
            f.Docker("network", "rm", net);
        }
    }

    [Fact]
    public void AddHostDnsAndHostnameReachTheEtcFiles()
    {
        var r = Ok("run", "--rm", "--hostname", "box1", "--add-host", "db.example:10.9.8.7", "--add-host", "gw:host-gateway",
            "--dns", "10.1.2.3", "--dns-search", "corp.example", "--dns-option", "timeout:1", "busybox", "sh", "-c", "hostname; cat /etc/hosts /etc/resolv.conf");
        Assert.StartsWith("box1\n", r.Stdout);
        Assert.Contains("10.9.8.7\tdb.example", r.Stdout);
        Assert.Contains($"10.{f.Subnet16}.255.1\tgw", r.Stdout);
        Assert.Contains("nameserver 10.1.2.3", r.Stdout);
        Assert.Contains("search corp.example", r.Stdout);
        Assert.Contains("options timeout:1", r.Stdout);
    }

    [Fact]
    public async Task DockerDotNetCreatesWithEndpointsConfigAndPortBindings()
    {
        var net = Unique("dn");
        using var client = new DockerClientConfiguration(new Uri(f.Host)).CreateClient();
        var created = await client.Networks.CreateNetworkAsync(new NetworksCreateParameters { Name = net });
        string? id = null;
        try
        {
            var c = await client.Containers.CreateContainerAsync(new CreateContainerParameters
            {
                Image = "busybox",
                Cmd = ["sh", "-c", Httpd],
                ExposedPorts = new Dictionary<string, EmptyStruct> { ["80/tcp"] = default },
                HostConfig = new HostConfig
                {
                    NetworkMode = net,
                    PortBindings = new Dictionary<string, IList<PortBinding>> { ["80/tcp"] = [new PortBinding { HostIP = "127.0.0.1", HostPort = "" }] },
                },
                NetworkingConfig = new NetworkingConfig
                {
                    EndpointsConfig = new Dictionary<string, EndpointSettings> { [net] = new EndpointSettings { Aliases = ["svc"] } },
                },
            });
            id = c.ID;
            await client.Containers.StartContainerAsync(id, new ContainerStartParameters());
            var inspect = await client.Containers.InspectContainerAsync(id);
            var ep = inspect.NetworkSettings.Networks[net];
            Assert.Equal(created.ID, ep.NetworkID);
            Assert.Contains("svc", ep.Aliases);
            var binding = Assert.Single(inspect.NetworkSettings.Ports["80/tcp"]);
            Assert.Equal("127.0.0.1", binding.HostIP);
            Assert.True(int.Parse(binding.HostPort) > 0);
            var network = await client.Networks.InspectNetworkAsync(net);
            Assert.True(network.Containers.ContainsKey(id));
        }
        finally
        {
            if (id is not null) await client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true });
            await client.Networks.DeleteNetworkAsync(net);
        }
    }

    [Fact]
    public void NetworkSurvivesADaemonRestart()
    {
        var net = Unique("rs");
        var web = Unique("web");
        var client = Unique("cl");
        Ok("network", "create", net);
        try
        {
            Ok("run", "-d", "--name", web, "--network", net, "-p", "127.0.0.1::80", "busybox", "sh", "-c", Httpd);
            Ok("run", "-d", "--name", client, "--network", net, "busybox", "sleep", "120");
            var port = int.Parse(Ok("port", web, "80").Stdout.Trim().Split(':')[^1]);
            f.KillDaemon();
            f.StartDaemon();
            var r = Ok("exec", client, "sh", "-c", $"for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://{web}/ && break; sleep 0.2; done");
            Assert.Contains("hello-from-httpd", r.Stdout);
            Assert.Contains("hello-from-httpd", Proc.Run("/usr/bin/curl", ["-s", "-m", "2", $"http://127.0.0.1:{port}/"]).Stdout);
        }
        finally
        {
            f.Docker("rm", "-f", web, client);
            f.Docker("network", "rm", net);
        }
    }
}

/// <summary>The skiff CLI's network verbs and run flags against skiffd.</summary>
[Collection("daemon")]
public sealed class SkiffCliNetworkTests(DaemonFixture f)
{
    [Fact]
    public void NetworkVerbsAndRunFlags()
    {
        var net = "sk" + Guid.NewGuid().ToString("N")[..8];
        var c = "sc" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            var create = f.SkiffCli("network", "create", "--subnet", $"10.{f.Subnet16}.251.0/24", net);
            Assert.True(create.ExitCode == 0, create.ToString());
            Assert.Contains(net, f.SkiffCli("network", "ls").Stdout);
            var run = f.SkiffCli("run", "-d", "--name", c, "busybox", "sleep", "60");
            Assert.True(run.ExitCode == 0, run.ToString());
            var connect = f.SkiffCli("network", "connect", "--alias", "skalias", "--ip", $"10.{f.Subnet16}.251.9", net, c);
            Assert.True(connect.ExitCode == 0, connect.ToString());
            var r = f.SkiffCli("run", "--rm", "--network", net, "--ip", $"10.{f.Subnet16}.251.10", "busybox", "sh", "-c", "ip -4 addr show eth0; ping -c1 -W2 skalias");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains($"10.{f.Subnet16}.251.10/24", r.Stdout);
            Assert.Contains($"from 10.{f.Subnet16}.251.9", r.Stdout);
            Assert.Equal(0, f.SkiffCli("network", "disconnect", net, c).ExitCode);
            Assert.Equal(0, f.SkiffCli("rm", "-f", c).ExitCode);
            Assert.Equal(0, f.SkiffCli("network", "rm", net).ExitCode);
            Assert.DoesNotContain(net, f.SkiffCli("network", "ls").Stdout);
        }
        finally
        {
            f.SkiffCli("rm", "-f", c);
            f.SkiffCli("network", "rm", net);
        }
    }
}
