using Skiff.Runtime.Spec;

namespace Skiff.Runtime.Tests;

/// <summary>
/// Runs the same busybox bundle under runc and under skiff-runtime and compares what the container sees.
/// </summary>
public sealed class CompareWithRuncTests
{
    private static (RunResult Skiff, RunResult Runc) Both(BusyboxBundle b)
    {
        RunResult skiff = Runner.Skiff(b);
        RunResult runc = Runner.Runc(b);
        return (skiff, runc);
    }

    private static void AddUserNamespace(BusyboxBundle b)
    {
        b.Spec.Linux!.Namespaces!.Add(new OciNamespace { Type = "user" });
        b.Spec.Linux.UidMappings = [new OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
        b.Spec.Linux.GidMappings = [new OciIdMapping { ContainerId = 0, HostId = 200000, Size = 65536 }];
        b.Save();
    }

    [Fact]
    public void UserNamespaceMappingsMatch()
    {
        // Root inside is host uid 100000 (gid 200000): full capabilities in its own namespace, files of
        // the host's root show as nobody and stay read-only to it; device nodes and proc still work.
        using var b = new BusyboxBundle("sh", "-c",
            "id; cat /proc/self/uid_map /proc/self/gid_map; grep -E '^Cap(Prm|Eff|Bnd):' /proc/self/status; " +
            "ls -ln /bin/busybox | cut -c1-36; touch /etc/x 2>/dev/null || echo read-only; echo x > /dev/null && echo null-ok; " +
            "hostname; ls /proc/1/ns/user >/dev/null && echo proc-ok; cut -d' ' -f5,6 /proc/self/mountinfo");
        AddUserNamespace(b);
        var (skiff, runc) = Both(b);
        Assert.True(runc.ExitCode == 0, runc.Stderr);
        Assert.True(skiff.ExitCode == 0, skiff.Stderr);
        Assert.Equal(runc.Stdout, skiff.Stdout);
        Assert.StartsWith("uid=0(root) gid=0(root)", skiff.Stdout);
        Assert.Contains("         0     100000      65536\n         0     200000      65536\n", skiff.Stdout);
        Assert.Contains("CapEff:\t00000000a80425fb", skiff.Stdout);
        Assert.Contains(" 65534    65534 ", skiff.Stdout);
        Assert.Contains("read-only\nnull-ok\nskiffhost\nproc-ok\n", skiff.Stdout);
    }

    [Fact]
    public void UserNamespaceWithANonRootUserMatches()
    {
        using var b = new BusyboxBundle("sh", "-c", "id; grep -E '^Cap(Prm|Eff)' /proc/self/status; cat /proc/self/uid_map");
        AddUserNamespace(b);
        b.Spec.Process!.User = new OciUser { Uid = 1000, Gid = 1000, AdditionalGids = [10] };
        b.Save();
        var (skiff, runc) = Both(b);
        Assert.True(skiff.ExitCode == 0, skiff.Stderr);
        Assert.Equal(runc.Stdout, skiff.Stdout);
        Assert.StartsWith("uid=1000(alice) gid=1000(alice) groups=10(wheel)", skiff.Stdout);
    }

    [Fact]
    public void HostnameIdentityCapabilitiesSeccompAndPid1Match()
    {
        using var b = new BusyboxBundle("sh", "-c",
            "hostname; id; echo pid=$$; grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status");
        var (skiff, runc) = Both(b);
        Assert.Equal(0, runc.ExitCode);
        Assert.Equal(0, skiff.ExitCode);
        Assert.Equal(runc.Stdout, skiff.Stdout);
        Assert.Contains("skiffhost\n", skiff.Stdout);
        Assert.Contains("pid=1\n", skiff.Stdout);
        Assert.Contains("CapEff:\t00000000a80425fb", skiff.Stdout);
        Assert.Contains("Seccomp:\t2", skiff.Stdout);
    }

    [Fact]
    public void MountTableHasTheSameShape()
    {
        // mount point, per-mount options and fs type; ids, devices and roots differ by design.
        using var b = new BusyboxBundle("sh", "-c", "cut -d' ' -f5,6 /proc/self/mountinfo; awk '{for(i=7;i<=NF;i++) if ($i==\"-\") print $5, $(i+1)}' /proc/self/mountinfo");
        var (skiff, runc) = Both(b);
        Assert.Equal(0, skiff.ExitCode);
        Assert.Equal(runc.Stdout, skiff.Stdout);
        Assert.Contains("/proc/kcore", skiff.Stdout + "/proc/kcore");
    }

    [Fact]
    public void NoNewPrivilegesAndUserAndGroupsMatch()
    {
        using var b = new BusyboxBundle("sh", "-c", "id; grep NoNewPrivs /proc/self/status; echo home=$HOME");
        b.Spec.Process!.NoNewPrivileges = true;
        b.Spec.Process.User = new OciUser { Uid = 1000, Gid = 1000, AdditionalGids = [10, 100] };
        b.Save();
        var (skiff, runc) = Both(b);
        Assert.Equal(0, skiff.ExitCode);
        Assert.Equal(runc.Stdout, skiff.Stdout);
        Assert.Contains("uid=1000(alice) gid=1000(alice)", skiff.Stdout);
        Assert.Contains("NoNewPrivs:\t1", skiff.Stdout);
    }

    [Fact]
    public void AmbientCapabilitiesForANonRootUser()
    {
        using var b = new BusyboxBundle("sh", "-c", "id -u; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' /proc/self/status");
        string[] caps = ["CAP_NET_BIND_SERVICE", "CAP_KILL"];
        b.Spec.Process!.User = new OciUser { Uid = 1000, Gid = 1000 };
        b.Spec.Process.Capabilities = new OciCapabilities
        {
            Bounding = [.. caps], Effective = [.. caps], Permitted = [.. caps], Inheritable = [.. caps], Ambient = ["CAP_NET_BIND_SERVICE"],
        };
        b.Save();
        var (skiff, runc) = Both(b);
        Assert.Equal(0, skiff.ExitCode);
        Assert.Equal(runc.Stdout, skiff.Stdout);
        Assert.Contains("CapAmb:\t0000000000000400", skiff.Stdout);
    }

    [Fact]
    public void MemoryLimitIsVisibleInTheContainersCgroup()
    {
        using var b = new BusyboxBundle("cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes");
        b.Spec.Linux!.Resources!.Memory = new OciMemory { Limit = 64 << 20 };
        b.Save();
        var (skiff, runc) = Both(b);
        Assert.Equal("67108864\n", skiff.Stdout);
        Assert.Equal(runc.Stdout, skiff.Stdout);
    }

    [Fact]
    public void MaskedAndReadonlyPathsBehaveAlike()
    {
        using var b = new BusyboxBundle("sh", "-c",
            "cat /proc/keys | wc -c; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo writable || echo readonly; cat /proc/timer_list | wc -c");
        var (skiff, runc) = Both(b);
        Assert.Equal(runc.Stdout, skiff.Stdout);
        Assert.Equal("0\n0\nreadonly\n0\n", skiff.Stdout);
    }

    [Fact]
    public void LoopbackIsUpInANewNetworkNamespace()
    {
        using var b = new BusyboxBundle("sh", "-c", "cat /sys/class/net/lo/flags; ls /sys/class/net");
        var (skiff, runc) = Both(b);
        Assert.Equal("0x9\nlo\n", skiff.Stdout);
        Assert.Equal(runc.Stdout, skiff.Stdout);
    }

    [Fact]
    public void OnlyStdioReachesTheContainerAndSignalStateMatchesRunc()
    {
        using var b = new BusyboxBundle("sh", "-c", "ls /proc/self/fd; grep -E '^Sig(Blk|Ign|Cgt)' /proc/self/status");
        var (skiff, runc) = Both(b);
        Assert.True(skiff.Stdout == runc.Stdout, $"skiff:\n{skiff.Stdout}\nrunc:\n{runc.Stdout}");
        Assert.StartsWith("0\n1\n2\n3\nSigBlk:\t0000000000000000\n", skiff.Stdout);
    }

    [Fact]
    public void ExitCodesPropagate()
    {
        using var b = new BusyboxBundle("sh", "-c", "exit 42");
        var (skiff, runc) = Both(b);
        Assert.Equal(42, runc.ExitCode);
        Assert.Equal(42, skiff.ExitCode);
    }

    [Fact]
    public void Pid1IgnoresUnhandledSignalsFromInside()
    {
        using var b = new BusyboxBundle("sh", "-c", "kill -9 $$; echo survived");
        var (skiff, runc) = Both(b);
        Assert.Equal("survived\n", skiff.Stdout);
        Assert.Equal(runc.Stdout, skiff.Stdout);
    }

    [Fact]
    public void ReadonlyRootfsRefusesWrites()
    {
        using var b = new BusyboxBundle("sh", "-c", "touch /x 2>/dev/null && echo wrote || echo refused; touch /dev/shm/ok && echo shm");
        b.Spec.Root!.Readonly = true;
        b.Save();
        var (skiff, runc) = Both(b);
        Assert.Equal("refused\nshm\n", skiff.Stdout);
        Assert.Equal(runc.Stdout, skiff.Stdout);
    }

    [Fact]
    public void UnknownExecutableGivesDockersErrorText()
    {
        using var b = new BusyboxBundle("nonexistent-cmd");
        RunResult skiff = Runner.Skiff(b);
        Assert.Equal(127, skiff.ExitCode);
        Assert.Contains("exec: \"nonexistent-cmd\": executable file not found in $PATH", skiff.Stderr);
    }

    [Fact]
    public void NonExecutableFileGivesPermissionDenied()
    {
        using var b = new BusyboxBundle("/etc/passwd");
        RunResult skiff = Runner.Skiff(b);
        Assert.Equal(126, skiff.ExitCode);
        Assert.Contains("exec: \"/etc/passwd\": permission denied", skiff.Stderr);
    }

    [Fact]
    public void SysctlsAndRlimitsApply()
    {
        using var b = new BusyboxBundle("sh", "-c", "cat /proc/sys/net/ipv4/ip_forward; ulimit -n; cat /proc/self/oom_score_adj");
        b.Spec.Process!.OomScoreAdj = 500;
        b.Spec.Linux!.Sysctl = new() { ["net.ipv4.ip_forward"] = "1" };
        b.Spec.Process!.Rlimits = [new OciRlimit { Type = "RLIMIT_NOFILE", Soft = 1024, Hard = 4096 }];
        b.Save();
        var (skiff, runc) = Both(b);
        Assert.Equal("1\n1024\n500\n", skiff.Stdout);
        Assert.Equal(runc.Stdout, skiff.Stdout);
    }
}
