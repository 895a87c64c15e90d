using System.Text;
using System.Text.Json;
using Skiff.Linux;
using Skiff.Runtime.Spec;

namespace Skiff.Runtime.Tests;

/// <summary>The in-process API the shim uses: this test process is the parent of every container init.</summary>
public sealed class LinuxContainerTests
{
    /// <summary>A file that collects a process's stdout and stderr.</summary>
    private sealed class Capture : IDisposable
    {
        public readonly string Path = System.IO.Path.GetTempFileName();
        public readonly int Fd;
        public Capture() => Fd = Libc.open(Path, Libc.O_WRONLY | Libc.O_TRUNC | Libc.O_CLOEXEC, 0x1A4);
        public StdioFds Stdio => new(Fd, Fd, Fd);
        public string Text => File.ReadAllText(Path);
        public void Dispose() { Libc.close(Fd); File.Delete(Path); }
    }

    private static LinuxContainer Create(BusyboxBundle b, StdioFds? stdio) => LinuxContainer.Create(new CreateOptions
    {
        Id = b.Id, BundlePath = b.Dir, Spec = b.Spec, StateRoot = b.StateRoot, InitPath = TestEnvironment.RuntimeBinary, Stdio = stdio,
    });

    /// <summary>Runs to completion and always deletes the container, even when an assertion fails.</summary>
    private static (int ExitCode, string Output, bool OomKilled) RunToExit(BusyboxBundle b)
    {
        using var cap = new Capture();
        var c = Create(b, cap.Stdio);
        try
        {
            c.Start();
            int code = c.WaitForExit();
            return (code, cap.Text, c.OomKilled);
        }
        finally { c.Delete(force: true); }
    }

    [Fact]
    public void MemoryHogBeyondTheLimitIsOomKilledAndReported()
    {
        using var b = new BusyboxBundle("sh", "-c", "x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo survived ${#x}");
        b.Spec.Linux!.Resources!.Memory = new OciMemory { Limit = 64 << 20, Swap = 64 << 20 };
        var (code, output, oom) = RunToExit(b);
        Assert.True(oom, $"expected an OOM kill; exit {code}, output: {output}");
        Assert.DoesNotContain("survived 300000000", output);
    }

    [Fact]
    public void ForkBombIsContainedByThePidsLimit()
    {
        using var b = new BusyboxBundle("sh", "-c",
            "sh -c 'i=0; while [ $i -lt 200 ]; do sleep 60 & i=$((i+1)); done'; read n < /sys/fs/cgroup/pids/pids.current; echo $n");
        b.Spec.Linux!.Resources!.Pids = new OciPids { Limit = 50 };
        var (code, output, _) = RunToExit(b);
        string last = output.TrimEnd().Split('\n')[^1];
        Assert.True(int.TryParse(last, out int current), output);
        Assert.InRange(current, 1, 50);
        Assert.True(output.Contains("fork", StringComparison.Ordinal), output);
    }

    [Fact]
    public void RealForkBombIsContainedAndDeleteStopsIt()
    {
        using var b = new BusyboxBundle("sh", "-c", "f() { f | f & }; f; sleep 60");
        b.Spec.Linux!.Resources!.Pids = new OciPids { Limit = 50 };
        b.Spec.Linux.Namespaces!.RemoveAll(n => n.Type == "pid");
        var c = Create(b, null);
        try
        {
            c.Start();
            ulong peak = 0;
            for (int i = 0; i < 30; i++)
            {
                peak = Math.Max(peak, c.Stats().Cgroup.PidsCurrent);
                Thread.Sleep(50);
            }
            Assert.InRange(peak, 2UL, 50UL);
        }
        finally
        {
            c.Delete(force: true);
            LinuxContainer.Reap(c.Pid);
        }
        Assert.False(Directory.Exists($"/sys/fs/cgroup/pids{BusyboxBundle.CgroupParent}/{b.Id}"));
    }

