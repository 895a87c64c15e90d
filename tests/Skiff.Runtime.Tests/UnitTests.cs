using Skiff.Cgroups;
using Skiff.Runtime.Init;
using Skiff.Runtime.Spec;

namespace Skiff.Runtime.Tests;

public sealed class CgroupTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "skiff-cg-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void V1WritesLimitsUnderEveryControllerAndInheritsCpuset()
    {
        foreach (string c in new[] { "memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "devices" }) Directory.CreateDirectory(Path.Combine(_root, c));
        File.WriteAllText(Path.Combine(_root, "cpuset", "cpuset.cpus"), "0-1");
        File.WriteAllText(Path.Combine(_root, "cpuset", "cpuset.mems"), "0");
        ICgroup cg = CgroupHierarchy.V1(_root).Open("/skiff/abc");
        cg.Create();
        File.WriteAllText(Path.Combine(_root, "memory/skiff/abc/memory.memsw.limit_in_bytes"), "");
        cg.Apply(new CgroupResources
        {
            MemoryLimit = 1 << 26, MemorySwap = 1 << 27, CpuShares = 512, CpuQuota = 50000, CpuPeriod = 100000, PidsLimit = 50,
            Devices = [new DeviceRule(false, 'a', null, null, "rwm"), new DeviceRule(true, 'c', 1, 3, "rwm"), new DeviceRule(true, 'c', 136, null, "rwm")],
        });
        string R(string f) => File.ReadAllText(Path.Combine(_root, f));
        Assert.Equal("67108864", R("memory/skiff/abc/memory.limit_in_bytes"));
        Assert.Equal("134217728", R("memory/skiff/abc/memory.memsw.limit_in_bytes"));
        Assert.Equal("512", R("cpu/skiff/abc/cpu.shares"));
        Assert.Equal("50000", R("cpu/skiff/abc/cpu.cfs_quota_us"));
        Assert.Equal("50", R("pids/skiff/abc/pids.max"));
        Assert.Equal("0-1", R("cpuset/skiff/cpuset.cpus"));
        Assert.Equal("0", R("cpuset/skiff/abc/cpuset.mems"));
        Assert.Equal("c 136:* rwm", R("devices/skiff/abc/devices.allow"));
        Assert.Equal("a", R("devices/skiff/abc/devices.deny"));
        Assert.Equal(_root + "/memory/skiff/abc", cg.Directories["memory"]);
    }

    [Fact]
    public void V1StatsAndOomCounter()
    {
        Directory.CreateDirectory(Path.Combine(_root, "memory/c"));
        Directory.CreateDirectory(Path.Combine(_root, "cpuacct/c"));
        Directory.CreateDirectory(Path.Combine(_root, "pids/c"));
        File.WriteAllText(Path.Combine(_root, "memory/c/memory.usage_in_bytes"), "1000\n");
        File.WriteAllText(Path.Combine(_root, "memory/c/memory.limit_in_bytes"), "2000\n");
        File.WriteAllText(Path.Combine(_root, "memory/c/memory.stat"), "cache 10\nrss 20\ntotal_inactive_file 7\n");
        File.WriteAllText(Path.Combine(_root, "memory/c/memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
        File.WriteAllText(Path.Combine(_root, "cpuacct/c/cpuacct.usage"), "123456\n");
        File.WriteAllText(Path.Combine(_root, "pids/c/pids.current"), "3\n");
        File.WriteAllText(Path.Combine(_root, "pids/c/pids.max"), "50\n");
        File.WriteAllText(Path.Combine(_root, "cpuacct/c/cpuacct.stat"), "user 12\nsystem 3\n");
        File.WriteAllText(Path.Combine(_root, "cpuacct/c/cpuacct.usage_percpu"), "100 200 \n");
        Directory.CreateDirectory(Path.Combine(_root, "blkio/c"));
        File.WriteAllText(Path.Combine(_root, "blkio/c/blkio.throttle.io_service_bytes_recursive"), "8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\nTotal 4608\n");
        ICgroup cg = CgroupHierarchy.V1(_root).Open("c");
        CgroupStats s = cg.Stats();
        Assert.Equal((1000UL, 2000UL, 10UL, 7UL, 123456UL, 3UL), (s.MemoryUsage, s.MemoryLimit, s.MemoryCache, s.InactiveFile, s.CpuUsageNanos, s.PidsCurrent));
        Assert.Equal(2, cg.OomKillCount());
        Assert.Equal((120_000_000UL, 30_000_000UL, 50UL, 4096UL, 512UL), (s.CpuUserNanos, s.CpuSystemNanos, s.PidsLimit, s.BlkioReadBytes, s.BlkioWriteBytes));
        Assert.Equal([100UL, 200UL], s.CpuPerCoreNanos);
    }

    [Fact]
    public void V2DelegatesControllersAndWritesUnifiedFiles()
    {
        Directory.CreateDirectory(_root);
        File.WriteAllText(Path.Combine(_root, "cgroup.controllers"), "cpuset cpu io memory hugetlb pids");
        ICgroup cg = CgroupHierarchy.V2(_root).Open("/skiff/x");
        cg.Create();
        File.WriteAllText(Path.Combine(_root, "skiff/x/memory.swap.max"), "");
        cg.Apply(new CgroupResources { MemoryLimit = 1 << 26, MemorySwap = 1 << 27, CpuShares = 1024, CpuQuota = 50000, CpuPeriod = 100000, PidsLimit = 0 });
        string R(string f) => File.ReadAllText(Path.Combine(_root, f));
        Assert.Equal("+cpuset +cpu +io +memory +pids", R("cgroup.subtree_control"));
        Assert.Equal("67108864", R("skiff/x/memory.max"));
        Assert.Equal("67108864", R("skiff/x/memory.swap.max"));
        Assert.Equal("50000 100000", R("skiff/x/cpu.max"));
        Assert.Equal("39", R("skiff/x/cpu.weight"));
        Assert.Equal("max", R("skiff/x/pids.max"));
        File.WriteAllText(Path.Combine(_root, "skiff/x/memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
        Assert.Equal(1, cg.OomKillCount());
    }
}

public sealed class UserLookupTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("skiff-user").FullName;
    private string Passwd => Path.Combine(_dir, "passwd");
    private string Group => Path.Combine(_dir, "group");

    public UserLookupTests()
    {
        File.WriteAllText(Passwd, "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n");
        File.WriteAllText(Group, "wheel:x:10:alice,root\nstaff:x:50:\nalice:x:1000:\n");
    }

    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData("alice", 1000u, 1000u, "10", "/home/alice")]
    [InlineData("alice:staff", 1000u, 50u, "10", "/home/alice")]
    [InlineData("1000", 1000u, 1000u, "10", "/home/alice")]
    [InlineData("4242", 4242u, 0u, "0", "/")]
    [InlineData("4242:77", 4242u, 77u, "77", "/")]
    [InlineData("root", 0u, 0u, "10", "/root")]
    [InlineData("", 0u, 0u, "10", "/root")]
    public void ResolvesDockerUserSyntax(string spec, uint uid, uint gid, string groups, string home)
    {
        ExecUser u = UserLookup.Resolve(spec, 0, 0, null, Passwd, Group);
        Assert.Equal((uid, gid, groups, home), (u.Uid, u.Gid, string.Join(',', u.Groups), u.Home));
    }

    [Fact]
    public void GroupAddAppendsNamesAndIdsAfterTheUsersGroups()
    {
        ExecUser u = UserLookup.Resolve("4242", 0, 0, null, Passwd, Group, groupAdd: "staff,99,staff");
        Assert.Equal("0,50,99", string.Join(',', u.Groups));
        Assert.Equal("Unable to find group nope: no matching entries in group file",
            Assert.Throws<ContainerException>(() => UserLookup.Resolve("", 0, 0, null, Passwd, Group, groupAdd: "nope")).Message);
    }

    [Fact]
    public void UnknownNamesFailWithDockersMessages()
    {
        Assert.Equal("unable to find user bob: no matching entries in passwd file",
            Assert.Throws<ContainerException>(() => UserLookup.Resolve("bob", 0, 0, null, Passwd, Group)).Message);
        Assert.Equal("unable to find group nope: no matching entries in group file",
            Assert.Throws<ContainerException>(() => UserLookup.Resolve("alice:nope", 0, 0, null, Passwd, Group)).Message);
    }

    [Fact]
    public void WithoutAnnotationProcessUserIsKeptAndOnlyAdditionalGidsApply()
    {
        ExecUser u = UserLookup.Resolve(null, 1000, 1000, [5], Passwd, Group);
        Assert.Equal((1000u, 1000u, "5", "/home/alice"), (u.Uid, u.Gid, string.Join(',', u.Groups), u.Home));
    }
}

public sealed class SpecTests
{
    [Fact]
    public void JsonUsesOciSpellings()
    {
        var spec = DockerDefaults.CreateSpec(["sh"]);
        spec.Linux!.UidMappings = [new OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
        spec.Linux.Resources!.BlockIO = new OciBlockIo { Weight = 500 };
        string json = System.Text.Encoding.UTF8.GetString(spec.ToJson());
        Assert.Contains("\"containerID\":0", json);
        Assert.Contains("\"hostID\":100000", json);
        Assert.Contains("\"blockIO\":{\"weight\":500}", json);
        Assert.Contains("\"ociVersion\"", json);
        Assert.DoesNotContain(":null", json);
        var back = OciSpec.Parse(spec.ToJson());
        Assert.Equal(spec.Linux.MaskedPaths, back.Linux!.MaskedPaths);
        Assert.Equal(14, back.Process!.Capabilities!.Bounding!.Count);
    }

    [Fact]
    public void ReaderMatchesSystemTextJsonOnEveryField()
    {
        // Docker's full default spec (seccomp profile included) plus every optional field set: the spec
        // reader must give back what System.Text.Json's metadata-driven deserializer gives.
        var spec = DockerDefaults.CreateSpec(["sh", "-c", "echo \"hi\" \\ \u00e9"], hostname: "h");
        spec.Domainname = "example";
        spec.Annotations = new Dictionary<string, string> { ["a"] = "b", [Annotations.Init] = "true" };
        var p = spec.Process!;
        p.Terminal = true;
        p.ConsoleSize = new OciConsoleSize { Height = 24, Width = 80 };
        p.User = new OciUser { Uid = 1000, Gid = 1000, Umask = 18, AdditionalGids = [10, 100] };
        p.Capabilities!.Ambient = ["CAP_KILL"];
        p.Capabilities.Inheritable = ["CAP_KILL"];
        p.Rlimits = [new OciRlimit { Type = "RLIMIT_NOFILE", Hard = ulong.MaxValue, Soft = 1024 }];
        p.NoNewPrivileges = true;
        p.OomScoreAdj = -500;
        p.ApparmorProfile = "unconfined";
        spec.Root!.Readonly = true;
        var l = spec.Linux!;
        l.Namespaces!.Add(new OciNamespace { Type = "user" });
        l.Namespaces[0].Path = "/proc/1/ns/pid";
        l.UidMappings = [new OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
        l.GidMappings = [new OciIdMapping { ContainerId = 0, HostId = 200000, Size = 1 }];
        l.Devices = [new OciDevice { Path = "/dev/fuse", Type = "c", Major = 10, Minor = 229, FileMode = 0x1B6, Uid = 0, Gid = 0 }];
        l.CgroupsPath = "/skiff/x";
        l.Sysctl = new Dictionary<string, string> { ["net.ipv4.ip_forward"] = "1" };
        l.RootfsPropagation = "rslave";
        var res = l.Resources!;
        res.Memory = new OciMemory { Limit = 64 << 20, Reservation = 1 << 20, Swap = -1, Swappiness = 10, DisableOOMKiller = false };
        res.Cpu = new OciCpu { Shares = 512, Quota = 50000, Period = 100000, Cpus = "0-1", Mems = "0" };
        res.Pids = new OciPids { Limit = 50 };
        res.BlockIO = new OciBlockIo { Weight = 300 };
        byte[] json = spec.ToJson();
        var viaStj = System.Text.Json.JsonSerializer.Deserialize(json, OciJsonContext.Default.OciSpec)!;
        var viaReader = OciSpec.Parse(json);
        Assert.Equal(System.Text.Encoding.UTF8.GetString(viaStj.ToJson()), System.Text.Encoding.UTF8.GetString(viaReader.ToJson()));
        Assert.Equal(json, viaReader.ToJson());
        Assert.Contains(viaReader.Linux!.Seccomp!.Syscalls!, s => s.Args is { Count: > 0 });

        // Unknown properties are skipped, malformed documents and wrongly typed values refused.
        var extra = OciSpec.Parse("{\"ociVersion\":\"1.0.2\",\"hooks\":{\"prestart\":[{\"path\":\"/x\"}]},\"process\":{\"args\":[\"a\"],\"x\":[1,{\"y\":null}]}}"u8);
        Assert.Equal(["a"], extra.Process!.Args);
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => OciSpec.Parse("{\"process\":{\"args\":[\"a\"]}"u8));
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => OciSpec.Parse("{\"process\":{\"terminal\":\"yes\"}}"u8));
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => OciSpec.Parse("{} {}"u8));
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => OciSpec.Parse("{\"linux\":{\"uidMappings\":[{\"size\":-1}]}}"u8));
    }

    [Fact]
    public void CapabilityAddAndDropFollowDocker()
    {
        Assert.Equal(0xa80425fbUL, Capabilities.Mask(Capabilities.DockerDefault));
        var c = Capabilities.Adjust(Capabilities.DockerDefault, ["NET_ADMIN"], ["chown", "CAP_KILL"]);
        Assert.Contains("CAP_NET_ADMIN", c);
        Assert.DoesNotContain("CAP_CHOWN", c);
        Assert.DoesNotContain("CAP_KILL", c);
        Assert.Equal(["CAP_SYS_TIME"], Capabilities.Adjust(Capabilities.DockerDefault, ["SYS_TIME"], ["ALL"]));
        Assert.Equal(Capabilities.All.Count - 1, Capabilities.Adjust(Capabilities.DockerDefault, ["ALL"], ["MKNOD"]).Count);
        Assert.Throws<ArgumentException>(() => Capabilities.Adjust([], ["BOGUS"], null));
    }

    [Fact]
    public void MountOptionsSplitIntoFlagsPropagationAndData()
    {
        var o = MountOptions.Parse(["nosuid", "strictatime", "mode=755", "size=65536k", "rbind", "rslave", "ro"]);
        Assert.Equal(Skiff.Linux.Libc.MS_NOSUID | Skiff.Linux.Libc.MS_STRICTATIME | Skiff.Linux.Libc.MS_RDONLY, o.Flags);
        Assert.Equal(Skiff.Linux.Libc.MS_SLAVE | Skiff.Linux.Libc.MS_REC, o.Propagation);
        Assert.Equal("mode=755,size=65536k", o.Data);
        Assert.True(o.IsBind && o.IsRecursiveBind);
    }

    [Fact]
    public void SecureJoinKeepsSymlinksInsideTheRoot()
    {
        string root = Directory.CreateTempSubdirectory("skiff-join").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "real"));
            File.CreateSymbolicLink(Path.Combine(root, "abs"), "/etc");
            File.CreateSymbolicLink(Path.Combine(root, "rel"), "../../../real");
            Assert.Equal(root + "/etc/passwd", Rootfs.SecureJoin(root, "/abs/passwd"));
            Assert.Equal(root + "/real/x", Rootfs.SecureJoin(root, "/rel/x"));
            Assert.Equal(root + "/x", Rootfs.SecureJoin(root, "/../../x"));
        }
        finally { Directory.Delete(root, true); }
    }
}

