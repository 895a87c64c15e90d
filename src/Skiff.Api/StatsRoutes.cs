using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Skiff.Daemon;

namespace Skiff.Api;

internal sealed class CpuUsageDto
{
    [JsonPropertyName("total_usage")] public ulong TotalUsage { get; set; }
    [JsonPropertyName("percpu_usage"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<ulong>? PercpuUsage { get; set; }
    [JsonPropertyName("usage_in_kernelmode")] public ulong UsageInKernelmode { get; set; }
    [JsonPropertyName("usage_in_usermode")] public ulong UsageInUsermode { get; set; }
}

internal sealed class ThrottlingDto
{
    [JsonPropertyName("periods")] public ulong Periods { get; set; }
    [JsonPropertyName("throttled_periods")] public ulong ThrottledPeriods { get; set; }
    [JsonPropertyName("throttled_time")] public ulong ThrottledTime { get; set; }
}

internal sealed class CpuStatsDto
{
    [JsonPropertyName("cpu_usage")] public CpuUsageDto CpuUsage { get; set; } = new();
    [JsonPropertyName("system_cpu_usage"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong SystemCpuUsage { get; set; }
    [JsonPropertyName("online_cpus"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public int OnlineCpus { get; set; }
    [JsonPropertyName("throttling_data")] public ThrottlingDto ThrottlingData { get; set; } = new();
}

internal sealed class MemoryStatsDto
{
    [JsonPropertyName("usage"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Usage { get; set; }
    [JsonPropertyName("max_usage"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong MaxUsage { get; set; }
    [JsonPropertyName("stats"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public Dictionary<string, ulong>? Stats { get; set; }
    [JsonPropertyName("limit"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Limit { get; set; }
}

internal sealed class PidsStatsDto
{
    [JsonPropertyName("current"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Current { get; set; }
    [JsonPropertyName("limit"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Limit { get; set; }
}

internal sealed class BlkioEntryDto
{
    [JsonPropertyName("major")] public ulong Major { get; set; }
    [JsonPropertyName("minor")] public ulong Minor { get; set; }
    [JsonPropertyName("op")] public string Op { get; set; } = "";
    [JsonPropertyName("value")] public ulong Value { get; set; }
}

internal sealed class BlkioStatsDto
{
    [JsonPropertyName("io_service_bytes_recursive")] public List<BlkioEntryDto>? IoServiceBytesRecursive { get; set; }
    [JsonPropertyName("io_serviced_recursive")] public List<BlkioEntryDto>? IoServicedRecursive { get; set; }
    [JsonPropertyName("io_queue_recursive")] public List<BlkioEntryDto>? IoQueueRecursive { get; set; }
    [JsonPropertyName("io_service_time_recursive")] public List<BlkioEntryDto>? IoServiceTimeRecursive { get; set; }
    [JsonPropertyName("io_wait_time_recursive")] public List<BlkioEntryDto>? IoWaitTimeRecursive { get; set; }
    [JsonPropertyName("io_merged_recursive")] public List<BlkioEntryDto>? IoMergedRecursive { get; set; }
    [JsonPropertyName("io_time_recursive")] public List<BlkioEntryDto>? IoTimeRecursive { get; set; }
    [JsonPropertyName("sectors_recursive")] public List<BlkioEntryDto>? SectorsRecursive { get; set; }
}

internal sealed class NetworkStatsDto
{
    [JsonPropertyName("rx_bytes")] public ulong RxBytes { get; set; }
    [JsonPropertyName("rx_packets")] public ulong RxPackets { get; set; }
    [JsonPropertyName("rx_errors")] public ulong RxErrors { get; set; }
    [JsonPropertyName("rx_dropped")] public ulong RxDropped { get; set; }
    [JsonPropertyName("tx_bytes")] public ulong TxBytes { get; set; }
    [JsonPropertyName("tx_packets")] public ulong TxPackets { get; set; }
    [JsonPropertyName("tx_errors")] public ulong TxErrors { get; set; }
    [JsonPropertyName("tx_dropped")] public ulong TxDropped { get; set; }
}

/// <summary>Docker's container stats message (types/container.StatsResponse).</summary>
internal sealed class StatsDto
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("id")] public string Id { get; set; } = "";
    [JsonPropertyName("read")] public string Read { get; set; } = "";
    [JsonPropertyName("preread")] public string PreRead { get; set; } = "";
    [JsonPropertyName("pids_stats")] public PidsStatsDto PidsStats { get; set; } = new();
    [JsonPropertyName("blkio_stats")] public BlkioStatsDto BlkioStats { get; set; } = new();
    [JsonPropertyName("num_procs")] public int NumProcs { get; set; }
    [JsonPropertyName("storage_stats")] public Dictionary<string, ulong> StorageStats { get; set; } = [];
    [JsonPropertyName("cpu_stats")] public CpuStatsDto CpuStats { get; set; } = new();
    [JsonPropertyName("precpu_stats")] public CpuStatsDto PreCpuStats { get; set; } = new();
    [JsonPropertyName("memory_stats")] public MemoryStatsDto MemoryStats { get; set; } = new();
    [JsonPropertyName("networks"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public Dictionary<string, NetworkStatsDto>? Networks { get; set; }
}

[JsonSerializable(typeof(StatsDto))]
internal sealed partial class StatsJson : JsonSerializerContext;

/// <summary>
/// GET /containers/{id}/stats: <c>stream=true</c> (default) sends one message a second with the
/// previous sample as precpu_stats; <c>stream=false</c> answers once after two samples a second
/// apart (so the CPU percentage can be computed), or at once with empty precpu_stats when
/// <c>one-shot=true</c>.
/// </summary>
internal static class StatsRoutes
{
    public static void Map(IEndpointRouteBuilder app, Daemon.Daemon d)
    {
        app.MapGet("/containers/{id}/stats", Errors.Handle(async ctx =>
        {
            var id = (string)ctx.Request.RouteValues["id"]!;
            var c = d.Containers.Get(id);
            var stream = Query.Bool(ctx, "stream", fallback: true);
            var oneShot = Query.Bool(ctx, "one-shot");
            if (oneShot && stream) throw new BadRequestException("cannot have stream=true and one-shot=true");
            ctx.Response.StatusCode = 200;
            ctx.Response.Headers.ContentType = "application/json";
            if (!stream)
            {
                StatsSample? previous = null;
                if (!oneShot && c.Record.State.Running)
                {
                    previous = d.Stats(c.Id);
                    await Task.Delay(TimeSpan.FromSeconds(1), ctx.RequestAborted).ConfigureAwait(false);
                }
                await WriteAsync(ctx, c, d.Stats(c.Id), previous).ConfigureAwait(false);
                return;
            }
            await ctx.Response.Body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
            await foreach (var (current, previous) in d.StatsStreamAsync(c.Id, TimeSpan.FromSeconds(1), ctx.RequestAborted).ConfigureAwait(false))
            {
                await WriteAsync(ctx, c, current, previous).ConfigureAwait(false);
                await ctx.Response.Body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
            }
        }));
    }

    private static async Task WriteAsync(HttpContext ctx, Container c, StatsSample current, StatsSample? previous)
    {
        await JsonSerializer.SerializeAsync(ctx.Response.Body, ToDto(c, current, previous), StatsJson.Default.StatsDto, ctx.RequestAborted).ConfigureAwait(false);
        await ctx.Response.Body.WriteAsync("\n"u8.ToArray(), ctx.RequestAborted).ConfigureAwait(false);
    }

    internal static StatsDto ToDto(Container c, StatsSample current, StatsSample? previous)
    {
        var dto = new StatsDto { Name = "/" + c.Name, Id = c.Id };
        var s = current.Cgroup;
        if (s is null)
        {
            // Docker's answer for a container that is not running: names and zeros, zero times.
            dto.Read = Mapping.Time(default);
            dto.PreRead = Mapping.Time(default);
            return dto;
        }
        dto.Read = Mapping.Time(current.Read);
        dto.PreRead = Mapping.Time(previous?.Cgroup is null ? default : previous.Read);
        dto.CpuStats = Cpu(current);
        if (previous?.Cgroup is not null) dto.PreCpuStats = Cpu(previous);
        dto.PidsStats = new PidsStatsDto { Current = s.PidsCurrent, Limit = s.PidsLimit };
        // An unlimited cgroup reports a huge limit; Docker shows the host's memory instead.
        var limit = s.MemoryLimit == 0 || s.MemoryLimit > current.HostMemory ? current.HostMemory : s.MemoryLimit;
        dto.MemoryStats = new MemoryStatsDto { Usage = s.MemoryUsage, MaxUsage = s.MemoryMaxUsage, Limit = limit, Stats = new Dictionary<string, ulong>(s.MemoryStat) };
        // Summed over devices: the cgroup layer reports totals per operation.
        dto.BlkioStats = new BlkioStatsDto
        {
            IoServiceBytesRecursive =
            [
                new BlkioEntryDto { Op = "read", Value = s.BlkioReadBytes },
                new BlkioEntryDto { Op = "write", Value = s.BlkioWriteBytes },
            ],
        };
        if (current.Networks.Count > 0)
            dto.Networks = current.Networks.ToDictionary(n => n.Interface, n => new NetworkStatsDto
            {
                RxBytes = n.RxBytes, RxPackets = n.RxPackets, RxErrors = n.RxErrors, RxDropped = n.RxDropped,
                TxBytes = n.TxBytes, TxPackets = n.TxPackets, TxErrors = n.TxErrors, TxDropped = n.TxDropped,
            });
        return dto;
    }

    private static CpuStatsDto Cpu(StatsSample sample)
    {
        var s = sample.Cgroup!;
        return new CpuStatsDto
        {
            CpuUsage = new CpuUsageDto
            {
                TotalUsage = s.CpuUsageNanos,
                PercpuUsage = s.CpuPerCoreNanos.Count > 0 ? [.. s.CpuPerCoreNanos] : null,
                UsageInKernelmode = s.CpuSystemNanos,
                UsageInUsermode = s.CpuUserNanos,
            },
            SystemCpuUsage = sample.SystemCpuNanos,
            OnlineCpus = sample.OnlineCpus,
            ThrottlingData = new ThrottlingDto { Periods = s.CpuPeriods, ThrottledPeriods = s.CpuThrottledPeriods, ThrottledTime = s.CpuThrottledNanos },
        };
    }
}
