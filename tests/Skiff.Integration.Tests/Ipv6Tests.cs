using System.Text;
using System.Text.RegularExpressions;

namespace Skiff.Integration.Tests;

/// <summary>
/// IPv6 on user-defined networks through the Docker CLI v28, compared with a private dockerd 20.10:
/// network create --ipv6 (and its refusal without an IPv6 subnet), IPAM config, the containers'
/// IPv6 addresses (allocated and --ip6), gateway, hosts entry, AAAA answers of the embedded DNS and
/// IPv6 traffic between containers and to the bridge. Each daemon gets its own random ULA /64
/// (fdXX:XXXX:XXXX:1:: and ...:2::), masked in the transcripts; everything goes with the network.
/// </summary>
[Collection("daemon")]
public sealed partial class Ipv6Tests(DaemonFixture f)
{
    [GeneratedRegex(@"\b(\d{1,3}\.){3}\d{1,3}(/\d+)?\b")]
    private static partial Regex Ipv4();

    [GeneratedRegex(@"\b[0-9a-f]{64}\b|\b[0-9a-f]{12}\b")]
    private static partial Regex ContainerId();

    private static string Scenario(string u, string prefix, Func<string[], ProcResult> docker)
    {
        var log = new StringBuilder();
        string net = "v6n" + u, a = "v6a" + u, b = "v6b" + u;
        string Mask(string s) => ContainerId().Replace(Ipv4().Replace(s.Replace(prefix, "<p>"), "<v4>"), "<id>");
        void Step(params string[] args)
        {
            var r = docker(args);
            log.Append("$ docker ").AppendJoin(' ', args.Select(Mask)).Append('\n')
               .Append("exit ").Append(r.ExitCode).Append('\n')
               .Append(Mask(r.Stdout)).Append(Mask(r.Stderr)).Append('\n');
        }
        var ep = "{{with index .NetworkSettings.Networks \"" + net + "\"}}{{.GlobalIPv6Address}} {{.GlobalIPv6PrefixLen}} {{.IPv6Gateway}} {{json .IPAMConfig}}{{end}}";
        try
        {
            Step("network", "create", "--ipv6", net);
            Step("network", "create", "--ipv6", "--subnet", prefix + ":/64", net);
            Step("network", "inspect", "-f", "{{.EnableIPv6}} {{json .IPAM.Config}}", net);
            Step("run", "-d", "--name", a, "--network", net, "busybox", "sleep", "300");
            Step("run", "-d", "--name", b, "--network", net, "--ip6", prefix + ":99", "busybox", "sleep", "300");
            Step("inspect", "-f", ep, a);
            Step("inspect", "-f", ep, b);
            Step("network", "inspect", "-f", "{{range .Containers}}{{if eq .Name \"" + b + "\"}}{{.IPv6Address}}{{end}}{{end}}", net);
            Step("exec", a, "sh", "-c",
                "ip -6 addr show dev eth0 scope global | grep inet6; ip -6 route show default; tail -n 2 /etc/hosts; " +
                $"ping -6 -c1 -W2 {b} >/dev/null && echo ping-b-ok; for i in 1 2 3 4 5; do ping -6 -c1 -W1 {prefix}:1 >/dev/null && echo ping-gw-ok && break; done; " +
                $"nslookup -type=aaaa {b} 127.0.0.11 | grep -A1 '^Name:'");
            Step("run", "--rm", "--network", net, "--ip6", "fd00:dead::1", "busybox", "true");
            Step("run", "--rm", "--network", net, "--ip6", prefix + ":1", "busybox", "true");
        }
        finally
        {
            docker(["rm", "-f", a, b]);
            docker(["network", "rm", net]);
        }
        return log.ToString();
    }

    [Fact]
    public void Ipv6NetworksBehaveAsWithDockerd()
    {
        var u = Guid.NewGuid().ToString("N")[..6];
        var rnd = Random.Shared;
        var ula = $"fd{rnd.Next(0x10, 0x100):x2}:{rnd.Next(0x1000, 0x10000):x4}:{rnd.Next(0x1000, 0x10000):x4}";
        var skiff = Scenario(u, ula + ":1:", args => f.Docker(args));
        using var dockerd = new PrivateDockerd(withBridge: true);
        var env = new Dictionary<string, string>(f.DockerEnv) { ["DOCKER_HOST"] = dockerd.Host };
        var docker = Scenario(u, ula + ":2:", args => Proc.Run(DaemonFixture.DockerCli, args, env, timeoutMs: 120_000));
        Assert.Equal(docker, skiff);
        Assert.Contains("could not find an available, non-overlapping IPv6 address pool", skiff);
        Assert.Contains("true [{\"Subnet\":\"<v4>\",\"Gateway\":\"<v4>\"},{\"Subnet\":\"<p>:/64\"}]", skiff);
        Assert.Contains("<p>:2 64 <p>:1 null", skiff);
        Assert.Contains("<p>:99 64 <p>:1 {\"IPv6Address\":\"<p>:99\"}", skiff);
        Assert.Contains("inet6 <p>:2/64 scope global", skiff);
        Assert.Contains("default via <p>:1 dev eth0", skiff);
        Assert.Contains("ping-b-ok\nping-gw-ok\n", skiff);
        Assert.Contains($"Address: <p>:99", skiff);
    }
}
