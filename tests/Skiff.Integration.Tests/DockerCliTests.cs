namespace Skiff.Integration.Tests;

/// <summary>The real Docker CLI (v28) against a real skiffd.</summary>
[Collection("daemon")]
public sealed class DockerCliTests(DaemonFixture f)
{
    [Fact]
    public void VersionShowsServer()
    {
        var r = f.Docker("version");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Server: Skiff Engine", r.Stdout);
        Assert.Contains("API version:      1.50", r.Stdout);
    }

    [Fact]
    public void RunRmPrintsOutput()
    {
        var r = f.Docker("run", "--rm", "busybox", "echo", "hello");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("hello\n", r.Stdout);
    }

    [Fact]
    public void ContainerIsPidOneWithItsOwnHostname()
    {
        // The last command is a builtin, so sh stays PID 1 instead of exec'ing it.
        var r = f.Docker("run", "--rm", "busybox", "sh", "-c", "echo $$; hostname; tr '\\0' ' ' < /proc/1/cmdline; echo");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n');
        Assert.Equal("1", lines[0]);
        Assert.Matches("^[0-9a-f]{12}$", lines[1]);
        Assert.NotEqual(Environment.MachineName, lines[1]);
        Assert.StartsWith("sh -c echo $$;", lines[2]);
    }

    [Fact]
    public void StdinIsForwardedAndClosed()
    {
        var r = Proc.Run(DaemonFixture.DockerCli, ["run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo done"], f.DockerEnv, stdin: "hello\nworld\n");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("hello\nworld\ndone\n", r.Stdout);
    }

    [Fact]
    public void HostnameFlagIsUsed()
    {
        var r = f.Docker("run", "--rm", "--hostname", "skiffy", "busybox", "hostname");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("skiffy\n", r.Stdout);
    }

    [Fact]
    public void CannotSeeHostProcessesOrMounts()
    {
        var r = f.Docker("run", "--rm", "busybox", "sh", "-c", "ls /proc | grep -E '^[0-9]+$' | wc -l; cat /proc/mounts");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // sh, ls/grep/wc of the pipeline: only a handful of processes, none of the host's.
        Assert.True(int.Parse(lines[0]) <= 5, r.Stdout);
        // Mount points (the second field) are the container's own; the host's /work, /tmp... are not there.
        var mountPoints = lines.Skip(1).Select(l => l.Split(' ')[1]).ToList();
        Assert.DoesNotContain(mountPoints, m => m.StartsWith("/work") || m.StartsWith("/tmp") || m.StartsWith("/var/lib") || m.StartsWith(f.Root));
        Assert.Contains(lines, l => l.StartsWith("overlay / overlay"));
        Assert.Contains(lines, l => l.StartsWith("proc /proc proc"));
    }

    [Fact]
    public void WritesDoNotReachTheImage()
    {
        var w = f.Docker("run", "--rm", "busybox", "sh", "-c", "echo data > /marker && rm /bin/ls && cat /marker");
        Assert.True(w.ExitCode == 0, w.ToString());
        Assert.Equal("data\n", w.Stdout);
        var r = f.Docker("run", "--rm", "busybox", "sh", "-c", "test ! -e /marker && test -e /bin/ls && echo clean");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("clean\n", r.Stdout);
    }

    [Fact]
    public void DetachedContainerShowsInPsAndLogs()
    {
        var run = f.Docker("run", "-d", "--name", "it-detached", "busybox", "sh", "-c", "echo started; echo oops >&2; sleep 30");
        Assert.True(run.ExitCode == 0, run.ToString());
        var id = run.Stdout.Trim();
        Assert.Matches("^[0-9a-f]{64}$", id);
        try
        {
            var ps = f.Docker("ps");
            Assert.True(ps.ExitCode == 0, ps.ToString());
            Assert.Contains("it-detached", ps.Stdout);
            Assert.Contains(id[..12], ps.Stdout);
            Assert.Contains("Up ", ps.Stdout);

            ProcResult logs = default!;
            for (var i = 0; i < 100; i++)
            {
                logs = f.Docker("logs", "it-detached");
                if (logs.Stdout.Contains("started") && logs.Stderr.Contains("oops")) break;
                Thread.Sleep(50);
            }
            Assert.Equal("started\n", logs.Stdout);
            Assert.Equal("oops\n", logs.Stderr);

            var inspect = f.Docker("inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.Name}}", "it-detached");
            Assert.Equal("running true /it-detached\n", inspect.Stdout);
        }
        finally
        {
            var rm = f.Docker("rm", "-f", "it-detached");
            Assert.True(rm.ExitCode == 0, rm.ToString());
        }
        var after = f.Docker("ps", "-a");
        Assert.DoesNotContain("it-detached", after.Stdout);
    }

