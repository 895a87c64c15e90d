namespace Skiff.Cgroups;

/// <summary>A cgroup in the v1 hierarchies: one directory per mounted controller.</summary>
internal sealed class CgroupV1(CgroupHierarchy hierarchy, string path) : ICgroup
{
    public string Path { get; } = path;
    public bool IsV2 => false;

    public IReadOnlyDictionary<string, string> Directories =>
        hierarchy.V1Roots.ToDictionary(kv => kv.Key, kv => Dir(kv.Key)!);

    private string? Dir(string controller) =>
        hierarchy.V1Roots.TryGetValue(controller, out string? root) ? root + Path : null;

    public void Create()
    {
        foreach (var (controller, root) in hierarchy.V1Roots)
        {
            if (controller == "cpuset") CreateCpuset(root);
            else Directory.CreateDirectory(root + Path);
        }
    }

    /// <summary>
    /// A new v1 cpuset has empty cpus/mems and refuses tasks (ENOSPC) until they are set, so each new level
    /// copies its parent's values.
    /// </summary>
    private void CreateCpuset(string root)
    {
        string current = root;
        foreach (string part in Path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            string parent = current;
            current = current + "/" + part;
            Directory.CreateDirectory(current);
            foreach (string file in new[] { "cpuset.cpus", "cpuset.mems" })
            {
                string child = System.IO.Path.Combine(current, file);
                if (string.IsNullOrEmpty(CgroupHierarchy.ReadTrimmed(child)))
                {
                    string? fromParent = CgroupHierarchy.ReadTrimmed(System.IO.Path.Combine(parent, file));
                    if (!string.IsNullOrEmpty(fromParent)) CgroupHierarchy.Write(child, fromParent);
                }
            }
        }
    }

    public void AddProcess(int pid)
    {
        foreach (string controller in hierarchy.V1Roots.Keys)
            CgroupHierarchy.Write(System.IO.Path.Combine(Dir(controller)!, "cgroup.procs"), pid.ToString());
    }

    public bool TryAddCurrentThread()
    {
        foreach (string controller in hierarchy.V1Roots.Keys)
            CgroupHierarchy.Write(System.IO.Path.Combine(Dir(controller)!, "tasks"), "0");
        return true;
    }

    public void Apply(CgroupResources r)
    {
        if (Dir("memory") is { } mem)
        {
            if (r.MemoryLimit is { } limit) CgroupHierarchy.Write($"{mem}/memory.limit_in_bytes", limit.ToString());
            if (r.MemorySwap is { } swap && File.Exists($"{mem}/memory.memsw.limit_in_bytes"))
                CgroupHierarchy.Write($"{mem}/memory.memsw.limit_in_bytes", swap.ToString());
            if (r.MemoryReservation is { } res) CgroupHierarchy.Write($"{mem}/memory.soft_limit_in_bytes", res.ToString());
            if (r.MemorySwappiness is { } swappiness && swappiness <= 100) CgroupHierarchy.Write($"{mem}/memory.swappiness", swappiness.ToString());
            if (r.DisableOomKiller == true) CgroupHierarchy.Write($"{mem}/memory.oom_control", "1");
        }
        if (Dir("cpu") is { } cpu)
        {
            if (r.CpuShares is { } shares) CgroupHierarchy.Write($"{cpu}/cpu.shares", shares.ToString());
            if (r.CpuPeriod is { } period) CgroupHierarchy.Write($"{cpu}/cpu.cfs_period_us", period.ToString());
            if (r.CpuQuota is { } quota) CgroupHierarchy.Write($"{cpu}/cpu.cfs_quota_us", quota.ToString());
        }
        if (Dir("cpuset") is { } cpuset)
        {
            if (!string.IsNullOrEmpty(r.Cpus)) CgroupHierarchy.Write($"{cpuset}/cpuset.cpus", r.Cpus);
            if (!string.IsNullOrEmpty(r.Mems)) CgroupHierarchy.Write($"{cpuset}/cpuset.mems", r.Mems);
        }
        if (Dir("pids") is { } pids && r.PidsLimit is { } pl)
            CgroupHierarchy.Write($"{pids}/pids.max", pl <= 0 ? "max" : pl.ToString());
        if (Dir("blkio") is { } blkio && r.BlkioWeight is { } w)
        {
            if (File.Exists($"{blkio}/blkio.weight")) CgroupHierarchy.Write($"{blkio}/blkio.weight", w.ToString());
            else if (File.Exists($"{blkio}/blkio.bfq.weight")) CgroupHierarchy.Write($"{blkio}/blkio.bfq.weight", w.ToString());
        }
        if (Dir("devices") is { } dev && r.Devices is { } rules)
            foreach (DeviceRule rule in rules)
                CgroupHierarchy.Write($"{dev}/{(rule.Allow ? "devices.allow" : "devices.deny")}", rule.ToString());
    }

