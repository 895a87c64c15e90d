using Skiff.Shim;

namespace Skiff.Daemon;

public sealed partial class Daemon
{
    /// <summary>Sets the window size of a running container's terminal.</summary>
    public async Task ResizeAsync(string idOrName, int rows, int cols)
    {
        var c = Containers.Get(idOrName);
        if (!c.Record.State.Running) throw DaemonException.Conflict($"Container {c.Id} is not running");
        if (!c.Record.Config.Tty) return;
        if (rows <= 0 || cols <= 0) throw DaemonException.Invalid("invalid terminal size");
        await c.Shim.CallAsync(new ShimRequest { Op = "resize", Rows = rows, Cols = cols }).ConfigureAwait(false);
    }

    /// <summary>Sets the window size of a running exec's terminal (Docker's exec resize); no-op without a tty.</summary>
    public async Task ResizeExecAsync(string execId, int rows, int cols)
    {
        var exec = GetExec(execId);
        if (rows <= 0 || cols <= 0) throw DaemonException.Invalid("invalid terminal size");
        if (!exec.Running) throw DaemonException.Conflict($"Exec {execId} is not running");
        if (!exec.Tty) return;
        var c = Containers.Get(exec.ContainerId);
        await c.Shim.CallAsync(new ShimRequest { Op = "resize", Pid = exec.Pid, Rows = rows, Cols = cols }).ConfigureAwait(false);
    }
}
