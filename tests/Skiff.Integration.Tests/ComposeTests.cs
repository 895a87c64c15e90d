using System.Text;
using Skiff.TestSupport;

namespace Skiff.Integration.Tests;

/// <summary>
/// skiff compose and Debian's docker-compose 1.29 against skiffd. The full scenario: a one-shot
/// seed service filling a named volume, a busybox httpd that is healthy, a client that fetches
/// the page by service name.
/// Every project is taken down in a finally block; the fixture removes whatever is left.
/// </summary>
[Collection("daemon")]
public sealed class ComposeTests(DaemonFixture fx) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("skiff-compose-it-").FullName;
    private const string DockerCompose = "/usr/bin/docker-compose";

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private CmdResult Skiff(string project, params string[] args)
        => ComposeScenario.Run(fx.Skiff, ["compose", "-p", project, .. args], _dir, fx.SkiffEnv);

    private CmdResult DockerCompose1(string project, params string[] args)
        => ComposeScenario.Run(DockerCompose, ["-p", project, .. args], _dir, fx.DockerEnv);

    private CmdResult Docker(string[] args)
    {
        var r = fx.Docker(args);
        return new CmdResult(r.ExitCode, r.Stdout, r.Stderr);
    }

    private static string Project() => "it" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public void SkiffComposeUpAndDown()
    {
        File.WriteAllText(Path.Combine(_dir, "compose.yaml"), ComposeScenario.ComposeYaml);
        string p = Project();
        ComposeScenario.UpAndDown(a => Skiff(p, a), Docker, p, [$"{p}-client-1", $"{p}-seed-1", $"{p}-web-1"]);
    }

    [Fact]
    public void DockerComposeUpAndDown()
    {
        File.WriteAllText(Path.Combine(_dir, "compose.yaml"), ComposeScenario.ComposeYaml);
        string p = Project();
        ComposeScenario.UpAndDown(a => DockerCompose1(p, a), Docker, p, [$"{p}_client_1", $"{p}_seed_1", $"{p}_web_1"]);
    }

    /// <summary>docker-compose 1.29 up, then skiff compose up, and back, on skiffd: nothing is recreated.</summary>
    [Fact]
    public void DockerCompose129ThenSkiffComposeRecreatesNothing()
    {
        File.WriteAllText(Path.Combine(_dir, "compose.yaml"), ComposeScenario.ComposeYaml);
        string p = Project();
        ComposeScenario.NoRecreateBetweenTools(a => DockerCompose1(p, a), a => Skiff(p, a), Docker, p);
    }

    /// <summary>
    /// Debian's docker-compose 1.29: two services on the project network, a named volume and a published port that
    /// answers from the host on 127.0.0.1; down -v leaves no container, network or volume.
    /// </summary>
    [Fact]
    public async Task DockerComposePublishedPortNetworkAndVolume()
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }
        File.WriteAllText(Path.Combine(_dir, "compose.yaml"), $$"""
            services:
              web:
                image: busybox
                command: ["sh", "-c", "echo served-from-volume > /www/index.html && exec httpd -f -p 80 -h /www"]
                stop_signal: SIGKILL
                ports:
                  - "127.0.0.1:{{port}}:80"
                volumes:
                  - www:/www
              client:
                image: busybox
                command: ["sh", "-c", "until wget -q -O- http://web/; do sleep 0.2; done"]
                depends_on:
                  - web
            volumes:
              www:
            """);
        string p = Project();
        try
        {
            var up = DockerCompose1(p, "up", "-d");
            Assert.True(up.ExitCode == 0, "up: " + up);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            string body = "";
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (DateTime.UtcNow < deadline && !body.Contains("served-from-volume", StringComparison.Ordinal))
            {
                try { body = await http.GetStringAsync($"http://127.0.0.1:{port}/"); }
                catch (HttpRequestException) { await Task.Delay(200); }
                catch (TaskCanceledException) { }
            }
            Assert.Contains("served-from-volume", body);
            var wait = fx.Docker("wait", $"{p}_client_1");
            Assert.Equal("0", wait.Stdout.Trim());
            var logs = fx.Docker("logs", $"{p}_client_1");
            Assert.Contains("served-from-volume", logs.Stdout);
        }
        finally
        {
            var down = DockerCompose1(p, "down", "-v");
            Assert.True(down.ExitCode == 0, "down: " + down);
        }
        Assert.Equal("", fx.Docker("ps", "-a", "--filter", "label=com.docker.compose.project=" + p, "--format", "{{.Names}}").Stdout.Trim());
        Assert.Equal("", fx.Docker("network", "ls", "--filter", "label=com.docker.compose.project=" + p, "--format", "{{.Name}}").Stdout.Trim());
        Assert.Equal("", fx.Docker("volume", "ls", "--filter", "label=com.docker.compose.project=" + p, "--format", "{{.Name}}").Stdout.Trim());
    }

    /// <summary>Containers without networks: up (attached, in dependency order), ps, logs, run, down.</summary>
    [Fact]
    public void NetworklessProjectUpPsLogsRunDown()
    {
        File.WriteAllText(Path.Combine(_dir, "compose.yaml"), """
            services:
              first:
                image: busybox
                network_mode: none
                command: ["sh", "-c", "echo first-ran"]
              second:
                image: busybox
                network_mode: none
                command: ["sh", "-c", "echo second-ran $$GREETING"]
                environment:
                  GREETING: ${GREETING:-hi}
                depends_on:
                  first:
                    condition: service_completed_successfully
            """);
        string p = Project();
        try
        {
            var up = Skiff(p, "up", "--exit-code-from", "second", "second");
            Assert.True(up.ExitCode == 0, up.ToString());
            Assert.Contains("second-1  | second-ran hi", up.Stdout);
            Assert.Contains($"Container {p}-first-1  Exited", up.Stderr);

            var ps = Skiff(p, "ps", "-a", "--services");
            Assert.Equal(["first", "second"], ps.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
            var logs = Skiff(p, "logs", "--no-color", "first");
            Assert.Equal("first-1  | first-ran\n", logs.Stdout);
            var labels = fx.Docker("inspect", "--format", "{{index .Config.Labels \"com.docker.compose.service\"}} {{index .Config.Labels \"com.docker.compose.oneoff\"}}", $"{p}-second-1");
            Assert.Equal("second False\n", labels.Stdout);

            var run = Skiff(p, "run", "--rm", "-T", "--no-deps", "second", "sh", "-c", "echo one-off; exit 4");
            Assert.Equal(4, run.ExitCode);
            Assert.Contains("one-off", run.Stdout);
        }
        finally
        {
            var down = Skiff(p, "down");
            Assert.True(down.ExitCode == 0, down.ToString());
        }
        var left = fx.Docker("ps", "-a", "--filter", "label=com.docker.compose.project=" + p, "--format", "{{.Names}}");
        Assert.Equal("", left.Stdout.Trim());
    }

    /// <summary>Debian's docker-compose 1.29, unmodified, on a network-less project; skiff compose sees what it made.</summary>
    [Fact]
    public void DockerComposeNetworklessProject()
    {
        File.WriteAllText(Path.Combine(_dir, "compose.yaml"), """
            services:
              first:
                image: busybox
                network_mode: none
                command: ["sh", "-c", "echo first-ran"]
              second:
                image: busybox
                network_mode: none
                command: ["sh", "-c", "echo second-ran"]
                depends_on:
                  first:
                    condition: service_completed_successfully
            """);
        string p = Project();
        try
        {
            var up = DockerCompose1(p, "up", "--no-color", "--exit-code-from", "second", "second");
            Assert.True(up.ExitCode == 0, up.ToString());
            Assert.Contains("second-ran", up.Stdout);
            var ps = Skiff(p, "ps", "-a", "--services");
            Assert.Equal(["first", "second"], ps.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        }
        finally
        {
            var down = DockerCompose1(p, "down");
            Assert.True(down.ExitCode == 0, down.ToString());
        }
        var left = fx.Docker("ps", "-a", "--filter", "label=com.docker.compose.project=" + p, "--format", "{{.Names}}");
        Assert.Equal("", left.Stdout.Trim());
    }

    [Fact]
    public void ConfigNeedsNoDaemonAndReportsBadFiles()
    {
        File.WriteAllText(Path.Combine(_dir, "compose.yaml"), "services:\n  a:\n    image: busybox\n    depends_on: [missing]\n");
        var bad = Skiff("x", "config");
        Assert.Equal(1, bad.ExitCode);
        Assert.Equal("service \"a\" depends on undefined service \"missing\": invalid compose project\n", bad.Stderr);
        File.WriteAllText(Path.Combine(_dir, "compose.yaml"), "services:\n  a:\n    image: busybox:${TAG:-1.36}\n");
        var ok = ComposeScenario.Run(fx.Skiff, ["-H", "unix:///nonexistent.sock", "compose", "-p", "cfg", "config", "--images"], _dir);
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.Equal("busybox:1.36\n", ok.Stdout);
    }
}