    [Fact]
    public void CreateStartWaitLogsRm()
    {
        var create = f.Docker("create", "--name", "it-lifecycle", "busybox", "sh", "-c", "echo one; echo two; exit 3");
        Assert.True(create.ExitCode == 0, create.ToString());
        try
        {
            var ps = f.Docker("ps", "-a", "--filter", "name=it-lifecycle", "--format", "{{.Status}}");
            Assert.Equal("Created\n", ps.Stdout);
            Assert.Equal(0, f.Docker("start", "it-lifecycle").ExitCode);
            var wait = f.Docker("wait", "it-lifecycle");
            Assert.Equal("3\n", wait.Stdout);
            Assert.Equal("one\ntwo\n", f.Docker("logs", "it-lifecycle").Stdout);
            Assert.Equal("two\n", f.Docker("logs", "--tail", "1", "it-lifecycle").Stdout);
            var status = f.Docker("ps", "-a", "--filter", "name=it-lifecycle", "--format", "{{.Status}}").Stdout;
            Assert.StartsWith("Exited (3)", status);
        }
        finally
        {
            f.Docker("rm", "-f", "it-lifecycle");
        }
    }

    [Fact]
    public void ExitCodesMatchDocker()
    {
        Assert.Equal(7, f.Docker("run", "--rm", "busybox", "sh", "-c", "exit 7").ExitCode);
        var missing = f.Docker("run", "--rm", "busybox", "/no/such/binary");
        Assert.Equal(127, missing.ExitCode);
        Assert.Contains("no such file or directory", missing.Stderr);
        var notExec = f.Docker("run", "--rm", "busybox", "/etc/passwd");
        Assert.Equal(126, notExec.ExitCode);
        var noImage = f.Docker("run", "--rm", "--pull", "never", "nosuchimage:v1", "true");
        Assert.Equal(125, noImage.ExitCode);
    }

    [Fact]
    public void RemovingARunningContainerNeedsForce()
    {
        var run = f.Docker("run", "-d", "--name", "it-force", "busybox", "sleep", "30");
        Assert.True(run.ExitCode == 0, run.ToString());
        try
        {
            var rm = f.Docker("rm", "it-force");
            Assert.NotEqual(0, rm.ExitCode);
            Assert.Contains("container is running", rm.Stderr);
        }
        finally
        {
            Assert.Equal(0, f.Docker("rm", "-f", "it-force").ExitCode);
        }
    }

