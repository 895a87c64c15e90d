using System.Text;
using System.Text.RegularExpressions;

namespace Skiff.Integration.Tests;

/// <summary>
/// Legacy links (--link) through the Docker CLI v28: the same scenario runs against skiffd and a
/// private dockerd 20.10 with a default bridge, and the transcripts (exit codes, output, errors,
/// with addresses and IDs masked) must be equal. Covers the hosts entry and variables on the
/// default bridge, inspect's HostConfig.Links, dockerd's refusals, rm --link, and links as DNS
/// aliases on a user-defined network. Traffic stays on the two daemons' own bridges.
/// </summary>
[Collection("daemon")]
public sealed partial class LinkTests(DaemonFixture f)
{
    [GeneratedRegex(@"\b(\d{1,3}\.){3}\d{1,3}\b")]
    private static partial Regex Ipv4();

    [GeneratedRegex(@"\b[0-9a-f]{64}\b|\b[0-9a-f]{12}\b")]
    private static partial Regex ContainerId();

    private static string Mask(string s) => ContainerId().Replace(Ipv4().Replace(s, "<ip>"), "<id>");

    /// <summary>Runs the scenario with one daemon; returns its transcript. Names carry <paramref name="u"/>, so they match on both daemons.</summary>
    private static string Scenario(string u, Func<string[], ProcResult> docker)
    {
        var log = new StringBuilder();
        string child = "c" + u, p1 = "p1" + u, p2 = "p2" + u, net = "n" + u, target = "t" + u, onNet = "u" + u;
        void Step(params string[] args)
        {
            var r = docker(args);
            log.Append("$ docker ").AppendJoin(' ', args).Append('\n')
               .Append("exit ").Append(r.ExitCode).Append('\n')
               .Append(Mask(r.Stdout)).Append(Mask(r.Stderr)).Append('\n');
        }
        try
        {
            Step("run", "-d", "--name", child, "-e", "FOO=bar", "-e", "HOME=/h", "--expose", "80", "--expose", "81", "--expose", "82/udp", "--expose", "90", "busybox", "sleep", "300");
            Step("run", "--rm", "--name", p1, "--link", child + ":my-al", "-e", "MY_AL_ENV_FOO=mine", "busybox", "sh", "-c",
                "cat /proc/1/environ | tr '\\0' '\\n'; cat /etc/hosts; ping -c1 -W2 my-al >/dev/null && echo ping-alias-ok; ping -c1 -W2 " + child + " >/dev/null && echo ping-name-ok");
            Step("create", "--name", p2, "--link", child, "busybox", "sleep", "300");
            Step("inspect", "-f", "{{json .HostConfig.Links}}", p2);
            Step("create", "--link", "nosuch" + u, "busybox");
            Step("create", "--network", "host", "--link", child, "busybox");
            Step("stop", "-t", "0", child);
            Step("start", p2);
            Step("start", child);
            Step("start", p2);
            Step("exec", p2, "sh", "-c", "tail -n 2 /etc/hosts; env | grep -c _PORT_");
            Step("rm", "-l", child);
            Step("rm", "-l", "/" + p2 + "/nosuch");
            Step("rm", "-l", "/" + p2 + "/" + child);
            Step("inspect", "-f", "{{json .HostConfig.Links}}", p2);
            Step("ps", "-a", "--filter", "name=" + u, "--format", "{{.Names}}");

            Step("network", "create", net);
            Step("run", "-d", "--name", target, "--network", net, "busybox", "sleep", "300");
            Step("run", "--rm", "--network", net, "--link", target + ":db", "busybox", "sh", "-c",
                "ping -c1 -W2 db >/dev/null && echo ping-db-ok; grep -cw db /etc/hosts; env | grep -c ^DB_");
            Step("create", "--name", onNet, "--network", net, "--link", "nosuch:zz", "busybox");
            Step("inspect", "-f", "{{json .HostConfig.Links}} {{json (index .NetworkSettings.Networks \"" + net + "\").Links}}", onNet);
        }
        finally
        {
            docker(["rm", "-f", child, p1, p2, target, onNet]);
            docker(["network", "rm", net]);
        }
        return log.ToString();
    }