    public void Freeze() => SetFreezer("FROZEN");
    public void Thaw() => SetFreezer("THAWED");

    /// <summary>Writing FROZEN only starts freezing; the state reads FROZEN once every task stopped.</summary>
    private void SetFreezer(string state)
    {
        string dir = Dir("freezer") ?? throw new InvalidOperationException("the freezer controller is not mounted");
        for (int attempt = 0; attempt < 1000; attempt++)
        {
            CgroupHierarchy.Write($"{dir}/freezer.state", state);
            if (CgroupHierarchy.ReadTrimmed($"{dir}/freezer.state") == state) return;
            Thread.Sleep(1);
        }
        throw new TimeoutException($"cgroup {Path} did not reach {state}");
    }

    public bool IsFrozen => Dir("freezer") is { } d && CgroupHierarchy.ReadTrimmed($"{d}/freezer.state") is "FROZEN" or "FREEZING";

    public CgroupStats Stats()
    {
        string? mem = Dir("memory");
        var stat = mem is null ? new Dictionary<string, ulong>() : CgroupHierarchy.ReadKeyValues($"{mem}/memory.stat");
        string? acct = Dir("cpuacct");
        // cpuacct.stat is in USER_HZ ticks (100 per second on Linux).
        var ticks = acct is null ? new Dictionary<string, ulong>() : CgroupHierarchy.ReadKeyValues($"{acct}/cpuacct.stat");
        var cpuStat = Dir("cpu") is { } cpu ? CgroupHierarchy.ReadKeyValues($"{cpu}/cpu.stat") : new Dictionary<string, ulong>();
        ulong read = 0, write = 0;
        if (Dir("blkio") is { } blkio)
            foreach (string line in (CgroupHierarchy.ReadTrimmed($"{blkio}/blkio.throttle.io_service_bytes_recursive") ?? "").Split('\n'))
            {
                string[] f = line.Split(' ');
                if (f.Length == 3 && ulong.TryParse(f[2], out ulong v)) { if (f[1] == "Read") read += v; else if (f[1] == "Write") write += v; }
            }
        string? pidsMax = Dir("pids") is { } pd ? CgroupHierarchy.ReadTrimmed($"{pd}/pids.max") : null;
        return new CgroupStats
        {
            CpuUserNanos = ticks.GetValueOrDefault("user") * 10_000_000,
            CpuSystemNanos = ticks.GetValueOrDefault("system") * 10_000_000,
            CpuPerCoreNanos = acct is null ? [] : (CgroupHierarchy.ReadTrimmed($"{acct}/cpuacct.usage_percpu") ?? "")
                .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(ulong.Parse).ToList(),
            CpuPeriods = cpuStat.GetValueOrDefault("nr_periods"),
            CpuThrottledPeriods = cpuStat.GetValueOrDefault("nr_throttled"),
            CpuThrottledNanos = cpuStat.GetValueOrDefault("throttled_time"),
            MemoryMaxUsage = mem is null ? 0 : CgroupHierarchy.ReadULong($"{mem}/memory.max_usage_in_bytes"),
            PidsLimit = pidsMax is null or "max" ? 0 : ulong.Parse(pidsMax),
            BlkioReadBytes = read,
            BlkioWriteBytes = write,
            MemoryUsage = mem is null ? 0 : CgroupHierarchy.ReadULong($"{mem}/memory.usage_in_bytes"),
            MemoryLimit = mem is null ? 0 : CgroupHierarchy.ReadULong($"{mem}/memory.limit_in_bytes"),
            MemoryCache = stat.GetValueOrDefault("cache"),
            InactiveFile = stat.GetValueOrDefault("total_inactive_file", stat.GetValueOrDefault("inactive_file")),
            MemoryStat = stat,
            CpuUsageNanos = acct is null ? 0 : CgroupHierarchy.ReadULong($"{acct}/cpuacct.usage"),
            PidsCurrent = Dir("pids") is { } p ? CgroupHierarchy.ReadULong($"{p}/pids.current") : 0,
        };
    }

    public long OomKillCount() =>
        Dir("memory") is { } mem ? (long)CgroupHierarchy.ReadKeyValues($"{mem}/memory.oom_control").GetValueOrDefault("oom_kill") : 0;

    public IReadOnlyList<int> Pids()
    {
        string? dir = Dir("pids") ?? Dir("memory") ?? Dir("freezer");
        return dir is null ? [] : CgroupHierarchy.ReadPids($"{dir}/cgroup.procs");
    }

    public void Destroy()
    {
        foreach (string controller in hierarchy.V1Roots.Keys) CgroupHierarchy.RemoveDir(Dir(controller)!);
    }
}