    [Fact]
    public void LifecycleExecPauseStatsKillDelete()
    {
        using var b = new BusyboxBundle("sleep", "60");
        var c = Create(b, null);
        try
        {
            Assert.Equal(ContainerStatus.Created, c.Status());
            c.Start();
            Assert.Equal(ContainerStatus.Running, c.Status());

            using (var cap = new Capture())
            {
                ExecProcess p = c.Exec(new ExecOptions { Args = ["sh", "-c", "hostname; cat /proc/1/cmdline; echo; id -u"], Stdio = cap.Stdio, InitPath = TestEnvironment.RuntimeBinary });
                Assert.Equal(0, LinuxContainer.Reap(p.Pid));
                Assert.Equal("skiffhost\nsleep60\n0\n", cap.Text.Replace("\0", ""));
            }
            using (var cap = new Capture())
            {
                ExecProcess p = c.Exec(new ExecOptions { Args = ["id"], User = "alice", Stdio = cap.Stdio, InitPath = TestEnvironment.RuntimeBinary });
                Assert.Equal(0, LinuxContainer.Reap(p.Pid));
                Assert.StartsWith("uid=1000(alice) gid=1000(alice)", cap.Text);
            }
            var ex = Assert.Throws<ContainerException>(() => c.Exec(new ExecOptions { Args = ["nope"], InitPath = TestEnvironment.RuntimeBinary }));
            Assert.Equal("exec: \"nope\": executable file not found in $PATH", ex.Message);

            c.Pause();
            Assert.Equal(ContainerStatus.Paused, c.Status());
            c.Resume();
            Assert.Equal(ContainerStatus.Running, c.Status());

            ContainerStats stats = c.Stats();
            Assert.True(stats.Cgroup.MemoryUsage > 0);
            Assert.True(stats.Cgroup.CpuUsageNanos > 0);
            Assert.Equal(1UL, stats.Cgroup.PidsCurrent);
            Assert.False(stats.OomKilled);
            Assert.Single(c.Pids());

            c.Kill(Libc.SIGKILL);
            Assert.Equal(137, c.WaitForExit());
            Assert.Equal(ContainerStatus.Stopped, c.Status());
        }
        finally { c.Delete(force: true); }
        Assert.False(Directory.Exists(Path.Combine(b.StateRoot, b.Id)));
        Assert.False(Directory.Exists($"/sys/fs/cgroup/memory{BusyboxBundle.CgroupParent}/{b.Id}"));
    }

    [Fact]
    public void ConcurrentCreatesFromOneProcess()
    {
        var bundles = Enumerable.Range(0, 4).Select(i => new BusyboxBundle("sh", "-c", $"echo {i} $(hostname) $$")).ToList();
        try
        {
            var results = new (int Code, string Output, bool Oom)[bundles.Count];
            var threads = bundles.Select((b, i) => new Thread(() => results[i] = RunToExit(b))).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            for (int i = 0; i < bundles.Count; i++)
                Assert.Equal((0, $"{i} skiffhost 1\n"), (results[i].Code, results[i].Output));
        }
        finally { bundles.ForEach(b => b.Dispose()); }
    }

    [Fact]
    public void DeletingACreatedContainerKillsItsInit()
    {
        using var b = new BusyboxBundle("true");
        var c = Create(b, null);
        int pid = c.Pid;
        c.Delete(force: true);
        Assert.Equal(137, LinuxContainer.Reap(pid));
        Assert.False(Directory.Exists($"/sys/fs/cgroup/pids{BusyboxBundle.CgroupParent}/{b.Id}"));
    }

