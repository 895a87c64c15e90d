using System.Diagnostics;

namespace Skiff.Cli.Tests;

/// <summary>
/// A fact that runs only when SKIFF_TEST_DOCKER_HOST names a Docker daemon socket with a
/// busybox:latest image, so the real docker CLI and skiff can be compared against it.
/// </summary>
public sealed class DockerFactAttribute : FactAttribute
{
    public DockerFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("SKIFF_TEST_DOCKER_HOST")))
            Skip = "SKIFF_TEST_DOCKER_HOST is not set (e.g. unix:///tmp/d/docker.sock of a dockerd with busybox:latest); skipping comparison with the docker CLI";
    }
}

/// <summary>
/// Runs the same command through skiff and through Docker's CLI against one real daemon and
/// compares output and exit status ("docker" in Docker's text is replaced by "skiff").
/// Every container is created with --rm or removed in a finally block; every process is waited for.
/// </summary>
public class DockerComparisonTests
{
    private static string Host => Environment.GetEnvironmentVariable("SKIFF_TEST_DOCKER_HOST")!;
    private static string DockerCli => Environment.GetEnvironmentVariable("SKIFF_TEST_DOCKER_CLI") ?? "/usr/local/bin/docker";
    private static string SkiffCli => Environment.GetEnvironmentVariable("SKIFF_TEST_BINARY") ?? Path.Combine(AppContext.BaseDirectory, "skiff");

    private sealed record Result(string Out, string Err, int Code);

