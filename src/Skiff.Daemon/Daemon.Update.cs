using Skiff.Cgroups;

namespace Skiff.Daemon;

/// <summary>docker update: the resources to change (0 or null leaves a value as it is) and an optional restart policy.</summary>
public sealed class UpdateRequest
{
    public long Memory { get; init; }
    public long MemorySwap { get; init; }
    public long MemoryReservation { get; init; }
    public long NanoCpus { get; init; }
    public long CpuShares { get; init; }
    public long CpuPeriod { get; init; }
    public long CpuQuota { get; init; }
    public string? CpusetCpus { get; init; }
    public string? CpusetMems { get; init; }
    public long? PidsLimit { get; init; }
    public ushort BlkioWeight { get; init; }
    public RestartPolicy? RestartPolicy { get; init; }
}

public sealed partial class Daemon
{
    /// <summary>
    /// Changes a container's limits: recorded in its host config (so the next start applies them)
    /// and, when it runs, written to its live cgroup. Validated like create; a new restart policy
    /// takes effect at the next exit.
    /// </summary>
    public async Task<IReadOnlyList<string>> UpdateAsync(string idOrName, UpdateRequest u)
    {
        var c = Containers.Get(idOrName);
        var warnings = new List<string>();
        await c.Lock.WaitAsync().ConfigureAwait(false);
        try
        {
            var h = c.Record.HostConfig;
            var next = new HostConfig
            {
                AutoRemove = h.AutoRemove,
                RestartPolicy = u.RestartPolicy ?? h.RestartPolicy,
                NetworkMode = h.NetworkMode,
                Memory = u.Memory != 0 ? u.Memory : h.Memory,
                MemorySwap = u.MemorySwap != 0 ? u.MemorySwap : h.MemorySwap,
                MemoryReservation = u.MemoryReservation != 0 ? u.MemoryReservation : h.MemoryReservation,
                NanoCpus = u.NanoCpus != 0 ? u.NanoCpus : h.NanoCpus,
                CpuShares = u.CpuShares != 0 ? u.CpuShares : h.CpuShares,
                CpuPeriod = u.CpuPeriod != 0 ? u.CpuPeriod : h.CpuPeriod,
                CpuQuota = u.CpuQuota != 0 ? u.CpuQuota : h.CpuQuota,
                CpusetCpus = u.CpusetCpus ?? h.CpusetCpus,
                CpusetMems = u.CpusetMems ?? h.CpusetMems,
                PidsLimit = u.PidsLimit is { } p ? (p > 0 ? p : null) : h.PidsLimit,
                BlkioWeight = u.BlkioWeight != 0 ? u.BlkioWeight : h.BlkioWeight,
            };
            if (u.Memory != 0 && u.MemorySwap == 0 && h.MemorySwap > 0 && u.Memory > h.MemorySwap)
                throw DaemonException.Invalid("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
            // With a NanoCpus value the quota is derived from it; asking for both is refused as at create.
            if (u.NanoCpus != 0 && (u.CpuQuota != 0 || u.CpuPeriod != 0))
                throw DaemonException.Invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set");
            if (u.NanoCpus != 0) { next.CpuQuota = 0; next.CpuPeriod = 0; }
            if (u.CpuQuota != 0 || u.CpuPeriod != 0) next.NanoCpus = 0;
            ValidateHostConfig(next);
            if (u.RestartPolicy is not null && h.AutoRemove && u.RestartPolicy.Name is not ("" or "no"))
                throw DaemonException.Invalid("Restart policy cannot be updated because AutoRemove is enabled for the container");

            if (c.Record.State.Running) ApplyLive(c, h, next, u);

            h.RestartPolicy = next.RestartPolicy;
            h.Memory = next.Memory;
            h.MemorySwap = next.MemorySwap;
            h.MemoryReservation = next.MemoryReservation;
            h.NanoCpus = next.NanoCpus;
            h.CpuShares = next.CpuShares;
            h.CpuPeriod = next.CpuPeriod;
            h.CpuQuota = next.CpuQuota;
            h.CpusetCpus = next.CpusetCpus;
            h.CpusetMems = next.CpusetMems;
            h.PidsLimit = next.PidsLimit;
            h.BlkioWeight = next.BlkioWeight;
            c.Save();
        }
        finally
        {
            c.Lock.Release();
        }
        PublishContainer(c, "update");
        return warnings;
    }

    private static void ApplyLive(Container c, HostConfig old, HostConfig next, UpdateRequest u)
    {
        var cg = CgroupHierarchy.Detect().Open(CgroupPath(c.Id));
        try
        {
            if (u.Memory != 0 || u.MemorySwap != 0)
            {
                var swap = next.MemorySwap != 0 ? next.MemorySwap : next.Memory * 2;
                var limit = new CgroupResources { MemoryLimit = next.Memory };
                var memsw = new CgroupResources { MemorySwap = swap };
                // v1 requires memory <= memory+swap at every step: raise the larger one first, lower it
                // last. An old limit of 0 is unlimited, so any new limit lowers it.
                if (old.Memory > 0 && next.Memory > old.Memory) { cg.Apply(memsw); cg.Apply(limit); }
                else { cg.Apply(limit); cg.Apply(memsw); }
            }
            var cpuQuota = next.NanoCpus > 0 ? next.NanoCpus * 100_000 / 1_000_000_000 : next.CpuQuota;
            var cpuPeriod = next.NanoCpus > 0 ? 100_000 : next.CpuPeriod;
            cg.Apply(new CgroupResources
            {
                MemoryReservation = u.MemoryReservation != 0 ? next.MemoryReservation : null,
                CpuShares = u.CpuShares != 0 ? (ulong)next.CpuShares : null,
                CpuPeriod = (u.NanoCpus != 0 || u.CpuPeriod != 0) && cpuPeriod > 0 ? (ulong)cpuPeriod : null,
                CpuQuota = u.NanoCpus != 0 || u.CpuQuota != 0 ? (cpuQuota > 0 ? cpuQuota : -1) : null,
                Cpus = u.CpusetCpus,
                Mems = u.CpusetMems,
                PidsLimit = u.PidsLimit is not null ? next.PidsLimit ?? 0 : null,
                BlkioWeight = u.BlkioWeight != 0 ? next.BlkioWeight : null,
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Linux.LinuxException)
        {
            throw DaemonException.Invalid($"Cannot update container {c.Id}: {e.Message}");
        }
    }
}