    [Fact]
    public void TerminalModeHandsBackAPtyMasterFromTheContainersDevpts()
    {
        using var b = new BusyboxBundle("sh", "-c", "tty; read x; stty size; sleep 60");
        b.Spec.Process!.Terminal = true;
        var c = Create(b, null);
        try
        {
            Assert.NotNull(c.ConsoleMaster);
            c.Start();
            int console = (int)c.ConsoleMaster!.DangerousGetHandle();
            Assert.Equal("/dev/pts/0", ReadLine(console));
            PtyMaster.Resize(c.ConsoleMaster, 40, 100);
            Libc.WriteAll(console, "go\n"u8);
            Assert.Equal("go", ReadLine(console));
            Assert.Equal("40 100", ReadLine(console));

            ExecProcess p = c.Exec(new ExecOptions
            {
                Args = ["sh", "-c", "tty; stty size; read x; echo got $x"], Terminal = true, InitPath = TestEnvironment.RuntimeBinary,
                ConsoleSize = new OciConsoleSize { Height = 24, Width = 132 },
            });
            Assert.NotNull(p.ConsoleMaster);
            int master = (int)p.ConsoleMaster!.DangerousGetHandle();
            Assert.Equal("/dev/pts/1", ReadLine(master));
            Assert.Equal("24 132", ReadLine(master));
            Libc.WriteAll(master, "hello\n"u8);
            Assert.Equal("hello", ReadLine(master));
            Assert.Equal("got hello", ReadLine(master));
            Assert.Equal(0, LinuxContainer.Reap(p.Pid));
            p.ConsoleMaster.Dispose();
            c.Kill(Libc.SIGKILL);
            c.WaitForExit();
        }
        finally
        {
            c.ConsoleMaster?.Dispose();
            c.Delete(force: true);
        }
    }

    private static string ReadLine(int fd)
    {
        var sb = new StringBuilder();
        byte[] one = new byte[1];
        while (true)
        {
            int n = Libc.ReadSome(fd, one);
            if (n == 0) break;
            char ch = (char)one[0];
            if (ch == '\n') break;
            if (ch != '\r') sb.Append(ch);
        }
        return sb.ToString();
    }

    [Fact]
    public void UserAnnotationResolvesInsideTheContainer()
    {
        using var b = new BusyboxBundle("id");
        b.Spec.Annotations = new() { [Annotations.User] = "alice" };
        var (code, output, _) = RunToExit(b);
        Assert.Equal(0, code);
        Assert.Equal("uid=1000(alice) gid=1000(alice) groups=10(wheel),100(users)\n", output);

        using var numeric = new BusyboxBundle("id");
        numeric.Spec.Annotations = new() { [Annotations.User] = "1234:5678" };
        // Docker's rule (measured on dockerd): without memberships in /etc/group, the primary group is the supplementary one.
        Assert.Equal("uid=1234 gid=5678 groups=5678\n", RunToExit(numeric).Output);

        using var cwd = new BusyboxBundle("sh", "-c", "pwd; cut -d' ' -f6 /proc/1/stat");
        cwd.Spec.Process!.Cwd = "/made/by/runtime";
        cwd.Spec.Annotations = new() { [Annotations.User] = "", [Annotations.CreateCwd] = "true" };
        Assert.Equal("/made/by/runtime\n1\n", RunToExit(cwd).Output);
    }

    [Fact]
    public void UnknownUserFailsWithDockersMessage()
    {
        using var b = new BusyboxBundle("id");
        b.Spec.Annotations = new() { [Annotations.User] = "bob" };
        var e = Assert.Throws<ContainerException>(() => Create(b, null));
        Assert.Equal("unable to find user bob: no matching entries in passwd file", e.Message);
        Assert.False(Directory.Exists(Path.Combine(b.StateRoot, b.Id)));
    }

    [Fact]
    public void OverlayAnnotationMountsTheRootfsInsideTheContainerOnly()
    {
        using var b = new BusyboxBundle("sh", "-c", "echo data > /written; awk '$5==\"/\" {for(i=7;i<=NF;i++) if($i==\"-\") print $(i+1)}' /proc/self/mountinfo");
        string lower = Path.Combine(b.Dir, "rootfs"), upper = Path.Combine(b.Dir, "upper"), work = Path.Combine(b.Dir, "work"),
            merged = Path.Combine(b.Dir, "merged");
        Directory.CreateDirectory(upper); Directory.CreateDirectory(work); Directory.CreateDirectory(merged);
        b.Spec.Root!.Path = merged;
        b.Spec.Annotations = new() { [Annotations.RootfsOverlay] = $"lowerdir={lower},upperdir={upper},workdir={work}" };
        var (code, output, _) = RunToExit(b);
        Assert.Equal(0, code);
        Assert.Equal("overlay\n", output);
        Assert.Equal("data\n", File.ReadAllText(Path.Combine(upper, "written")));
        Assert.False(File.Exists(Path.Combine(lower, "written")));
        Assert.DoesNotContain(merged, File.ReadAllText("/proc/self/mountinfo"));
    }

