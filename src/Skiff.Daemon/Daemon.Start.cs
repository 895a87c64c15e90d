using System.Diagnostics;
using System.Globalization;
using Skiff.Shim;

namespace Skiff.Daemon;

public sealed partial class Daemon
{
    /// <summary>
    /// Starts a created or exited container: writes its OCI bundle, starts its shim, connects the
    /// clients already waiting to attach, then asks the shim to start the init. An error from the
    /// runtime (such as an executable that is not found) is recorded on the container, as Docker
    /// does, and thrown.
    /// </summary>
    public Task StartAsync(string idOrName, CancellationToken ct = default) => StartAsync(idOrName, byPolicy: false, ct);

    /// <summary>
    /// A start by the restart policy does nothing once the user has stopped the container
    /// (checked under the lock, so a concurrent stop wins).
    /// </summary>
    private async Task StartAsync(string idOrName, bool byPolicy, CancellationToken ct = default)
    {
        var c = Containers.Get(idOrName);
        await c.Lock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var state = c.Record.State;
            if (byPolicy)
            {
                if (state.StoppedByUser || c.Removed || state.Running) return;
            }
            if (state.Status == ContainerStatus.Paused)
                throw DaemonException.Conflict("cannot start a paused container, try unpause instead");
            if (state.Running) throw DaemonException.NotModified("container already started");
            if (c.Removed || state.Status == ContainerStatus.Removing)
                throw DaemonException.Conflict($"container {c.Id} is marked for removal and cannot be started");

            System.IO.Directory.CreateDirectory(c.Bundle);
            File.Delete(Path.Combine(c.Bundle, ShimFiles.Exit));
            try
            {
                CheckLinks(c.Record);
                AcquireVolumes(c);
                try
                {
                    SetupNetworking(c);
                    try
                    {
                        WriteBundle(c);
                        await SpawnShimAsync(c, ct).ConfigureAwait(false);
                    }
                    catch
                    {
                        TeardownNetworking(c);
                        throw;
                    }
                }
                catch
                {
                    ReleaseVolumes(c);
                    throw;
                }
            }
            catch
            {
                // As below: `run --rm` waits for an AutoRemove container whose start failed to be removed.
                if (c.Record.HostConfig.AutoRemove && !byPolicy) _ = Task.Run(() => RemoveAsync(c.Id, force: true, removeVolumes: true));
                throw;
            }

            foreach (var attach in c.TakePendingAttach())
            {
                try { await attach(c.Shim).ConfigureAwait(false); }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ShimException) { }
            }

            ShimResponse started;
            try
            {
                started = await c.Shim.CallAsync(new ShimRequest { Op = "start" }, ct).ConfigureAwait(false);
            }
            catch (ShimException e)
            {
                state.Error = e.Message;
                state.ExitCode = ExitCodeForStartError(e.Message);
                state.Status = c.Record.State.StartedAt == default ? ContainerStatus.Created : ContainerStatus.Exited;
                TeardownNetworking(c);
                c.Save();
                TryDeleteBundle(c);
                ReleaseVolumes(c);
                c.SignalExit(new WaitResult(state.ExitCode, e.Message));
                // Docker removes an AutoRemove container whose start failed; `run --rm` waits for that.
                if (c.Record.HostConfig.AutoRemove) _ = Task.Run(() => RemoveAsync(c.Id, force: true, removeVolumes: true));
                var kind = state.ExitCode is 126 or 127 ? ErrorKind.InvalidArgument : ErrorKind.Internal;
                throw new DaemonException(kind, "failed to create task for container: " + e.Message);
            }