public sealed class InitConfigCodecTests
{
    [Fact]
    public void RoundTripKeepsEverythingTheInitUses()
    {
        OciSpec spec = DockerDefaults.CreateSpec(["sh", "-c", "echo ü"], hostname: "h");
        spec.Domainname = "example";
        spec.Annotations = new() { [Annotations.User] = "alice:staff", [Annotations.RootfsOverlay] = "lowerdir=/a" };
        spec.Process!.ConsoleSize = new OciConsoleSize { Height = 24, Width = 80 };
        spec.Process.User = new OciUser { Uid = 5, Gid = 6, Umask = 0x12, AdditionalGids = [7, 8] };
        spec.Process.Rlimits = [new OciRlimit { Type = "RLIMIT_NOFILE", Hard = 10, Soft = 5 }];
        spec.Process.Capabilities!.Ambient = ["CAP_KILL"];
        spec.Process.OomScoreAdj = -100;
        spec.Process.NoNewPrivileges = true;
        spec.Linux!.Sysctl = new() { ["net.ipv4.ip_forward"] = "1" };
        spec.Linux.Namespaces!.Add(new OciNamespace { Type = "cgroup", Path = "/proc/1/ns/cgroup" });
        spec.Linux.RootfsPropagation = "rprivate";
        var config = new InitConfig
        {
            Mode = "exec", Spec = spec, BundlePath = "/b", FifoPath = null, CgroupDirs = new() { ["memory"] = "/sys/fs/cgroup/memory/x" },
            CgroupV2 = true, NamespacePid = 42, User = "bob", SeccompFilter = [1, 2, 3, 4, 5, 6, 7, 8],
        };
        InitConfig back = InitConfigCodec.Decode(InitConfigCodec.Encode(config));

        Assert.Equal((config.Mode, config.BundlePath, config.FifoPath, config.CgroupV2, config.NamespacePid, config.User),
            (back.Mode, back.BundlePath, back.FifoPath, back.CgroupV2, back.NamespacePid, back.User));
        Assert.Equal(config.CgroupDirs, back.CgroupDirs);
        Assert.Equal(config.SeccompFilter, back.SeccompFilter);
        // The init never sees cgroup limits or the seccomp section (the parent applies/compiles them).
        spec.Linux.Resources = null;
        spec.Linux.Seccomp = null;
        Assert.Equal(System.Text.Encoding.UTF8.GetString(spec.ToJson()), System.Text.Encoding.UTF8.GetString(back.Spec.ToJson()));
    }
}

public sealed class OverlayOptionsTests
{
    [Fact]
    public void ShortOptionsStayWholeAndLongLowerdirListsAreSplit()
    {
        Assert.Equal([("lowerdir", "/a:/b"), ("upperdir", "/u"), ("workdir", "/w"), ("volatile", null)],
            Skiff.Runtime.Init.Rootfs.ParseOverlayOptions("lowerdir=/a:/b,upperdir=/u,workdir=/w,volatile").ToList());
        string a = "/" + new string('a', 150), b = "/" + new string('b', 150);
        Assert.Equal([("lowerdir+", a), ("lowerdir+", b), ("upperdir", "/u")],
            Skiff.Runtime.Init.Rootfs.ParseOverlayOptions($"lowerdir={a}:{b},upperdir=/u").ToList());
    }
}