    [Fact]
    public void StartReportsExecFailuresAfterCreateAsText()
    {
        using var b = new BusyboxBundle("/bin");
        var e = Assert.Throws<ContainerException>(() => Create(b, null));
        Assert.Equal("exec: \"/bin\": is a directory", e.Message);
    }

    [Fact]
    public void InitFailuresComeBackWithTheInitStagesTexts()
    {
        using (var b = new BusyboxBundle("/no/such/binary"))
            Assert.Equal("exec: \"/no/such/binary\": stat /no/such/binary: no such file or directory",
                Assert.Throws<ContainerException>(() => Create(b, null)).Message);
        using (var b = new BusyboxBundle("/etc/passwd"))
            Assert.Equal("exec: \"/etc/passwd\": permission denied", Assert.Throws<ContainerException>(() => Create(b, null)).Message);
        using (var b = new BusyboxBundle("true"))
        {
            b.Spec.Process!.Cwd = "/no/such/dir";
            Assert.Equal("chdir to cwd (\"/no/such/dir\") set in config.json failed: no such file or directory",
                Assert.Throws<ContainerException>(() => Create(b, null)).Message);
        }
        using (var b = new BusyboxBundle("true"))
        {
            b.Spec.Process!.Rlimits = [new OciRlimit { Type = "RLIMIT_BOGUS", Hard = 1, Soft = 1 }];
            Assert.Equal("unknown rlimit type RLIMIT_BOGUS", Assert.Throws<ContainerException>(() => Create(b, null)).Message);
        }
    }

    [Fact]
    public void ContainerGetsNoFdOfTheCreatingProcess()
    {
        // Not CLOEXEC: a plain fork-and-exec would pass it on.
        int leaked = Libc.open("/etc/hostname", Libc.O_RDONLY, 0);
        try
        {
            using var b = new BusyboxBundle("sh", "-c", "ls /proc/self/fd");
            var (code, output, _) = RunToExit(b);
            Assert.Equal(0, code);
            // 0-2 plus the directory ls reads.
            Assert.Equal(["0", "1", "2", "3"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        finally { Libc.close(leaked); }
    }

    [Fact]
    public void WithoutAUtsNamespaceTheHostnameIsLeftAlone()
    {
        string host = File.ReadAllText("/proc/sys/kernel/hostname").Trim();
        using var b = new BusyboxBundle("hostname");
        b.Spec.Hostname = "not-the-host";
        b.Spec.Linux!.Namespaces!.RemoveAll(n => n.Type == "uts");
        var (code, output, _) = RunToExit(b);
        Assert.Equal(0, code);
        Assert.Equal(host, output.Trim());
        Assert.Equal(host, File.ReadAllText("/proc/sys/kernel/hostname").Trim());
    }

    [Fact]
    public void RlimitsOomScoreAndUmaskReachTheProcess()
    {
        using var b = new BusyboxBundle("sh", "-c", "ulimit -n; cat /proc/self/oom_score_adj; umask");
        b.Spec.Process!.Rlimits = [new OciRlimit { Type = "RLIMIT_NOFILE", Hard = 512, Soft = 256 }];
        b.Spec.Process.OomScoreAdj = 123;
        b.Spec.Process.User.Umask = 0x3F;
        var (code, output, _) = RunToExit(b);
        Assert.Equal(0, code);
        Assert.Equal(["256", "123", "0077"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