    [Fact]
    public void LinksBehaveAsWithDockerd()
    {
        var u = Guid.NewGuid().ToString("N")[..6];
        var skiff = Scenario(u, args => f.Docker(args));
        using var dockerd = new PrivateDockerd(withBridge: true);
        var env = new Dictionary<string, string>(f.DockerEnv) { ["DOCKER_HOST"] = dockerd.Host };
        var docker = Scenario(u, args => Proc.Run(DaemonFixture.DockerCli, args, env, timeoutMs: 120_000));
        Assert.Equal(docker, skiff);
        // What the transcripts must show (so that two equally broken daemons do not pass).
        Assert.Contains("MY_AL_PORT=tcp://<ip>:80\nMY_AL_PORT_80_TCP_START=tcp://<ip>:80\n", skiff);
        Assert.Contains($"MY_AL_NAME=/p1{u}/my-al\nMY_AL_ENV_FOO=mine\n", skiff);
        Assert.Contains($"<ip>\tmy-al <id> c{u}\n<ip>\t<id>\n", skiff);
        Assert.Contains("ping-alias-ok\nping-name-ok", skiff);
        Assert.Contains($"[\"/c{u}:/p2{u}/c{u}\"]", skiff);
        Assert.Contains($"Error response from daemon: could not get container for nosuch{u}: No such container: nosuch{u}", skiff);
        Assert.Contains("conflicting options: host type networking can't be used with links", skiff);
        Assert.Contains($"Cannot link to a non running container: /c{u} AS /p2{u}/c{u}", skiff);
        Assert.Contains("Conflict, cannot remove the default link name of the container", skiff);
        Assert.Contains("ping-db-ok\n0\n0\n", skiff);
        Assert.Contains("null [\"nosuch:zz\"]", skiff);
    }

    /// <summary>docker-compose 1.29's links: on the project network as DNS aliases, on network_mode bridge as legacy links.</summary>
    [Fact]
    public void DockerComposeLinks()
    {
        var dir = Directory.CreateTempSubdirectory("skiff-links-").FullName;
        var project = "lk" + Guid.NewGuid().ToString("N")[..6];
        File.WriteAllText(Path.Combine(dir, "docker-compose.yml"), """
            version: "2.4"
            services:
              db:
                image: busybox
                command: sleep 300
              web:
                image: busybox
                command: sleep 300
                links: ["db:database"]
              db2:
                image: busybox
                command: sleep 300
                network_mode: bridge
                environment: [X=1]
              legacy:
                image: busybox
                command: sleep 300
                network_mode: bridge
                links: ["db2:dbx"]
            """);
        var env = new Dictionary<string, string>(f.DockerEnv);
        try
        {
            var up = Proc.Run("/bin/sh", ["-c", $"cd '{dir}' && /usr/bin/docker-compose -p {project} up -d"], env, timeoutMs: 180_000);
            Assert.True(up.ExitCode == 0, up.ToString());
            var web = f.Docker("exec", $"{project}_web_1", "sh", "-c", "ping -c1 -W2 database >/dev/null && echo ok");
            Assert.Equal("ok\n", web.Stdout);
            var legacy = f.Docker("exec", $"{project}_legacy_1", "sh", "-c", "grep -c dbx /etc/hosts; env | grep DBX_ | sort");
            Assert.StartsWith("1\n", legacy.Stdout);
            Assert.Contains($"DBX_NAME=/{project}_legacy_1/dbx\n", legacy.Stdout);
            Assert.Contains("DBX_ENV_X=1\n", legacy.Stdout);
            var links = f.Docker("inspect", "-f", "{{json .HostConfig.Links}}", $"{project}_legacy_1").Stdout;
            Assert.Contains($"\"/{project}_db2_1:/{project}_legacy_1/dbx\"", links);
        }
        finally
        {
            Proc.Run("/bin/sh", ["-c", $"cd '{dir}' && /usr/bin/docker-compose -p {project} down -t 0"], env, timeoutMs: 180_000);
            Directory.Delete(dir, recursive: true);
        }
    }
}
