using System.Globalization;
using Skiff.Cgroups;

namespace Skiff.Daemon;

/// <summary>Counters of one network interface of a container (from its network namespace's /proc/net/dev).</summary>
public sealed record NetworkCounters(string Interface, ulong RxBytes, ulong RxPackets, ulong RxErrors, ulong RxDropped,
    ulong TxBytes, ulong TxPackets, ulong TxErrors, ulong TxDropped);

/// <summary>
/// One sample of a container's resource usage. <see cref="Cgroup"/> is null when the container is
/// not running (Docker then reports zeros). <see cref="SystemCpuNanos"/> is the host's total CPU
/// time (from /proc/stat), the denominator of Docker's CPU percentage.
/// </summary>
public sealed record StatsSample(DateTimeOffset Read, CgroupStats? Cgroup, ulong SystemCpuNanos, int OnlineCpus,
    ulong HostMemory, IReadOnlyList<NetworkCounters> Networks);

public sealed partial class Daemon
{
    /// <summary>
    /// Reads a container's cgroup counters directly (the daemon knows the cgroup path it gave the
    /// runtime, so no round trip through the shim), the host's CPU time, and the counters of the
    /// container's network interfaces other than <c>lo</c>.
    /// </summary>
    public StatsSample Stats(string idOrName)
    {
        var c = Containers.Get(idOrName);
        return Sample(c);
    }

    private static StatsSample Sample(Container c)
    {
        var (system, cpus) = HostCpu();
        var hostMemory = HostMemory();
        var s = c.Record.State;
        if (!s.Running || s.Pid <= 0) return new StatsSample(DateTimeOffset.UtcNow, null, system, cpus, hostMemory, []);
        CgroupStats? stats;
        try
        {
            stats = CgroupHierarchy.Detect().Open(CgroupPath(c.Id)).Stats();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            stats = null;
        }
        var networks = c.Record.HostConfig.NetworkMode == "host" ? [] : NetDev(s.Pid);
        return new StatsSample(DateTimeOffset.UtcNow, stats, system, cpus, hostMemory, networks);
    }

    /// <summary>Total CPU time of the host in nanoseconds (user..steal of /proc/stat's "cpu" line) and the number of online CPUs.</summary>
    private static (ulong Nanos, int Cpus) HostCpu()
    {
        ulong ticks = 0;
        var cpus = 0;
        foreach (var line in File.ReadLines("/proc/stat"))
        {
            if (line.StartsWith("cpu ", StringComparison.Ordinal))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                for (var i = 1; i < f.Length && i <= 8; i++)
                    if (ulong.TryParse(f[i], NumberStyles.None, CultureInfo.InvariantCulture, out var v)) ticks += v;
            }
            else if (line.StartsWith("cpu", StringComparison.Ordinal)) cpus++;
            else break;
        }
        // USER_HZ is 100 on Linux.
        return (ticks * 10_000_000, Math.Max(cpus, 1));
    }

    private static ulong HostMemory()
    {
        foreach (var line in File.ReadLines("/proc/meminfo"))
        {
            if (!line.StartsWith("MemTotal:", StringComparison.Ordinal)) continue;
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return ulong.Parse(f[1], CultureInfo.InvariantCulture) * 1024;
        }
        return 0;
    }

    /// <summary>/proc/&lt;pid&gt;/net/dev shows the interfaces of that process's network namespace.</summary>
    private static List<NetworkCounters> NetDev(int pid)
    {
        var list = new List<NetworkCounters>();
        string[] lines;
        try { lines = File.ReadAllLines($"/proc/{pid}/net/dev"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return list; }
        foreach (var line in lines.Skip(2))
        {
            var colon = line.IndexOf(':');
            if (colon < 0) continue;
            var name = line[..colon].Trim();
            if (name == "lo") continue;
            var f = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(x => ulong.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0).ToArray();
            if (f.Length < 12) continue;
            list.Add(new NetworkCounters(name, f[0], f[1], f[2], f[3], f[8], f[9], f[10], f[11]));
        }
        return list;
    }

    /// <summary>
    /// Samples every <paramref name="interval"/> until cancelled: each item carries the previous
    /// sample too (Docker's precpu_stats). The first item's previous sample is taken right before it.
    /// </summary>
    public async IAsyncEnumerable<(StatsSample Current, StatsSample? Previous)> StatsStreamAsync(string idOrName, TimeSpan interval,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var c = Containers.Get(idOrName);
        StatsSample? previous = null;
        while (!ct.IsCancellationRequested && !c.Removed)
        {
            var current = Sample(c);
            yield return (current, previous);
            previous = current;
            try
            {
                await Task.Delay(interval, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
        }
    }
}