            // Counted once the restart happened: while it is set up (network included) the
            // container still shows its last exit, and a count ahead of it would say otherwise.
            if (byPolicy) c.Record.RestartCount++;
            state.Status = ContainerStatus.Running;
            state.Pid = started.Pid;
            state.StartedAt = started.StartedAt == default ? DateTimeOffset.UtcNow : started.StartedAt;
            state.FinishedAt = default;
            state.ExitCode = 0;
            state.Error = "";
            state.OomKilled = false;
            state.StoppedByUser = false;
            c.Save();
            PublishContainer(c, "start");
            StartHealthMonitor(c);
            _ = Task.Run(() => MonitorAsync(c));
        }
        finally
        {
            c.Lock.Release();
        }
    }

    /// <summary>
    /// dockerd's exit code for an exec that could not be started (what `docker exec` exits with): 127 when the
    /// command was not found, or a path on the way is not a directory; 126 otherwise (not executable, no such user,
    /// a working directory that does not exist...).
    /// </summary>
    internal static int ExecExitCodeForStartError(string message, string cmd)
    {
        if (cmd.Length > 0 && message.Contains(cmd, StringComparison.Ordinal) &&
            (message.Contains("no such file or directory", StringComparison.OrdinalIgnoreCase) || message.Contains("executable file not found", StringComparison.Ordinal)))
            return 127;
        if (message.Contains("permission denied", StringComparison.OrdinalIgnoreCase)) return 126;
        if (message.Contains("not a directory", StringComparison.OrdinalIgnoreCase)) return 127;
        return 126;
    }

    /// <summary>Docker's exit codes for a process that could not be started: 127 not found, 126 not executable.</summary>
    internal static int ExitCodeForStartError(string message)
    {
        if (message.Contains("executable file not found", StringComparison.Ordinal) ||
            message.Contains("no such file or directory", StringComparison.OrdinalIgnoreCase))
            return 127;
        if (message.Contains("permission denied", StringComparison.OrdinalIgnoreCase) ||
            message.Contains("exec format error", StringComparison.Ordinal) ||
            message.Contains("is a directory", StringComparison.Ordinal))
            return 126;
        return 128;
    }

    /// <summary>
    /// Starts <c>skiff-runtime shim</c> for the container and waits for its "ready" line. The shim
    /// detaches itself (own session, stdio off our pipes), so it outlives this daemon.
    /// </summary>
    private async Task SpawnShimAsync(Container c, CancellationToken ct)
    {
        var r = c.Record;
        var psi = new ProcessStartInfo(Options.RuntimePath)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardInput = false,
            RedirectStandardError = false,
        };
        psi.Environment.Clear();
        psi.Environment["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        // One shim per running container: a 64 KiB gen0 budget (hex, as the GC reads it) and no
        // background GC thread keep its private memory down (measured: -260 KiB PSS per shim).
        psi.Environment["DOTNET_GCgen0size"] = "10000";
        psi.Environment["DOTNET_gcConcurrent"] = "0";
        // A 32 MiB heap limit (hex) shrinks the GC's bookkeeping for the heap range (measured: -55 KiB per shim).
        psi.Environment["DOTNET_GCHeapHardLimit"] = "2000000";
        psi.ArgumentList.Add("shim");
        psi.ArgumentList.Add("--id"); psi.ArgumentList.Add(r.Id);
        psi.ArgumentList.Add("--bundle"); psi.ArgumentList.Add(c.Bundle);
        psi.ArgumentList.Add("--log"); psi.ArgumentList.Add(r.LogPath);
        psi.ArgumentList.Add("--socket"); psi.ArgumentList.Add(c.ShimSocket);
        var (maxSize, maxFiles) = LogLimits(r.HostConfig);
        psi.ArgumentList.Add("--log-max-size"); psi.ArgumentList.Add(maxSize.ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add("--log-max-file"); psi.ArgumentList.Add(maxFiles.ToString(CultureInfo.InvariantCulture));
        if (r.Config.Tty) psi.ArgumentList.Add("--tty");
        if (r.Config.OpenStdin) psi.ArgumentList.Add("--stdin");
        if (r.Config.StdinOnce) psi.ArgumentList.Add("--stdin-once");
        using var process = Process.Start(psi) ?? throw new DaemonException(ErrorKind.Internal, "failed to start shim");
        var line = await process.StandardOutput.ReadLineAsync(ct).ConfigureAwait(false);
        if (line != "ready")
            throw new DaemonException(ErrorKind.Internal, $"shim for {r.Id} failed to start (see {Path.Combine(c.Bundle, ShimFiles.Log)})");
    }

    /// <summary>json-file limits: --log-opt max-size / max-file, rotating by default at 20 MB x 5 files.</summary>
    internal static (long MaxSize, int MaxFiles) LogLimits(HostConfig h)
    {
        long maxSize = 20L * 1024 * 1024;
        var maxFiles = 5;
        // dockerd's wording: the json-file logger is made at start, and its errors say so.
        if (h.LogOptions.TryGetValue("max-size", out var s))
        {
            try { maxSize = Units.ParseSize(s); }
            catch (DaemonException e) { throw DaemonException.Invalid("failed to initialize logging driver: " + e.Message); }
        }
        if (h.LogOptions.TryGetValue("max-file", out var f))
        {
            if (!int.TryParse(f, NumberStyles.None, CultureInfo.InvariantCulture, out maxFiles) || maxFiles < 1)
                throw DaemonException.Invalid($"failed to initialize logging driver: invalid value for max-file: {f}");
        }
        return (maxSize, maxFiles);
    }
}
