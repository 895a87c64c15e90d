using System.Diagnostics;

namespace Skiff.TestSupport;

/// <summary>The outcome of one command.</summary>
public sealed record CmdResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>
/// The compose acceptance scenario, run with any compose tool (skiff compose, docker-compose)
/// against any daemon: a one-shot <c>seed</c> service writes a page into a named volume, a busybox
/// httpd <c>web</c> serves it once seed completed successfully, and <c>client</c> fetches it by
/// service name once web is healthy. Checks the resources by their compose labels, then tears
/// the project down and checks that nothing is left.
/// </summary>
public static class ComposeScenario
{
    /// <summary>
    /// The project file, compose-scenario.yaml (copied next to the test assembly; bench/compose.sh
    /// reads the same file).
    /// </summary>
    public static string ComposeYaml => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "compose-scenario.yaml"));

    /// <summary>Runs a command with a time limit (the process is ours: killed by PID on overrun).</summary>
    public static CmdResult Run(string exe, IEnumerable<string> args, string? cwd = null, IDictionary<string, string>? env = null, int timeoutMs = 180_000)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false, WorkingDirectory = cwd ?? "" };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException($"{exe} {string.Join(' ', args)} did not finish in {timeoutMs} ms: {stdout.Result}{stderr.Result}");
        }
        p.WaitForExit();
        return new CmdResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Names of the containers, networks and volumes labelled with the project.</summary>
    public static (string[] Containers, string[] Networks, string[] Volumes) Resources(Func<string[], CmdResult> docker, string project)
    {
        string[] Lines(params string[] args)
        {
            var r = docker(args);
            Assert.True(r.ExitCode == 0, r.ToString());
            return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal).ToArray();
        }
        string label = "label=com.docker.compose.project=" + project;
        return (Lines("ps", "-a", "--filter", label, "--format", "{{.Names}}"),
                Lines("network", "ls", "--filter", label, "--format", "{{.Name}}"),
                Lines("volume", "ls", "--filter", label, "--format", "{{.Name}}"));
    }

    /// <summary>
    /// The whole scenario: <c>up --exit-code-from client client</c> must exit 0 after the client
    /// found the page; the three containers, <c>project_default</c> and <c>project_www</c> exist;
    /// <c>down -v</c> removes all of them. <paramref name="compose"/> runs the compose tool in the
    /// project directory; <paramref name="docker"/> runs the Docker CLI against the same daemon.
    /// </summary>
    public static void UpAndDown(Func<string[], CmdResult> compose, Func<string[], CmdResult> docker, string project, string[] expectedContainers)
    {
        try
        {
            var up = compose(["up", "--exit-code-from", "client", "client"]);
            Assert.True(up.ExitCode == 0, "up: " + up);
            Assert.Contains("hello-from-volume", up.Stdout);
            var (containers, networks, volumes) = Resources(docker, project);
            Assert.Equal(expectedContainers, containers);
            Assert.Equal([project + "_default"], networks);
            Assert.Equal([project + "_www"], volumes);
        }
        finally
        {
            var down = compose(["down", "-v"]);
            Assert.True(down.ExitCode == 0, "down: " + down);
        }
        var after = Resources(docker, project);
        Assert.Empty(after.Containers);
        Assert.Empty(after.Networks);
        Assert.Empty(after.Volumes);
    }
}
