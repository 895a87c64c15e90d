using Skiff.Shim;

namespace Skiff.Daemon;

public sealed partial class Daemon
{
    /// <summary>
    /// Stops a running container: its stop signal (STOPSIGNAL, else SIGTERM), then SIGKILL once the
    /// timeout passes (the container's StopTimeout, else the daemon's; a negative timeout waits forever).
    /// </summary>
    public async Task StopAsync(string idOrName, int? timeoutSeconds = null, string? signal = null)
    {
        var c = Containers.Get(idOrName);
        var sig = Signals.Parse(signal ?? c.Record.Config.StopSignal, 15);
        var timeout = timeoutSeconds ?? c.Record.Config.StopTimeout ?? Options.StopTimeout;
        Task<WaitResult> exited;
        // Under the container's lock, so a start in progress (also one by the restart policy)
        // finishes first and is then stopped, rather than racing with the stop.
        await c.Lock.WaitAsync().ConfigureAwait(false);
        try
        {
            // Also cancels a restart the policy has scheduled for a container that just exited.
            c.Record.State.StoppedByUser = true;
            if (!c.Record.State.Running)
            {
                if (!c.Removed) c.Save();
                throw DaemonException.NotModified("container already stopped");
            }
            exited = c.NextExit();
            if (!await TrySignalAsync(c, sig).ConfigureAwait(false)) return;
            await ThawIfPausedAsync(c).ConfigureAwait(false);
        }
        finally
        {
            c.Lock.Release();
        }
        if (timeout < 0)
        {
            await exited.ConfigureAwait(false);
        }
        else if (await Task.WhenAny(exited, Task.Delay(TimeSpan.FromSeconds(timeout))).ConfigureAwait(false) != exited)
        {
            if (await TrySignalAsync(c, 9).ConfigureAwait(false)) await exited.ConfigureAwait(false);
        }
        PublishContainer(c, "stop");
    }

    /// <summary>Sends a signal to a running container's init (Docker's kill; SIGKILL by default).</summary>
    public async Task KillAsync(string idOrName, string? signal = null)
    {
        var c = Containers.Get(idOrName);
        var sig = Signals.Parse(signal, 9);
        if (!c.Record.State.Running) throw DaemonException.Conflict($"Cannot kill container: {idOrName}: container {c.Id} is not running");
        if (sig is 9 or 15 or 2) c.Record.State.StoppedByUser = true;
        if (!await TrySignalAsync(c, sig).ConfigureAwait(false))
            throw DaemonException.Conflict($"Cannot kill container: {idOrName}: container {c.Id} is not running");
        if (sig is 9 or 15 or 2) await ThawIfPausedAsync(c).ConfigureAwait(false);
    }

    /// <summary>Stops (if running) then starts the container again.</summary>
    public async Task RestartAsync(string idOrName, int? timeoutSeconds = null, string? signal = null)
    {
        var c = Containers.Get(idOrName);
        if (c.Record.State.Running) await StopAsync(c.Id, timeoutSeconds, signal).ConfigureAwait(false);
        await WaitUntilSettledAsync(c).ConfigureAwait(false);
        await StartAsync(c.Id).ConfigureAwait(false);
        PublishContainer(c, "restart");
    }

    /// <summary>Returns false when the shim is gone (the container already ended).</summary>
    private async Task<bool> TrySignalAsync(Container c, int signal)
    {
        try
        {
            await c.Shim.CallAsync(new ShimRequest { Op = "kill", Signal = signal }).ConfigureAwait(false);
            PublishContainer(c, "kill", ("signal", signal.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            return true;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ShimException)
        {
            return false;
        }
    }

    /// <summary>Waits until the daemon has recorded the exit of a container it saw stop.</summary>
    private static async Task WaitUntilSettledAsync(Container c)
    {
        for (var i = 0; i < 500 && c.Record.State.Running; i++) await Task.Delay(10).ConfigureAwait(false);
    }
}
