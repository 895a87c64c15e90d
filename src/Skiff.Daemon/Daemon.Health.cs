using System.Buffers.Binary;
using System.Globalization;

namespace Skiff.Daemon;

public sealed partial class Daemon
{
    private static readonly TimeSpan DefaultProbeInterval = TimeSpan.FromSeconds(30);
    private const int DefaultRetries = 3;
    private const int MaxProbeOutput = 4096;
    private const int KeptProbes = 5;

    /// <summary>
    /// Docker's merge of the user's healthcheck over the image's: a user test replaces the image's,
    /// an empty one inherits it, and every zero duration or retry count is taken from the image.
    /// </summary>
    internal static HealthcheckConfig? MergeHealthcheck(HealthcheckConfig? image, HealthcheckConfig? user)
    {
        if (user is null) return image;
        if (image is null) return user.Test.Count == 0 ? null : user;
        return new HealthcheckConfig
        {
            Test = user.Test.Count > 0 ? user.Test : image.Test,
            Interval = user.Interval != 0 ? user.Interval : image.Interval,
            Timeout = user.Timeout != 0 ? user.Timeout : image.Timeout,
            StartPeriod = user.StartPeriod != 0 ? user.StartPeriod : image.StartPeriod,
            StartInterval = user.StartInterval != 0 ? user.StartInterval : image.StartInterval,
            Retries = user.Retries != 0 ? user.Retries : image.Retries,
        };
    }

    private static bool HealthEnabled(HealthcheckConfig? h) => h is { Test.Count: > 0 } && h.Test[0] != "NONE";

    /// <summary>Starts probing a container that has just started, if it has a healthcheck; its health starts as "starting".</summary>
    private void StartHealthMonitor(Container c)
    {
        var h = c.Record.Config.Healthcheck;
        if (!HealthEnabled(h)) return;
        c.Record.State.Health = new HealthState { Status = "starting" };
        var cts = new CancellationTokenSource();
        var old = c.HealthMonitor;
        c.HealthMonitor = cts;
        old?.Cancel();
        _ = Task.Run(() => HealthLoopAsync(c, h!, cts.Token));
    }

    private static void StopHealthMonitor(Container c)
    {
        var cts = c.HealthMonitor;
        c.HealthMonitor = null;
        cts?.Cancel();
    }

    private async Task HealthLoopAsync(Container c, HealthcheckConfig h, CancellationToken ct)
    {
        var interval = h.Interval > 0 ? TimeSpan.FromTicks(h.Interval / 100) : DefaultProbeInterval;
        var startInterval = h.StartInterval > 0 ? TimeSpan.FromTicks(h.StartInterval / 100) : interval;
        var timeout = h.Timeout > 0 ? TimeSpan.FromTicks(h.Timeout / 100) : DefaultProbeInterval;
        var startPeriod = TimeSpan.FromTicks(h.StartPeriod / 100);
        var retries = h.Retries > 0 ? h.Retries : DefaultRetries;
        var cmd = h.Test[0] == "CMD-SHELL" ? ["/bin/sh", "-c", string.Join(' ', h.Test.Skip(1))] : h.Test.Skip(1).ToList();
        var started = DateTimeOffset.UtcNow;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var inStartPeriod = DateTimeOffset.UtcNow - started < startPeriod;
                await Task.Delay(inStartPeriod && c.Record.State.Health?.Status == "starting" ? startInterval : interval, ct).ConfigureAwait(false);
                if (c.Record.State.Status != ContainerStatus.Running) continue;
                var entry = await ProbeAsync(c, cmd, timeout, ct).ConfigureAwait(false);
                if (ct.IsCancellationRequested) return;
                RecordProbe(c, entry, retries, DateTimeOffset.UtcNow - started < startPeriod);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Runs the probe as an exec in the container; a probe that outlives its timeout counts as failed (-1).</summary>
    private async Task<HealthLogEntry> ProbeAsync(Container c, List<string> cmd, TimeSpan timeout, CancellationToken ct)
    {
        var entry = new HealthLogEntry { Start = DateTimeOffset.UtcNow };
        ExecRecord? exec = null;
        try
        {
            exec = CreateExec(c.Id, new ExecRecord { Cmd = cmd, AttachStdout = true, AttachStderr = true });
            var run = await StartExecAsync(exec.Id).ConfigureAwait(false);
            var output = new MemoryStream();
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            limit.CancelAfter(timeout);
            var task = run(output, limit.Token);
            await task.ConfigureAwait(false);
            if (limit.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                entry.ExitCode = -1;
                entry.Output = $"Health check exceeded timeout ({timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s)";
            }
            else
            {
                entry.ExitCode = exec.ExitCode ?? -1;
                entry.Output = Demux(output.ToArray());
            }
        }
        catch (DaemonException e)
        {
            entry.ExitCode = exec?.ExitCode ?? -1;
            entry.Output = e.Message;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or Shim.ShimException)
        {
            entry.ExitCode = -1;
            entry.Output = e.Message;
        }
        finally
        {
            if (exec is not null) _execs.TryRemove(exec.Id, out _);
        }
        entry.End = DateTimeOffset.UtcNow;
        return entry;
    }

    /// <summary>Docker's multiplexed frames to plain text, cut at 4 KiB as Docker does.</summary>
    private static string Demux(byte[] framed)
    {
        var text = new MemoryStream();
        var i = 0;
        while (i + 8 <= framed.Length)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(framed.AsSpan(i + 4));
            var n = Math.Min(length, framed.Length - i - 8);
            text.Write(framed, i + 8, n);
            i += 8 + length;
        }
        var bytes = text.ToArray();
        return System.Text.Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, MaxProbeOutput));
    }

    /// <summary>
    /// Records a probe: success makes the container healthy; failures make it unhealthy after
    /// <paramref name="retries"/> in a row, except that failures during the start period do not
    /// count. A change of status is published as a <c>health_status: ...</c> event.
    /// </summary>
    private void RecordProbe(Container c, HealthLogEntry entry, int retries, bool inStartPeriod)
    {
        var health = c.Record.State.Health;
        if (health is null || !c.Record.State.Running) return;
        var before = health.Status;
        health.Log.Add(entry);
        if (health.Log.Count > KeptProbes) health.Log.RemoveRange(0, health.Log.Count - KeptProbes);
        if (entry.ExitCode == 0)
        {
            health.FailingStreak = 0;
            health.Status = "healthy";
        }
        else if (!(inStartPeriod && health.Status == "starting"))
        {
            health.FailingStreak++;
            if (health.FailingStreak >= retries) health.Status = "unhealthy";
        }
        if (!c.Removed) c.Save();
        if (health.Status != before) PublishContainer(c, "health_status: " + health.Status);
    }
}