    [Fact]
    public void StopSendsTermThenTheContainerExits()
    {
        var run = f.Docker("run", "-d", "--name", "it-stop", "busybox", "sh", "-c", "trap 'exit 42' TERM; while true; do sleep 0.1; done");
        Assert.True(run.ExitCode == 0, run.ToString());
        try
        {
            Thread.Sleep(300);
            var stop = f.Docker("stop", "-t", "5", "it-stop");
            Assert.True(stop.ExitCode == 0, stop.ToString());
            Assert.Equal("exited 42\n", f.Docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "it-stop").Stdout);
        }
        finally
        {
            f.Docker("rm", "-f", "it-stop");
        }
    }

    [Fact]
    public void PauseUnpauseAndTop()
    {
        var run = f.Docker("run", "-d", "--name", "it-pause", "busybox", "sh", "-c", "while true; do date +%s%N > /tmp/t; sleep 0.05; done");
        Assert.True(run.ExitCode == 0, run.ToString());
        try
        {
            var top = f.Docker("top", "it-pause");
            Assert.True(top.ExitCode == 0, top.ToString());
            Assert.Contains("PID", top.Stdout);
            Assert.Contains("while true", top.Stdout);

            Assert.Equal(0, f.Docker("pause", "it-pause").ExitCode);
            Assert.Equal("paused\n", f.Docker("inspect", "-f", "{{.State.Status}}", "it-pause").Stdout);
            Assert.Contains("(Paused)", f.Docker("ps", "--filter", "name=it-pause", "--format", "{{.Status}}").Stdout);
            Assert.Contains("is already paused", f.Docker("pause", "it-pause").Stderr);

            Assert.Equal(0, f.Docker("unpause", "it-pause").ExitCode);
            Assert.Equal("running\n", f.Docker("inspect", "-f", "{{.State.Status}}", "it-pause").Stdout);
            Assert.Contains("is not paused", f.Docker("unpause", "it-pause").Stderr);

            // A paused container still stops promptly.
            Assert.Equal(0, f.Docker("pause", "it-pause").ExitCode);
            var stop = f.Docker("stop", "-t", "2", "it-pause");
            Assert.True(stop.ExitCode == 0, stop.ToString());
            Assert.Equal("exited\n", f.Docker("inspect", "-f", "{{.State.Status}}", "it-pause").Stdout);
        }
        finally
        {
            f.Docker("rm", "-f", "it-pause");
        }
    }

    [Fact]
    public void ExecRunsInsideTheContainer()
    {
        var run = f.Docker("run", "-d", "--name", "it-exec", "-e", "FROM_RUN=1", "busybox", "sh", "-c", "echo pid1 > /tmp/who; sleep 30");
        Assert.True(run.ExitCode == 0, run.ToString());
        try
        {
            var r = f.Docker("exec", "-e", "EXTRA=2", "-w", "/tmp", "it-exec", "sh", "-c", "cat who; pwd; echo $FROM_RUN$EXTRA; hostname; echo err >&2; exit 5");
            Assert.Equal(5, r.ExitCode);
            var lines = r.Stdout.Split('\n');
            Assert.Equal("pid1", lines[0]);
            Assert.Equal("/tmp", lines[1]);
            Assert.Equal("12", lines[2]);
            Assert.Equal(run.Stdout.Trim()[..12], lines[3]);
            Assert.Equal("err\n", r.Stderr);

            var stdin = Proc.Run(DaemonFixture.DockerCli, ["exec", "-i", "it-exec", "sh", "-c", "cat > /tmp/in; wc -c < /tmp/in"], f.DockerEnv, stdin: "12345");
            Assert.True(stdin.ExitCode == 0, stdin.ToString());
            Assert.Equal("5", stdin.Stdout.Trim());

            var user = f.Docker("exec", "-u", "nobody", "it-exec", "id", "-u");
            Assert.Equal("65534\n", user.Stdout);

            var missing = f.Docker("exec", "it-exec", "no-such-command");
            Assert.Equal(127, missing.ExitCode);
            Assert.Contains("executable file not found", missing.Stdout + missing.Stderr);
            Assert.Equal(126, f.Docker("exec", "it-exec", "/etc/passwd").ExitCode);
        }
        finally
        {
            f.Docker("rm", "-f", "it-exec");
        }
    }

    [Fact]
    public void RenameAndPrune()
    {
        Assert.Equal(0, f.Docker("create", "--name", "it-old", "--label", "prune=me", "busybox", "true").ExitCode);
        Assert.Equal(0, f.Docker("create", "--name", "it-keep", "busybox", "true").ExitCode);
        try
        {
            Assert.Equal(0, f.Docker("rename", "it-old", "it-new").ExitCode);
            Assert.Equal("/it-new\n", f.Docker("inspect", "-f", "{{.Name}}", "it-new").Stdout);
            Assert.NotEqual(0, f.Docker("inspect", "it-old").ExitCode);
            Assert.Contains("already in use", f.Docker("rename", "it-new", "it-keep").Stderr);

            var prune = f.Docker("container", "prune", "-f", "--filter", "label=prune=me");
            Assert.True(prune.ExitCode == 0, prune.ToString());
            Assert.Contains("Total reclaimed space", prune.Stdout);
            var names = f.Docker("ps", "-a", "--format", "{{.Names}}").Stdout;
            Assert.DoesNotContain("it-new", names);
            Assert.Contains("it-keep", names);
        }
        finally
        {
            f.Docker("rm", "-f", "it-new");
            f.Docker("rm", "-f", "it-keep");
        }
    }

    [Fact]
    public void RestartPolicies()
    {
        Assert.Equal(0, f.Docker("run", "-d", "--name", "it-onfail", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3").ExitCode);
        Assert.Equal(0, f.Docker("run", "-d", "--name", "it-always", "--restart", "always", "busybox", "sh", "-c", "sleep 0.1; exit 0").ExitCode);
        try
        {
            string state = "";
            for (var i = 0; i < 100; i++)
            {
                state = f.Docker("inspect", "-f", "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}", "it-onfail").Stdout;
                if (state == "2 exited 3\n") break;
                Thread.Sleep(100);
            }
            Assert.Equal("2 exited 3\n", state);
            Assert.Equal("run\nrun\nrun\n", f.Docker("logs", "it-onfail").Stdout);

            var count = 0;
            for (var i = 0; i < 100 && count < 2; i++)
            {
                count = int.Parse(f.Docker("inspect", "-f", "{{.RestartCount}}", "it-always").Stdout.Trim());
                Thread.Sleep(100);
            }
            Assert.True(count >= 2, $"always restarted {count} times");
            Assert.Equal(0, f.Docker("stop", "it-always").ExitCode);
            var stopped = f.Docker("inspect", "-f", "{{.RestartCount}}", "it-always").Stdout;
            Thread.Sleep(800);
            Assert.Equal("exited\n", f.Docker("inspect", "-f", "{{.State.Status}}", "it-always").Stdout);
            Assert.Equal(stopped, f.Docker("inspect", "-f", "{{.RestartCount}}", "it-always").Stdout);
        }
        finally
        {
            f.Docker("rm", "-f", "it-onfail");
            f.Docker("rm", "-f", "it-always");
        }
    }

    [Fact]
    public void ApiErrorsAreJson()
    {
        var r = f.Docker("container", "inspect", "no-such-container");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("No such container: no-such-container", r.Stderr);
        var any = f.Docker("inspect", "no-such-thing");
        Assert.Equal(1, any.ExitCode);
        Assert.Contains("No such object: no-such-thing", any.Stderr);
        var bad = Proc.Run("/usr/bin/curl", ["-s", "-i", "--unix-socket", f.Socket, "http://x/v1.50/containers/nope/json"]);
        Assert.Contains("HTTP/1.1 404", bad.Stdout);
        Assert.Contains("Content-Type: application/json\r\n", bad.Stdout);
        Assert.Contains("{\"message\":\"No such container: nope\"}", bad.Stdout);
    }
}
