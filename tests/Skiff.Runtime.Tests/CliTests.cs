using System.Text.Json;

namespace Skiff.Runtime.Tests;

/// <summary>The runc-compatible CLI across separate process invocations (create exits while the init waits on the exec fifo).</summary>
public sealed class CliTests
{
    private static RunResult Cli(BusyboxBundle b, params string[] args) =>
        Runner.Run(TestEnvironment.RuntimeBinary, new[] { "--root", b.StateRoot }.Concat(args));

    private static JsonElement State(BusyboxBundle b)
    {
        RunResult r = Cli(b, "state", b.Id);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return JsonDocument.Parse(r.Stdout).RootElement;
    }

    [Fact]
    public void CreateStartStateExecKillDelete()
    {
        using var b = new BusyboxBundle("sleep", "60");
        string pidFile = Path.Combine(b.Dir, "pid");
        try
        {
            RunResult created = Cli(b, "create", "--bundle", b.Dir, "--pid-file", pidFile, b.Id);
            Assert.True(created.ExitCode == 0, created.Stderr);
            JsonElement s = State(b);
            Assert.Equal("created", s.GetProperty("status").GetString());
            Assert.Equal(b.Id, s.GetProperty("id").GetString());
            Assert.Equal(int.Parse(File.ReadAllText(pidFile)), s.GetProperty("pid").GetInt32());
            Assert.Equal(b.Dir, s.GetProperty("bundle").GetString());

            Assert.Equal(0, Cli(b, "start", b.Id).ExitCode);
            Assert.Equal("running", State(b).GetProperty("status").GetString());
            Assert.NotEqual(0, Cli(b, "start", b.Id).ExitCode);

            RunResult exec = Cli(b, "exec", b.Id, "sh", "-c", "echo $$ from $(hostname); exit 3");
            Assert.Equal(3, exec.ExitCode);
            Assert.EndsWith(" from skiffhost\n", exec.Stdout);

            Assert.Equal(0, Cli(b, "update", "--memory", "33554432", "--pids-limit", "20", b.Id).ExitCode);
            RunResult limits = Cli(b, "exec", b.Id, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max");
            Assert.Equal("33554432\n20\n", limits.Stdout);

            RunResult list = Cli(b, "list", "--format", "json");
            Assert.Contains(b.Id, list.Stdout);
            RunResult ps = Cli(b, "ps", "--format", "json", b.Id);
            Assert.Single(JsonDocument.Parse(ps.Stdout).RootElement.EnumerateArray());

            Assert.Equal(0, Cli(b, "pause", b.Id).ExitCode);
            Assert.Equal("paused", State(b).GetProperty("status").GetString());
            Assert.Equal(0, Cli(b, "resume", b.Id).ExitCode);

            Assert.NotEqual(0, Cli(b, "delete", b.Id).ExitCode);
            Assert.Equal(0, Cli(b, "kill", b.Id, "KILL").ExitCode);
            for (int i = 0; i < 100 && State(b).GetProperty("status").GetString() != "stopped"; i++) Thread.Sleep(20);
            Assert.Equal("stopped", State(b).GetProperty("status").GetString());
            Assert.Equal(0, Cli(b, "delete", b.Id).ExitCode);
            Assert.NotEqual(0, Cli(b, "state", b.Id).ExitCode);
        }
        finally { Cli(b, "delete", "--force", b.Id); }
    }

    [Fact]
    public void DenyAllDeviceRulesStillAllowTheStandardNodes()
    {
        // What `runc spec` writes: one "deny all" device rule and nothing else; runc still runs it.
        using var b = new BusyboxBundle("sh", "-c", "echo x > /dev/null && head -c 4 /dev/zero | wc -c && ls /dev/tty");
        b.Spec.Linux!.Resources!.Devices = [new Skiff.Runtime.Spec.OciDeviceRule { Allow = false, Access = "rwm" }];
        b.Save();
        RunResult r = Cli(b, "run", "--bundle", b.Dir, b.Id);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("4\n/dev/tty\n", r.Stdout);
    }

    [Fact]
    public void RunPassesStdioThroughAndDetachedRunLeavesItRunning()
    {
        using var b = new BusyboxBundle("sh", "-c", "echo out; echo err >&2; exit 7");
        RunResult r = Cli(b, "run", "--bundle", b.Dir, b.Id);
        Assert.Equal(7, r.ExitCode);
        Assert.Equal("out\n", r.Stdout);
        Assert.Equal("err\n", r.Stderr);
        Assert.NotEqual(0, Cli(b, "state", b.Id).ExitCode);

        using var d = new BusyboxBundle("sleep", "60");
        try
        {
            Assert.Equal(0, Cli(d, "run", "-d", "--bundle", d.Dir, d.Id).ExitCode);
            Assert.Equal("running", State(d).GetProperty("status").GetString());
        }
        finally { Assert.Equal(0, Cli(d, "delete", "-f", d.Id).ExitCode); }
    }

    [Fact]
    public void ExecJoinsTheUserNamespace()
    {
        // An exec'd process must be the namespace's root (host uid 100000), never the host's.
        using var b = new BusyboxBundle("sleep", "60");
        b.Spec.Linux!.Namespaces!.Add(new Skiff.Runtime.Spec.OciNamespace { Type = "user" });
        b.Spec.Linux.UidMappings = [new Skiff.Runtime.Spec.OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
        b.Spec.Linux.GidMappings = [new Skiff.Runtime.Spec.OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
        b.Save();
        try
        {
            Assert.Equal(0, Cli(b, "run", "-d", "--bundle", b.Dir, b.Id).ExitCode);
            RunResult exec = Cli(b, "exec", b.Id, "sh", "-c", "id; cat /proc/self/uid_map; echo $$; grep CapEff /proc/self/status");
            Assert.True(exec.ExitCode == 0, exec.Stderr);
            var lines = exec.Stdout.Split('\n');
            Assert.Equal("uid=0(root) gid=0(root)", lines[0]);
            Assert.Equal("         0     100000      65536", lines[1]);
            Assert.NotEqual("1", lines[2]);
            Assert.Equal("CapEff:\t00000000a80425fb", lines[3]);
            int pid = State(b).GetProperty("pid").GetInt32();
            Assert.Contains("\t100000\t", File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)));
        }
        finally { Cli(b, "delete", "--force", b.Id); }
    }

    [Fact]
    public void JoinsAUserNamespaceByPath()
    {
        // The second container joins the first one's user namespace and makes its other namespaces inside it: it is
        // PID 1 of its own pid namespace, root of the shared mapping, and may mount (its mount namespace is owned by it).
        using var owner = new BusyboxBundle("sleep", "60");
        owner.Spec.Linux!.Namespaces!.Add(new Skiff.Runtime.Spec.OciNamespace { Type = "user" });
        owner.Spec.Linux.UidMappings = [new Skiff.Runtime.Spec.OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
        owner.Spec.Linux.GidMappings = [new Skiff.Runtime.Spec.OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
        owner.Save();
        try
        {
            Assert.Equal(0, Cli(owner, "run", "-d", "--bundle", owner.Dir, owner.Id).ExitCode);
            int ownerPid = State(owner).GetProperty("pid").GetInt32();
            string ownerUserNs = new FileInfo($"/proc/{ownerPid}/ns/user").LinkTarget!;

            using var b = new BusyboxBundle("sh", "-c", "id; cat /proc/self/uid_map; readlink /proc/self/ns/user; echo $$");
            b.Spec.Linux!.Namespaces!.Add(new Skiff.Runtime.Spec.OciNamespace { Type = "user", Path = $"/proc/{ownerPid}/ns/user" });
            b.Save();
            RunResult r = Cli(b, "run", "--bundle", b.Dir, b.Id);
            Assert.True(r.ExitCode == 0, r.Stderr);
            var lines = r.Stdout.Split('\n');
            Assert.Equal("uid=0(root) gid=0(root)", lines[0]);
            Assert.Equal("         0     100000      65536", lines[1]);
            Assert.Equal(ownerUserNs, lines[2]);
            Assert.Equal("1", lines[3]);
        }
        finally { Cli(owner, "delete", "--force", owner.Id); }
    }

    [Fact]
    public void InitAnnotationMakesAReaperPidOne()
    {
        using var b = new BusyboxBundle("sh", "-c", "(sleep 0.1 &); sleep 0.5; ps -o pid,stat,args; exit 4");
        b.Spec.Annotations = new Dictionary<string, string> { [Annotations.Init] = "true" };
        b.Save();
        RunResult r = Cli(b, "run", "--bundle", b.Dir, b.Id);
        Assert.Equal(4, r.ExitCode);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^\s*1\s+S\s+/sbin/docker-init -- sh -c", lines[1]);
        Assert.DoesNotContain(lines, l => l.Contains(" Z ", StringComparison.Ordinal));

        // SIGTERM to the reaper reaches the command: 128+15.
        using var d = new BusyboxBundle("sleep", "60");
        d.Spec.Annotations = new Dictionary<string, string> { [Annotations.Init] = "true" };
        d.Save();
        try
        {
            Assert.Equal(0, Cli(d, "run", "-d", "--bundle", d.Dir, d.Id).ExitCode);
            int pid = State(d).GetProperty("pid").GetInt32();
            Assert.Equal(0, Cli(d, "kill", d.Id, "TERM").ExitCode);
            for (int i = 0; i < 100 && State(d).GetProperty("status").GetString() != "stopped"; i++) Thread.Sleep(20);
            Assert.Equal("stopped", State(d).GetProperty("status").GetString());
        }
        finally { Cli(d, "delete", "-f", d.Id); }
    }
}
