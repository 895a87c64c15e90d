namespace Skiff.Cgroups;

/// <summary>
/// One container's cgroup across every hierarchy (v1: one directory per controller; v2: one directory).
/// <see cref="Path"/> is absolute from the hierarchy root (e.g. <c>/skiff/ID</c>), never relative to the
/// caller's own cgroup, because the caller may itself sit in a nested cgroup.
/// </summary>
public interface ICgroup
{
    /// <summary>The cgroup path below the hierarchy root, starting with '/'.</summary>
    string Path { get; }

    /// <summary>True for the unified (v2) hierarchy.</summary>
    bool IsV2 { get; }

    /// <summary>Creates the directories (idempotent), including cpuset inheritance in v1 and controller delegation in v2.</summary>
    void Create();

    /// <summary>Moves <paramref name="pid"/> into this cgroup in every hierarchy.</summary>
    void AddProcess(int pid);

    /// <summary>
    /// Moves only the calling thread into this cgroup, so that processes it forks are born inside. In v1 a
    /// thread moving itself skips the kernel's global threadgroup lock, whose RCU grace period makes a
    /// process migration cost ~10 ms; v2 cannot move a single thread across domains and returns false.
    /// </summary>
    bool TryAddCurrentThread();

    /// <summary>Writes the limits that are set in <paramref name="resources"/>; unset values are left alone.</summary>
    void Apply(CgroupResources resources);

    void Freeze();
    void Thaw();
    bool IsFrozen { get; }

    CgroupStats Stats();

    /// <summary>How many times the kernel OOM killer killed a process in this cgroup.</summary>
    long OomKillCount();

    /// <summary>The pids in the cgroup (from the pids, memory or unified hierarchy).</summary>
    IReadOnlyList<int> Pids();

    /// <summary>The directory of this cgroup for each mounted controller (v2: the key is empty), for bind mounts into the container.</summary>
    IReadOnlyDictionary<string, string> Directories { get; }

    /// <summary>Removes the directories, retrying briefly while exiting tasks still hold them; missing ones are ignored.</summary>
    void Destroy();
}

/// <summary>Limits to apply; null leaves a value unchanged.</summary>
public sealed record CgroupResources
{
    public long? MemoryLimit { get; init; }
    /// <summary>Memory plus swap (runc's meaning); -1 for unlimited.</summary>
    public long? MemorySwap { get; init; }
    public long? MemoryReservation { get; init; }
    /// <summary>v1 only (0-100).</summary>
    public ulong? MemorySwappiness { get; init; }
    /// <summary>v1 only: processes wait for memory instead of being killed.</summary>
    public bool? DisableOomKiller { get; init; }
    public ulong? CpuShares { get; init; }
    public long? CpuQuota { get; init; }
    public ulong? CpuPeriod { get; init; }
    public string? Cpus { get; init; }
    public string? Mems { get; init; }
    public long? PidsLimit { get; init; }
    public ushort? BlkioWeight { get; init; }
    public IReadOnlyList<DeviceRule>? Devices { get; init; }
}

/// <summary>A device cgroup rule; <see cref="Major"/>/<see cref="Minor"/> null mean '*', <see cref="Type"/> a, c or b.</summary>
public sealed record DeviceRule(bool Allow, char Type, long? Major, long? Minor, string Access)
{
    public override string ToString() =>
        Type == 'a' ? "a" : $"{Type} {(Major?.ToString() ?? "*")}:{(Minor?.ToString() ?? "*")} {Access}";
}

public sealed record CgroupStats
{
    public ulong MemoryUsage { get; init; }
    /// <summary>Page cache (v1 <c>cache</c>, v2 <c>file</c>).</summary>
    public ulong MemoryCache { get; init; }
    /// <summary>Docker subtracts this from usage (v1 <c>total_inactive_file</c>, v2 <c>inactive_file</c>).</summary>
    public ulong InactiveFile { get; init; }
    /// <summary>ulong.MaxValue-ish values mean unlimited.</summary>
    public ulong MemoryLimit { get; init; }
    public ulong CpuUsageNanos { get; init; }
    public ulong CpuUserNanos { get; init; }
    public ulong CpuSystemNanos { get; init; }
    /// <summary>v1 only (cpuacct.usage_percpu); empty on v2.</summary>
    public IReadOnlyList<ulong> CpuPerCoreNanos { get; init; } = [];
    public ulong CpuPeriods { get; init; }
    public ulong CpuThrottledPeriods { get; init; }
    public ulong CpuThrottledNanos { get; init; }
    /// <summary>Peak usage (v1 memory.max_usage_in_bytes, v2 memory.peak when the kernel has it).</summary>
    public ulong MemoryMaxUsage { get; init; }
    public ulong PidsCurrent { get; init; }
    /// <summary>0 when unlimited.</summary>
    public ulong PidsLimit { get; init; }
    public ulong BlkioReadBytes { get; init; }
    public ulong BlkioWriteBytes { get; init; }
    public IReadOnlyDictionary<string, ulong> MemoryStat { get; init; } = new Dictionary<string, ulong>();
}
