using Skiff.TestSupport;

namespace Skiff.Compose.Tests;

/// <summary>
/// A fact that runs only when SKIFF_TEST_DOCKER_HOST names a real dockerd with busybox:latest
/// (run-dockerd-tests.sh starts one on private roots), so skiff compose is checked against
/// Docker itself and side by side with Debian's docker-compose.
/// </summary>
public sealed class DockerdFactAttribute : FactAttribute
{
    public DockerdFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("SKIFF_TEST_DOCKER_HOST")))
            Skip = "SKIFF_TEST_DOCKER_HOST is not set (run tests/Skiff.Compose.Tests/run-dockerd-tests.sh, which starts a private dockerd); skipping compose against a real dockerd";
    }
}

/// <summary>
/// skiff compose against a real dockerd: the acceptance scenario with skiff compose and with
/// docker-compose, then the two tools on one project (same names and labels), recreation by
/// config hash, scaling, logs, exec and run. Every project is taken down in a finally block.
/// </summary>
public sealed class DockerdComposeTests : IDisposable
{
    private static string Host => Environment.GetEnvironmentVariable("SKIFF_TEST_DOCKER_HOST")!;
    private const string DockerCli = "/usr/local/bin/docker";
    private const string DockerCompose = "/usr/bin/docker-compose";
    private readonly string _dir = Directory.CreateTempSubdirectory("skiff-compose-dockerd-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static string SkiffBinary()
    {
        if (Environment.GetEnvironmentVariable("SKIFF_TEST_BINARY") is { Length: > 0 } b) return b;
        if (Environment.GetEnvironmentVariable("SKIFF_BIN") is { Length: > 0 } bin) return Path.Combine(bin, "skiff");
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "out", "bin", "skiff"))) return Path.Combine(d.FullName, "out", "bin", "skiff");
        throw new InvalidOperationException("the skiff binary was not found: run scripts/build.sh or set SKIFF_BIN");
    }

    private CmdResult Skiff(string project, params string[] args)
        => ComposeScenario.Run(SkiffBinary(), ["-H", Host, "compose", "-p", project, .. args], _dir, new Dictionary<string, string> { ["SKIFF_HOST"] = Host });

    private CmdResult Compose(string project, params string[] args)
        => ComposeScenario.Run(DockerCompose, ["-p", project, .. args], _dir, new Dictionary<string, string> { ["DOCKER_HOST"] = Host });

    private static CmdResult Docker(params string[] args) => ComposeScenario.Run(DockerCli, ["-H", Host, .. args]);

    private static string Project() => "sk" + Guid.NewGuid().ToString("N")[..8];

    [DockerdFact]
    public void SkiffComposeUpAndDown()
    {
        File.WriteAllText(Path.Combine(_dir, "compose.yaml"), ComposeScenario.ComposeYaml);
        string p = Project();
        ComposeScenario.UpAndDown(a => Skiff(p, a), Docker, p, [$"{p}-client-1", $"{p}-seed-1", $"{p}-web-1"]);
    }

    [DockerdFact]
    public void DockerComposeUpAndDown()
    {
        File.WriteAllText(Path.Combine(_dir, "compose.yaml"), ComposeScenario.ComposeYaml);
        string p = Project();
        ComposeScenario.UpAndDown(a => Compose(p, a), Docker, p, [$"{p}_client_1", $"{p}_seed_1", $"{p}_web_1"]);
    }

    /// <summary>docker-compose 1.29 up, then skiff compose up, and back: nothing is recreated (the config-hash is 1.29's).</summary>
    [DockerdFact]
    public void DockerCompose129ThenSkiffComposeRecreatesNothing()
    {
        File.WriteAllText(Path.Combine(_dir, "compose.yaml"), ComposeScenario.ComposeYaml);
        string p = Project();
        ComposeScenario.NoRecreateBetweenTools(a => Compose(p, a), a => Skiff(p, a), Docker, p);
    }

    [DockerdFact]
    public void OneProjectTwoToolsLabelsRecreateScaleLogsExecRun()
    {
        File.WriteAllText(Path.Combine(_dir, "compose.yaml"), ComposeScenario.ComposeYaml.Replace("\"-h\", \"/www\"]", "\"-h\", \"/www\"]\n    environment:\n      REV: ${REV:-1}"));
        string p = Project();
        try
        {
            var up = Skiff(p, "up", "-d");
            Assert.True(up.ExitCode == 0, up.ToString());
            string web = $"{p}-web-1";
            var labels = Docker("inspect", "--format", "{{json .Config.Labels}}", web);
            foreach (var expected in new[]
            {
                $"\"com.docker.compose.project\":\"{p}\"", "\"com.docker.compose.service\":\"web\"", "\"com.docker.compose.container-number\":\"1\"",
                "\"com.docker.compose.oneoff\":\"False\"", "\"com.docker.compose.config-hash\":", $"\"com.docker.compose.project.working_dir\":\"{_dir}\"",
                $"\"com.docker.compose.project.config_files\":\"{Path.Combine(_dir, "compose.yaml")}\"", "\"com.docker.compose.version\":",
            })
                Assert.Contains(expected, labels.Stdout);
            var aliases = Docker("inspect", "--format", "{{json .NetworkSettings.Networks}}", web);
            Assert.Contains("\"web\"", aliases.Stdout);
            Assert.Contains($"{p}_default", aliases.Stdout);

            // docker-compose sees the project skiff made.
            var ps = Compose(p, "ps", "--services");
            Assert.True(ps.ExitCode == 0, ps.ToString());
            Assert.Equal(["client", "seed", "web"], ps.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));

            // Unchanged: nothing is recreated. Changed: only web is.
            string id1 = Docker("inspect", "--format", "{{.Id}}", web).Stdout.Trim();
            var again = Skiff(p, "up", "-d", "web");
            Assert.True(again.ExitCode == 0, again.ToString());
            Assert.Equal(id1, Docker("inspect", "--format", "{{.Id}}", web).Stdout.Trim());
            var changed = ComposeScenario.Run(SkiffBinary(), ["-H", Host, "compose", "-p", p, "up", "-d", "web"], _dir, new Dictionary<string, string> { ["REV"] = "2" });
            Assert.True(changed.ExitCode == 0, changed.ToString());
            Assert.Contains($"Container {web}  Recreate", changed.Stderr);
            Assert.NotEqual(id1, Docker("inspect", "--format", "{{.Id}}", web).Stdout.Trim());

            // Scale up and down.
            var scaled = Skiff(p, "up", "-d", "--no-deps", "--scale", "client=3", "client");
            Assert.True(scaled.ExitCode == 0, scaled.ToString());
            Assert.Equal(3, ComposeScenario.Resources(Docker, p).Containers.Count(n => n.StartsWith($"{p}-client-", StringComparison.Ordinal)));
            var down1 = Skiff(p, "up", "-d", "--no-deps", "--scale", "client=1", "client");
            Assert.True(down1.ExitCode == 0, down1.ToString());
            Assert.Equal([$"{p}-client-1"], ComposeScenario.Resources(Docker, p).Containers.Where(n => n.StartsWith($"{p}-client-", StringComparison.Ordinal)));

            // logs with Docker Compose's prefix; exec and run in the service's context.
            var logs = Skiff(p, "logs", "--no-color", "client");
            Assert.True(logs.ExitCode == 0, logs.ToString());
            // client-1 ran twice: `up` starts an existing stopped container again.
            Assert.All(logs.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Equal("client-1  | hello-from-volume", l));
            Assert.NotEmpty(logs.Stdout);
            var exec = Skiff(p, "exec", "-T", "web", "cat", "/www/index.html");
            Assert.True(exec.ExitCode == 0, exec.ToString());
            Assert.Equal("hello-from-volume\n", exec.Stdout);
            var run = Skiff(p, "run", "--rm", "-T", "--no-deps", "client", "sh", "-c", "wget -q -O- http://web/; exit 3");
            Assert.Equal(3, run.ExitCode);
            Assert.Contains("hello-from-volume", run.Stdout);
            Assert.DoesNotContain(ComposeScenario.Resources(Docker, p).Containers, n => n.Contains("-run-", StringComparison.Ordinal));

            var stop = Skiff(p, "stop");
            Assert.True(stop.ExitCode == 0, stop.ToString());
            var psAfter = Skiff(p, "ps", "-q");
            Assert.Equal("", psAfter.Stdout.Trim());
        }
        finally
        {
            // docker-compose tears down what skiff compose made: the labels are the same.
            var down = Compose(p, "down", "-v");
            Assert.True(down.ExitCode == 0, down.ToString());
        }
        var left = ComposeScenario.Resources(Docker, p);
        Assert.Empty(left.Containers);
        Assert.Empty(left.Networks);
        Assert.Empty(left.Volumes);
    }

    [DockerdFact]
    public void BuildWithArgsAndDockerIgnoreThenDownRemovesTheImage()
    {
        string ctx = Directory.CreateDirectory(Path.Combine(_dir, "ctx")).FullName;
        File.WriteAllText(Path.Combine(ctx, "Dockerfile"), "FROM busybox\nARG GREETING=default\nCOPY . /ctx\nRUN echo \"$GREETING\" > /greeting\nCMD [\"sh\", \"-c\", \"ls /ctx; cat /greeting\"]\n");
        File.WriteAllText(Path.Combine(ctx, "kept.txt"), "x");
        File.WriteAllText(Path.Combine(ctx, "ignored.log"), "x");
        File.WriteAllText(Path.Combine(ctx, ".dockerignore"), "*.log\n");
        File.WriteAllText(Path.Combine(_dir, "compose.yaml"), "services:\n  app:\n    build:\n      context: ./ctx\n      args:\n        GREETING: hi-arg\n    network_mode: none\n");
        string p = Project();
        try
        {
            var build = Skiff(p, "build");
            Assert.True(build.ExitCode == 0, build.ToString());
            var up = Skiff(p, "up", "--no-color");
            Assert.True(up.ExitCode == 0, up.ToString());
            Assert.Contains("app-1  | kept.txt", up.Stdout);
            Assert.Contains("app-1  | hi-arg", up.Stdout);
            Assert.DoesNotContain("ignored.log", up.Stdout);
        }
        finally
        {
            var down = Skiff(p, "down", "--rmi", "local");
            Assert.True(down.ExitCode == 0, down.ToString());
        }
        Assert.NotEqual(0, Docker("image", "inspect", p + "-app").ExitCode);
    }
}
