using Skiff.Shim;

namespace Skiff.Daemon;

public sealed partial class Daemon
{
    /// <summary>Freezes every process of a running container (cgroup freezer).</summary>
    public async Task PauseAsync(string idOrName)
    {
        var c = Containers.Get(idOrName);
        await c.Lock.WaitAsync().ConfigureAwait(false);
        try
        {
            var s = c.Record.State;
            if (s.Status == ContainerStatus.Paused) throw DaemonException.Conflict($"Container {c.Id} is already paused");
            if (!s.Running) throw DaemonException.Conflict($"Container {c.Id} is not running");
            await c.Shim.CallAsync(new ShimRequest { Op = "pause" }).ConfigureAwait(false);
            s.Status = ContainerStatus.Paused;
            c.Save();
            PublishContainer(c, "pause");
        }
        finally
        {
            c.Lock.Release();
        }
    }

    /// <summary>Thaws a paused container.</summary>
    public async Task UnpauseAsync(string idOrName)
    {
        var c = Containers.Get(idOrName);
        await c.Lock.WaitAsync().ConfigureAwait(false);
        try
        {
            var s = c.Record.State;
            if (s.Status != ContainerStatus.Paused) throw DaemonException.Conflict($"Container {c.Id} is not paused");
            await c.Shim.CallAsync(new ShimRequest { Op = "resume" }).ConfigureAwait(false);
            s.Status = ContainerStatus.Running;
            c.Save();
            PublishContainer(c, "unpause");
        }
        finally
        {
            c.Lock.Release();
        }
    }

    /// <summary>
    /// A frozen process only acts on a signal once thawed: after signalling a paused container,
    /// thaw it so that a stop or kill takes effect, as Docker does.
    /// </summary>
    private async Task ThawIfPausedAsync(Container c)
    {
        if (c.Record.State.Status != ContainerStatus.Paused) return;
        try
        {
            await c.Shim.CallAsync(new ShimRequest { Op = "resume" }).ConfigureAwait(false);
            c.Record.State.Status = ContainerStatus.Running;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ShimException)
        {
        }
    }
}