    private static async Task<Result> Exec(string exe, IEnumerable<string> args, string? stdin = null)
    {
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-H");
        psi.ArgumentList.Add(Host);
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("DOCKER_HOST");
        psi.Environment.Remove("SKIFF_HOST");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null) await p.StandardInput.WriteAsync(stdin);
        p.StandardInput.Close();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
            throw;
        }
        return new Result(await stdout, await stderr, p.ExitCode);
    }

    private static Task<Result> Skiff(params string[] args) => Exec(SkiffCli, args);
    private static Task<Result> Docker(params string[] args) => Exec(DockerCli, args);

    private static string AsSkiff(string dockerText) => dockerText.Replace("docker", "skiff").Replace("Docker", "Skiff");

    private static async Task AssertSame(params string[] args)
    {
        var d = await Docker(args);
        var s = await Skiff(args);
        Assert.True(d.Code == s.Code, $"exit status of '{string.Join(' ', args)}': docker {d.Code}, skiff {s.Code}; skiff stderr: {s.Err}; docker stderr: {d.Err}");
        Assert.Equal(d.Out, s.Out);
        Assert.Equal(AsSkiff(d.Err), s.Err);
    }

    /// <summary>
    /// <see cref="AssertSame"/> for read-only listings with relative times ("30 seconds ago"), which can tick between
    /// the two CLIs' calls: the pair is asked again (at most three times) until a tick does not fall between them.
    /// </summary>
    private static async Task AssertSameListing(params string[] args)
    {
        for (var attempt = 1; attempt < 3; attempt++)
        {
            var d = await Docker(args);
            var s = await Skiff(args);
            if (d.Code == s.Code && d.Out == s.Out && AsSkiff(d.Err) == s.Err) return;
        }
        await AssertSame(args);
    }

    private static string UniqueName() => "skiff-e2e-" + Guid.NewGuid().ToString("N")[..10];

    [DockerFact]
    public Task RunEcho() => AssertSame("run", "--rm", "busybox", "echo", "hello");

    [DockerFact]
    public Task RunSplitsStdoutStderrAndPropagatesExitCode()
        => AssertSame("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3");

    [DockerFact]
    public Task RunMissingExecutableExits127() => AssertSame("run", "--rm", "busybox", "nosuchcmd");

    [DockerFact]
    public Task RunNonExecutableExits126() => AssertSame("run", "--rm", "busybox", "/etc");

    [DockerFact]
    public Task UnknownFlagExits125() => AssertSame("run", "--nosuchflag", "busybox");

    [DockerFact]
    public Task BadMemoryValueExits125() => AssertSame("run", "-m", "12x", "busybox", "true");

    [DockerFact]
    public Task RunWithEnvWorkdirUserHostname()
        => AssertSame("run", "--rm", "-e", "A=1", "-w", "/tmp", "-u", "1:2", "-h", "box", "busybox", "sh", "-c", "echo $A $(pwd) $(id -u):$(id -g) $(hostname)");

    [DockerFact]
    public Task RunWithEntrypoint() => AssertSame("run", "--rm", "--entrypoint", "/bin/echo", "busybox", "via", "entrypoint");

    [DockerFact]
    public async Task RunInteractiveForwardsStdin()
    {
        var d = await Exec(DockerCli, ["run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done"], "line1\nline2\n");
        var s = await Exec(SkiffCli, ["run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done"], "line1\nline2\n");
        Assert.Equal(d, s);
        Assert.Equal("line1\nline2\ndone\n", s.Out);
    }

    [DockerFact]
    public async Task ListingAndInspectMatch()
    {
        string label = "skiff-e2e=" + Guid.NewGuid().ToString("N");
        string a = UniqueName(), b = UniqueName();
        try
        {
            Assert.Equal(2, (await Docker("run", "--name", a, "-l", label, "-l", "k=v", "busybox", "sh", "-c", "exit 2")).Code);
            Assert.Equal(0, (await Docker("create", "--name", b, "-l", label, "busybox", "sleep", "1")).Code);
            // Not {{.Status}}: dockerd renders "Exited (2) N seconds ago" itself, and N can tick between the two CLIs' calls.
            await AssertSame("ps", "-a", "--filter", "label=" + label, "--format", "table {{.Names}}\t{{.Image}}\t{{.Command}}\t{{.State}}\t{{.Labels}}");
            await AssertSame("ps", "-a", "--filter", "label=" + label, "--format", "{{.Names}} {{.Label \"k\"}} {{.State}}");
            await AssertSame("ps", "-a", "-q", "--no-trunc", "--filter", "label=" + label);
            await AssertSame("inspect", a, b);
            await AssertSame("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{json .Config.Cmd}} {{.Name}}", a, b);
            await AssertSame("container", "inspect", "--format", "{{.Config.Labels}}", a);
            await AssertSame("inspect", "--type", "image", "-f", "{{.Id}} {{.RepoTags}}", "busybox");
            await AssertSame("logs", a);
            await AssertSame("wait", a);
            await AssertSame("start", "-a", a);
            await AssertSame("inspect", "nosuch-object-" + Guid.NewGuid().ToString("N"));
        }
        finally
        {
            await Docker("rm", "-f", a, b);
        }
    }

    [DockerFact]
    public async Task ExecLogsStopRm()
    {
        string n = UniqueName();
        try
        {
            Assert.Equal(0, (await Skiff("run", "-d", "--name", n, "busybox", "sh", "-c", "echo started; echo e >&2; sleep 60")).Code);
            await Task.Delay(300);
            await AssertSame("logs", n);
            await AssertSame("logs", "--tail", "1", n);
            await AssertSame("exec", n, "sh", "-c", "echo in exec; exit 4");
            await AssertSame("exec", "-e", "X=y", "-w", "/tmp", n, "sh", "-c", "echo $X $(pwd)");
            await AssertSame("exec", n, "nosuchcmd");
            await AssertSame("top", n, "-o", "comm");
            var stop = await Skiff("stop", "-t", "1", n);
            Assert.Equal((n + "\n", 0), (stop.Out, stop.Code));
            await AssertSame("wait", n);
        }
        finally
        {
            await Docker("rm", "-f", n);
        }
    }

    [DockerFact]
    public Task ImagesListing() => AssertSameListing("images", "busybox");

    [DockerFact]
    public Task NoSuchContainer() => AssertSame("rm", "nosuch-" + "container-e2e");

    [DockerFact]
    public async Task TagAndRmi()
    {
        string tag = "skiff-e2e/tagged:" + Guid.NewGuid().ToString("N")[..8];
        var t = await Skiff("tag", "busybox", tag);
        Assert.Equal(0, t.Code);
        await AssertSame("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", tag);
        var rmi = await Skiff("rmi", tag);
        Assert.Equal(("Untagged: " + tag + "\n", 0), (rmi.Out, rmi.Code));
    }

    [DockerFact]
    public async Task ImportFromStdinAndFile()
    {
        string dir = Path.Combine(Path.GetTempPath(), "skiff-e2e-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(dir, "root"));
        File.WriteAllText(Path.Combine(dir, "root", "hello.txt"), "hi\n");
        string tar = Path.Combine(dir, "root.tar");
        System.Formats.Tar.TarFile.CreateFromDirectory(Path.Combine(dir, "root"), tar, false);
        string tag = "skiff-e2e/imported:" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            var r = await Skiff("import", "-m", "from skiff", "-c", "ENV A=1", tar, tag);
            Assert.Equal(0, r.Code);
            Assert.StartsWith("sha256:", r.Out);
            await AssertSame("inspect", "-f", "{{.Comment}} {{.Config.Env}}", tag);
        }
        finally
        {
            await Docker("rmi", tag);
            Directory.Delete(dir, true);
        }
    }

    [DockerFact]
    public async Task VersionNegotiatesApi()
    {
        var d = await Docker("version", "--format", "{{.Server.Version}} {{.Server.APIVersion}} {{.Client.APIVersion}}");
        var s = await Skiff("version", "--format", "{{.Server.Version}} {{.Server.APIVersion}} {{.Client.APIVersion}}");
        Assert.Equal(d.Out, s.Out);
    }

    [DockerFact]
    public async Task SecondaryCommandsMatch()
    {
        string n = UniqueName(), renamed = UniqueName(), vol = UniqueName();
        try
        {
            Assert.Equal(0, (await Docker("run", "-d", "--name", n, "busybox", "sh", "-c", "echo x > /tmp/f; sleep 60")).Code);
            await AssertSameListing("history", "busybox");
            await AssertSame("history", "--no-trunc", "-H=false", "busybox");
            await AssertSame("port", n);
            var paused = await Skiff("pause", n);
            Assert.Equal((n + "\n", 0), (paused.Out, paused.Code));
            await AssertSame("ps", "--filter", "name=" + n, "--format", "{{.Names}} {{.State}}");
            var unpaused = await Skiff("unpause", n);
            Assert.Equal((n + "\n", 0), (unpaused.Out, unpaused.Code));
            await AssertSame("unpause", n);
            var r = await Skiff("rename", n, renamed);
            Assert.Equal(0, r.Code);
            await AssertSame("ps", "-a", "--filter", "name=" + renamed, "--format", "{{.Names}}");
            await AssertSame("rename", n, "x");
            Assert.Equal((vol + "\n", 0), ((await Skiff("volume", "create", vol)).Out, 0));
            await AssertSame("volume", "ls", "--filter", "name=" + vol);
            await AssertSame("volume", "inspect", "-f", "{{.Name}} {{.Driver}}", vol);
            Assert.Equal((vol + "\n", 0), ((await Skiff("volume", "rm", vol)).Out, 0));
            await AssertSame("network", "ls");
            await AssertSame("info", "--format", "{{.Driver}} {{.OSType}} {{json .Plugins.Volume}}");
        }
        finally
        {
            await Docker("rm", "-f", n, renamed);
            await Docker("volume", "rm", "-f", vol);
        }
    }

    [DockerFact]
    public async Task CopyRoundTripAndExport()
    {
        string n = UniqueName();
        string dir = Path.Combine(Path.GetTempPath(), "skiff-e2e-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(dir, "src", "sub"));
        File.WriteAllText(Path.Combine(dir, "src", "a.txt"), "alpha\n");
        File.WriteAllText(Path.Combine(dir, "src", "sub", "b.txt"), "beta\n");
        try
        {
            Assert.Equal(0, (await Docker("create", "--name", n, "busybox", "true")).Code);
            Assert.Equal(0, (await Skiff("cp", Path.Combine(dir, "src"), n + ":/tmp/")).Code);
            Assert.Equal(0, (await Skiff("cp", Path.Combine(dir, "src", "a.txt"), n + ":/tmp/renamed.txt")).Code);
            Directory.CreateDirectory(Path.Combine(dir, "back"));
            Assert.Equal(0, (await Skiff("cp", n + ":/tmp/src", Path.Combine(dir, "back"))).Code);
            Assert.Equal(0, (await Skiff("cp", n + ":/tmp/renamed.txt", Path.Combine(dir, "back", "r.txt"))).Code);
            Assert.Equal("beta\n", File.ReadAllText(Path.Combine(dir, "back", "src", "sub", "b.txt")));
            Assert.Equal("alpha\n", File.ReadAllText(Path.Combine(dir, "back", "r.txt")));
            var missing = await Skiff("cp", "/nonexistent-skiff-src", n + ":/tmp/");
            Assert.Equal(("lstat /nonexistent-skiff-src: no such file or directory\n", 1), (missing.Err, missing.Code));
            var export = await Skiff("export", "-o", Path.Combine(dir, "export.tar"), n);
            Assert.Equal(0, export.Code);
            using var tar = new System.Formats.Tar.TarReader(File.OpenRead(Path.Combine(dir, "export.tar")));
            var names = new List<string>();
            while (tar.GetNextEntry() is { } e) names.Add(e.Name);
            Assert.Contains("tmp/src/sub/b.txt", names);
            Assert.Contains("bin/busybox", names);
        }
        finally
        {
            await Docker("rm", "-f", n);
            Directory.Delete(dir, true);
        }
    }

    [DockerFact]
    public async Task EventsInAWindowMatch()
    {
        string since = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(0, (await Skiff("run", "--rm", "--name", UniqueName(), "busybox", "true")).Code);
        string until = (DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await Task.Delay(1100);
        await AssertSame("events", "--since", since, "--until", until);
        await AssertSame("events", "--since", since, "--until", until, "--format", "{{json .}}");
        await AssertSame("events", "--since", since, "--until", until, "--filter", "event=start", "--format", "{{.Actor.Attributes.name}} {{.Status}}");
    }
}
