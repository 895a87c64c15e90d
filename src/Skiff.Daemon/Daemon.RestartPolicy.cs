namespace Skiff.Daemon;

public sealed partial class Daemon
{
    /// <summary>
    /// Whether a container that just exited is restarted by its policy: "always" and
    /// "unless-stopped" unless the user stopped it, "on-failure" for a non-zero exit while the
    /// maximum retry count (0: unlimited) is not reached.
    /// </summary>
    internal static bool ShouldRestart(ContainerRecord r)
    {
        if (r.HostConfig.AutoRemove || r.State.StoppedByUser) return false;
        var p = r.HostConfig.RestartPolicy;
        return p.Name switch
        {
            "always" or "unless-stopped" => true,
            "on-failure" => r.State.ExitCode != 0 && (p.MaximumRetryCount <= 0 || r.RestartCount < p.MaximumRetryCount),
            _ => false,
        };
    }

    /// <summary>
    /// Restarts a container after its policy's back-off: 100 ms doubling per restart in a row,
    /// capped at one minute, and reset once a run lasted ten seconds (Docker's scheme).
    /// </summary>
    private async Task RestartByPolicyAsync(Container c)
    {
        var r = c.Record;
        var ranFor = r.State.FinishedAt - r.State.StartedAt;
        if (ranFor > TimeSpan.FromSeconds(10)) c.RestartBackoff = TimeSpan.Zero;
        c.RestartBackoff = c.RestartBackoff == TimeSpan.Zero ? TimeSpan.FromMilliseconds(100)
            : TimeSpan.FromTicks(Math.Min(c.RestartBackoff.Ticks * 2, TimeSpan.FromMinutes(1).Ticks));
        try
        {
            await Task.Delay(c.RestartBackoff, _shutdown.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (c.Removed || r.State.Running || r.State.StoppedByUser) return;
        try
        {
            await StartAsync(c.Id, byPolicy: true).ConfigureAwait(false);
        }
        catch (DaemonException e)
        {
            // The failed start is recorded on the container; a policy does not retry a container that cannot start.
            Console.Error.WriteLine($"skiffd: restart of {c.Id[..12]} by its policy failed: {e.Message}");
        }
    }

    /// <summary>At daemon start: containers whose policy says they should be running are started again.</summary>
    private void StartByPolicy()
    {
        foreach (var c in Containers.All)
        {
            var r = c.Record;
            if (r.State.Running) continue;
            var policy = r.HostConfig.RestartPolicy.Name;
            if (policy == "always" || (policy == "unless-stopped" && !r.State.StoppedByUser))
                _ = Task.Run(async () =>
                {
                    try { await StartAsync(c.Id).ConfigureAwait(false); }
                    catch (DaemonException) { }
                });
        }
    }
}
