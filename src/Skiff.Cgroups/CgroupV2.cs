namespace Skiff.Cgroups;

/// <summary>A cgroup in the unified (v2) hierarchy.</summary>
internal sealed class CgroupV2(CgroupHierarchy hierarchy, string path) : ICgroup
{
    public string Path { get; } = path;
    public bool IsV2 => true;
    private string Dir => hierarchy.UnifiedRoot + Path;

    public IReadOnlyDictionary<string, string> Directories => new Dictionary<string, string> { [""] = Dir };

    /// <summary>
    /// Creates each level and enables the available controllers in every ancestor's subtree_control, since
    /// v2 only exposes a controller's files in a cgroup whose parent delegated it.
    /// </summary>
    public void Create()
    {
        string current = hierarchy.UnifiedRoot!;
        foreach (string part in Path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            string? available = CgroupHierarchy.ReadTrimmed($"{current}/cgroup.controllers");
            if (!string.IsNullOrEmpty(available))
            {
                string enable = string.Join(' ', available.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    .Where(c => c is "cpu" or "cpuset" or "io" or "memory" or "pids").Select(c => "+" + c));
                if (enable.Length > 0)
                {
                    try { CgroupHierarchy.Write($"{current}/cgroup.subtree_control", enable); }
                    catch (IOException) { }
                }
            }
            current = current + "/" + part;
            Directory.CreateDirectory(current);
        }
    }

    public void AddProcess(int pid) => CgroupHierarchy.Write($"{Dir}/cgroup.procs", pid.ToString());

    public bool TryAddCurrentThread() => false;

    public void Apply(CgroupResources r)
    {
        if (r.MemoryLimit is { } limit) CgroupHierarchy.Write($"{Dir}/memory.max", limit <= 0 ? "max" : limit.ToString());
        if (r.MemorySwap is { } swap && File.Exists($"{Dir}/memory.swap.max"))
        {
            string value = swap < 0 ? "max" : r.MemoryLimit is { } l && l > 0 ? Math.Max(0, swap - l).ToString() : swap.ToString();
            CgroupHierarchy.Write($"{Dir}/memory.swap.max", value);
        }
        if (r.MemoryReservation is { } res) CgroupHierarchy.Write($"{Dir}/memory.low", res.ToString());
        if (r.CpuShares is { } shares && shares > 0)
            CgroupHierarchy.Write($"{Dir}/cpu.weight", ConvertSharesToWeight(shares).ToString());
        if (r.CpuQuota is not null || r.CpuPeriod is not null)
        {
            string quota = r.CpuQuota is { } q && q > 0 ? q.ToString() : "max";
            CgroupHierarchy.Write($"{Dir}/cpu.max", $"{quota} {r.CpuPeriod ?? 100000}");
        }
        if (!string.IsNullOrEmpty(r.Cpus)) CgroupHierarchy.Write($"{Dir}/cpuset.cpus", r.Cpus);
        if (!string.IsNullOrEmpty(r.Mems)) CgroupHierarchy.Write($"{Dir}/cpuset.mems", r.Mems);
        if (r.PidsLimit is { } pl) CgroupHierarchy.Write($"{Dir}/pids.max", pl <= 0 ? "max" : pl.ToString());
        if (r.Devices is { Count: > 0 } rules) DeviceFilter.Attach(Dir, rules);
        if (r.BlkioWeight is { } w)
        {
            if (File.Exists($"{Dir}/io.bfq.weight")) CgroupHierarchy.Write($"{Dir}/io.bfq.weight", w.ToString());
            else if (File.Exists($"{Dir}/io.weight")) CgroupHierarchy.Write($"{Dir}/io.weight", $"default {1 + (w - 10) * 9999 / 990}");
        }
    }

    /// <summary>The mapping runc uses from v1 shares [2, 262144] to v2 weight [1, 10000].</summary>
    public static ulong ConvertSharesToWeight(ulong shares) => 1 + (shares - 2) * 9999 / 262142;

    public void Freeze() => SetFrozen(true);
    public void Thaw() => SetFrozen(false);

    private void SetFrozen(bool frozen)
    {
        CgroupHierarchy.Write($"{Dir}/cgroup.freeze", frozen ? "1" : "0");
        for (int attempt = 0; attempt < 1000; attempt++)
        {
            var events = CgroupHierarchy.ReadKeyValues($"{Dir}/cgroup.events");
            if (!events.TryGetValue("frozen", out ulong f) || (f == 1) == frozen) return;
            Thread.Sleep(1);
        }
        throw new TimeoutException($"cgroup {Path} did not {(frozen ? "freeze" : "thaw")}");
    }

    public bool IsFrozen => CgroupHierarchy.ReadTrimmed($"{Dir}/cgroup.freeze") == "1";

    public CgroupStats Stats()
    {
        var stat = CgroupHierarchy.ReadKeyValues($"{Dir}/memory.stat");
        var cpu = CgroupHierarchy.ReadKeyValues($"{Dir}/cpu.stat");
        ulong read = 0, write = 0;
        foreach (string line in (CgroupHierarchy.ReadTrimmed($"{Dir}/io.stat") ?? "").Split('\n'))
            foreach (string field in line.Split(' '))
            {
                if (field.StartsWith("rbytes=", StringComparison.Ordinal)) read += ulong.Parse(field.AsSpan(7));
                else if (field.StartsWith("wbytes=", StringComparison.Ordinal)) write += ulong.Parse(field.AsSpan(7));
            }
        string? pidsMax = CgroupHierarchy.ReadTrimmed($"{Dir}/pids.max");
        return new CgroupStats
        {
            CpuUserNanos = cpu.GetValueOrDefault("user_usec") * 1000,
            CpuSystemNanos = cpu.GetValueOrDefault("system_usec") * 1000,
            CpuPeriods = cpu.GetValueOrDefault("nr_periods"),
            CpuThrottledPeriods = cpu.GetValueOrDefault("nr_throttled"),
            CpuThrottledNanos = cpu.GetValueOrDefault("throttled_usec") * 1000,
            MemoryMaxUsage = CgroupHierarchy.ReadULong($"{Dir}/memory.peak"),
            PidsLimit = pidsMax is null or "max" ? 0 : ulong.Parse(pidsMax),
            BlkioReadBytes = read,
            BlkioWriteBytes = write,
            MemoryUsage = CgroupHierarchy.ReadULong($"{Dir}/memory.current"),
            MemoryLimit = CgroupHierarchy.ReadULong($"{Dir}/memory.max"),
            MemoryCache = stat.GetValueOrDefault("file"),
            InactiveFile = stat.GetValueOrDefault("inactive_file"),
            MemoryStat = stat,
            CpuUsageNanos = cpu.GetValueOrDefault("usage_usec") * 1000,
            PidsCurrent = CgroupHierarchy.ReadULong($"{Dir}/pids.current"),
        };
    }

    public long OomKillCount() => (long)CgroupHierarchy.ReadKeyValues($"{Dir}/memory.events").GetValueOrDefault("oom_kill");

    public IReadOnlyList<int> Pids() => CgroupHierarchy.ReadPids($"{Dir}/cgroup.procs");

    public void Destroy() => CgroupHierarchy.RemoveDir(Dir);
}
