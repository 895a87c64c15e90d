using System.Diagnostics;
using System.Globalization;

namespace Skiff.Integration.Tests;

/// <summary>
/// The real Docker CLI (v28) against skiffd for stats, events, cp, diff, export, commit, update,
/// healthchecks, ps -s and filters, stop signals, and logs -f across rotation.
/// </summary>
[Collection("daemon")]
public sealed class ApiSurfaceCliTests(DaemonFixture f)
{
    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private string RunDetached(params string[] args)
    {
        var r = f.Docker(["run", "-d", .. args]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.Stdout.Trim();
    }

    [Fact]
    public void StatsNoStreamShowsUsage()
    {
        var name = Unique("stats");
        RunDetached("--name", name, "--memory", "64m", "busybox", "sleep", "300");
        try
        {
            var r = f.Docker("stats", "--no-stream", "--format", "{{.Name}}|{{.MemUsage}}|{{.PIDs}}|{{.CPUPerc}}", name);
            Assert.True(r.ExitCode == 0, r.ToString());
            var fields = r.Stdout.Trim().Split('|');
            Assert.Equal(name, fields[0]);
            Assert.EndsWith("/ 64MiB", fields[1]);
            Assert.DoesNotContain("0B /", fields[1]);
            Assert.Equal("1", fields[2]);
            Assert.EndsWith("%", fields[3]);
        }
        finally
        {
            f.Docker("rm", "-f", name);
        }
    }

    [Fact]
    public async Task StatsStreamsOneSampleASecond()
    {
        var name = Unique("stream");
        RunDetached("--name", name, "busybox", "sh", "-c", "while :; do :; done");
        try
        {
            var psi = new ProcessStartInfo(DaemonFixture.DockerCli) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "stats", "--format", "{{.Name}} {{.CPUPerc}} {{.PIDs}}", name }) psi.ArgumentList.Add(a);
            foreach (var (k, v) in f.DockerEnv) psi.Environment[k] = v;
            using var p = Process.Start(psi)!;
            var errors = p.StandardError.ReadToEndAsync();
            var samples = new List<string>();
            try
            {
                var deadline = DateTime.UtcNow.AddSeconds(20);
                while (!samples.Skip(1).Any(Busy) && DateTime.UtcNow < deadline)
                {
                    string? line;
                    try { line = await p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)); }
                    catch (TimeoutException) { break; }
                    if (line is null) break;
                    // The CLI redraws with terminal escapes; keep the rows that carry a sample.
                    var text = new string(line.Where(ch => ch >= ' ' && ch < 127).ToArray());
                    var at = text.IndexOf(name, StringComparison.Ordinal);
                    if (at >= 0 && !text.Contains("--", StringComparison.Ordinal)) samples.Add(text[at..].Trim());
                }
            }
            finally
            {
                p.Kill();
                p.WaitForExit();
            }
            // A busy loop shows CPU once a previous sample exists.
            Assert.True(samples.Skip(1).Any(Busy), string.Join("\n", samples) + "\nstderr: " + await errors);
        }
        finally
        {
            f.Docker("rm", "-f", name);
        }
    }

    [Fact]
    public void EventsReplayTheLifecycleWithFilters()
    {
        var name = Unique("events");
        var since = DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var r = f.Docker("run", "--name", name, "busybox", "sh", "-c", "exit 3");
        Assert.Equal(3, r.ExitCode);
        Assert.Equal(0, f.Docker("rm", name).ExitCode);
        var until = DateTimeOffset.UtcNow.AddSeconds(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

        var all = f.Docker("events", "--since", since, "--until", until, "--filter", "container=" + name, "--format", "{{.Type}} {{.Action}}");
        Assert.True(all.ExitCode == 0, all.ToString());
        var actions = all.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        Assert.Equal(["container create", "container attach", "container start", "container die", "container destroy"], actions);

        var die = f.Docker("events", "--since", since, "--until", until, "--filter", "container=" + name, "--filter", "event=die", "--format", "{{.Actor.Attributes.exitCode}} {{.Actor.Attributes.name}}");
        Assert.Equal($"3 {name}\n", die.Stdout);

        var images = f.Docker("events", "--since", since, "--until", until, "--filter", "type=image", "--filter", "container=" + name);
        Assert.Equal("", images.Stdout);
    }

    [Fact]
    public void CpCopiesBothWaysForRunningAndStoppedContainers()
    {
        var name = Unique("cp");
        var dir = Path.Combine(f.Root, Unique("cpdir"));
        Directory.CreateDirectory(Path.Combine(dir, "src", "sub"));
        File.WriteAllText(Path.Combine(dir, "src", "sub", "file.txt"), "payload\n");
        RunDetached("--name", name, "busybox", "sleep", "300");
        try
        {
            Assert.Equal(0, f.Docker("cp", Path.Combine(dir, "src"), name + ":/root/").ExitCode);
            var cat = f.Docker("exec", name, "cat", "/root/src/sub/file.txt");
            Assert.Equal("payload\n", cat.Stdout);

            var back = Path.Combine(dir, "back");
            var r = f.Docker("cp", name + ":/root/src", back);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("payload\n", File.ReadAllText(Path.Combine(back, "sub", "file.txt")));

            // A symlink in the container is followed inside the container's root, never the host's.
            var marker = Unique("escape");
            Assert.Equal(0, f.Docker("exec", name, "ln", "-s", "../../../../../../../tmp", "/root/up").ExitCode);
            File.WriteAllText(Path.Combine(dir, marker), "x");
            Assert.Equal(0, f.Docker("cp", Path.Combine(dir, marker), name + ":/root/up/").ExitCode);
            Assert.False(File.Exists(Path.Combine("/tmp", marker)));
            Assert.Equal(0, f.Docker("exec", name, "test", "-f", "/tmp/" + marker).ExitCode);

            var missing = f.Docker("cp", name + ":/nonexistent", Path.Combine(dir, "nothing"));
            Assert.Equal(1, missing.ExitCode);
            Assert.Contains("Could not find the file /nonexistent", missing.Stderr);

            Assert.Equal(0, f.Docker("stop", "-t", "0", name).ExitCode);
            File.WriteAllText(Path.Combine(dir, "stopped.txt"), "while stopped\n");
            r = f.Docker("cp", Path.Combine(dir, "stopped.txt"), name + ":/stopped.txt");
            Assert.True(r.ExitCode == 0, r.ToString());
            r = f.Docker("cp", name + ":/stopped.txt", "-");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("while stopped", r.Stdout);
            Assert.Equal(0, f.Docker("start", name).ExitCode);
            Assert.Equal("while stopped\n", f.Docker("exec", name, "cat", "/stopped.txt").Stdout);
        }
        finally
        {
            f.Docker("rm", "-f", name);
        }
    }

    [Fact]
    public void DiffExportAndCommit()
    {
        var name = Unique("diff");
        var r = f.Docker("run", "--name", name, "busybox", "sh", "-c", "mkdir /made && echo hi > /made/file && rm /etc/group");
        Assert.True(r.ExitCode == 0, r.ToString());
        try
        {
            var diff = f.Docker("diff", name);
            Assert.True(diff.ExitCode == 0, diff.ToString());
            Assert.Equal("C /etc\nD /etc/group\nA /made\nA /made/file\n", diff.Stdout);

            var tar = Path.Combine(f.Root, Unique("export") + ".tar");
            Assert.Equal(0, f.Docker("export", "-o", tar, name).ExitCode);
            var list = Proc.Run("/bin/tar", ["-tf", tar]);
            var entries = list.Stdout.Split('\n').Select(e => e.TrimStart('.', '/')).ToHashSet();
            Assert.Contains("made/file", entries);
            Assert.Contains("bin/busybox", entries);
            Assert.DoesNotContain("etc/group", entries);

            var image = Unique("committed");
            r = f.Docker("commit", "-c", "ENV FROM_COMMIT=yes", "-m", "a message", name, image + ":v1");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.StartsWith("sha256:", r.Stdout.Trim());
            r = f.Docker("run", "--rm", image + ":v1", "sh", "-c", "cat /made/file; echo $FROM_COMMIT; test -e /etc/group || echo gone");
            Assert.Equal("hi\nyes\ngone\n", r.Stdout);
            Assert.Contains("a message", f.Docker("history", image + ":v1").Stdout);
            f.Docker("rmi", image + ":v1");
        }
        finally
        {
            f.Docker("rm", "-f", name);
        }
    }

    [Fact]
    public void UpdateChangesTheLiveCgroupAndTheRecord()
    {
        var name = Unique("update");
        var id = RunDetached("--name", name, "--memory", "64m", "busybox", "sleep", "300");
        try
        {
            var r = f.Docker("update", "--memory", "128m", "--memory-swap", "256m", "--pids-limit", "20", "--cpus", "0.5", "--restart", "on-failure:2", name);
            Assert.True(r.ExitCode == 0, r.ToString());
            var inspect = f.Docker("inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}} {{.HostConfig.RestartPolicy.Name}}", name);
            Assert.Equal("134217728 20 500000000 on-failure\n", inspect.Stdout);
            var memory = "/sys/fs/cgroup/memory/skiff/" + id + "/memory.limit_in_bytes";
            if (File.Exists(memory)) Assert.Equal("134217728", File.ReadAllText(memory).Trim());
            var pids = "/sys/fs/cgroup/pids/skiff/" + id + "/pids.max";
            if (File.Exists(pids)) Assert.Equal("20", File.ReadAllText(pids).Trim());
            // The container sees its own new limit.
            Assert.Equal(0, f.Docker("exec", name, "true").ExitCode);

            var bad = f.Docker("update", "--memory", "1m", name);
            Assert.NotEqual(0, bad.ExitCode);
            Assert.Contains("Minimum memory limit", bad.Stderr);

            // From unlimited to a limit (memory+swap must never fall below memory on the way).
            RunDetached("--name", name + "-unlimited", "busybox", "sleep", "300");
            r = f.Docker("update", "--memory", "100m", name + "-unlimited");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("104857600\n", f.Docker("inspect", "-f", "{{.HostConfig.Memory}}", name + "-unlimited").Stdout);
        }
        finally
        {
            f.Docker("rm", "-f", name, name + "-unlimited");
        }
    }

    [Fact]
    public void HealthcheckGoesFromStartingToUnhealthyToHealthy()
    {
        var name = Unique("health");
        var since = DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        RunDetached("--name", name, "--health-cmd", "test -f /tmp/ok", "--health-interval", "300ms", "--health-retries", "2", "busybox", "sleep", "300");
        try
        {
            Assert.Contains("(health: starting)", f.Docker("ps", "--filter", "name=" + name, "--format", "{{.Status}}").Stdout);
            WaitFor(() => f.Docker("inspect", "-f", "{{.State.Health.Status}}", name).Stdout.Trim() == "unhealthy");
            Assert.Contains("(unhealthy)", f.Docker("ps", "--filter", "name=" + name, "--format", "{{.Status}}").Stdout);
            Assert.Equal(0, f.Docker("exec", name, "touch", "/tmp/ok").ExitCode);
            WaitFor(() => f.Docker("inspect", "-f", "{{.State.Health.Status}}", name).Stdout.Trim() == "healthy");
            Assert.Equal(name + "\n", f.Docker("ps", "--filter", "health=healthy", "--filter", "name=" + name, "--format", "{{.Names}}").Stdout);
            Assert.Equal("0\n", f.Docker("inspect", "-f", "{{.State.Health.FailingStreak}}", name).Stdout);

            var until = DateTimeOffset.UtcNow.AddSeconds(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            var events = f.Docker("events", "--since", since, "--until", until, "--filter", "container=" + name, "--filter", "event=health_status", "--format", "{{.Action}}");
            Assert.Equal("health_status: unhealthy\nhealth_status: healthy\n", events.Stdout);
        }
        finally
        {
            f.Docker("rm", "-f", name);
        }

        var none = Unique("nohealth");
        RunDetached("--name", none, "--no-healthcheck", "busybox", "sleep", "300");
        try
        {
            Assert.Equal("<nil>\n", f.Docker("inspect", "-f", "{{.State.Health}}", none).Stdout);
        }
        finally
        {
            f.Docker("rm", "-f", none);
        }
    }

    [Fact]
    public void PsShowsSizesAndFilters()
    {
        var first = Unique("psa");
        var second = Unique("psb");
        var r = f.Docker("run", "--name", first, "busybox", "sh", "-c", "head -c 5000 /dev/zero > /big; exit 2");
        Assert.Equal(2, r.ExitCode);
        RunDetached("--name", second, "--label", "tier=web", "busybox", "sleep", "300");
        try
        {
            var size = f.Docker("ps", "-a", "-s", "--filter", "name=" + first, "--format", "{{.Size}}");
            Assert.StartsWith("5kB (virtual ", size.Stdout);
            Assert.Equal(first + "\n", f.Docker("ps", "-a", "--filter", "exited=2", "--filter", "name=" + first, "--format", "{{.Names}}").Stdout);
            Assert.Equal(first + "\n", f.Docker("ps", "-a", "--filter", "before=" + second, "--filter", "name=" + first, "--format", "{{.Names}}").Stdout);
            Assert.Equal(second + "\n", f.Docker("ps", "-a", "--filter", "since=" + first, "--filter", "name=" + second, "--format", "{{.Names}}").Stdout);
            Assert.Equal(second + "\n", f.Docker("ps", "--filter", "label=tier=web", "--filter", "status=running", "--filter", "name=" + second, "--format", "{{.Names}}").Stdout);
            Assert.Equal(second + "\n", f.Docker("ps", "--filter", "ancestor=busybox", "--filter", "name=" + second, "--format", "{{.Names}}").Stdout);
            Assert.Equal(0, f.Docker("rm", "-v", first).ExitCode);
        }
        finally
        {
            f.Docker("rm", "-f", first, second);
        }
    }

    [Fact]
    public void StopSignalStopTimeoutAndKillSignal()
    {
        var name = Unique("sig");
        const string script = "trap 'echo got-usr1; exit 7' USR1; trap '' TERM; while :; do sleep 0.1; done";
        RunDetached("--name", name, "--stop-signal", "USR1", "busybox", "sh", "-c", script);
        try
        {
            Assert.Equal(0, f.Docker("stop", name).ExitCode);
            Assert.Equal("7\n", f.Docker("inspect", "-f", "{{.State.ExitCode}}", name).Stdout);
            Assert.Contains("got-usr1", f.Docker("logs", name).Stdout);

            Assert.Equal(0, f.Docker("start", name).ExitCode);
            var sw = Stopwatch.StartNew();
            Assert.Equal(0, f.Docker("stop", "-s", "TERM", "-t", "1", name).ExitCode);
            Assert.Equal("137\n", f.Docker("inspect", "-f", "{{.State.ExitCode}}", name).Stdout);
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(8), sw.Elapsed.ToString());

        }
        finally
        {
            f.Docker("rm", "-f", name);
        }

        var killed = Unique("kill");
        RunDetached("--name", killed, "busybox", "sh", "-c", script);
        try
        {
            Assert.Equal(0, f.Docker("kill", "-s", "USR1", killed).ExitCode);
            Assert.Equal("7\n", f.Docker("wait", killed).Stdout);
        }
        finally
        {
            f.Docker("rm", "-f", killed);
        }
    }

    [Fact]
    public void LogsFollowSurvivesRotation()
    {
        var name = Unique("rotate");
        // Output starts after the follower is attached; 300 lines of ~80 bytes of JSON each rotate the
        // 1 kB files about 25 times while the follower reads (3 files kept: ~40 lines at any time).
        const string script = "sleep 2; i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); sleep 0.01; done";
        RunDetached("--name", name, "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "busybox", "sh", "-c", script);
        try
        {
            var r = Proc.Run(DaemonFixture.DockerCli, ["logs", "-f", name], f.DockerEnv, timeoutMs: 60_000);
            Assert.True(r.ExitCode == 0, r.ToString());
            var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(Enumerable.Range(0, 300).Select(i => "line-" + i), lines);
        }
        finally
        {
            f.Docker("rm", "-f", name);
        }
    }

    private static bool Busy(string sample) =>
        double.Parse(sample.Split(' ')[1].TrimEnd('%'), CultureInfo.InvariantCulture) > 1;

    private static void WaitFor(Func<bool> condition, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met in time");
            Thread.Sleep(100);
        }
    }
}
