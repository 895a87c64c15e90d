using Skiff.Shim;

namespace Skiff.Daemon;

/// <summary>
/// The daemon core: containers and their lifecycle. One verb per file (Daemon.Create.cs,
/// Daemon.Start.cs, ...). It knows nothing of HTTP or Docker's JSON: callers get records and
/// <see cref="DaemonException"/>s classified by <see cref="ErrorKind"/>.
/// </summary>
public sealed partial class Daemon : IDisposable
{
    private readonly CancellationTokenSource _shutdown = new();

    public Daemon(DaemonOptions options)
    {
        Options = options;
        System.IO.Directory.CreateDirectory(options.ContainersRoot);
        System.IO.Directory.CreateDirectory(options.BundlesRoot);
        Images = new ImageService(options.DataRoot, Events, options.Remap) { InsecureRegistries = options.InsecureRegistries };
        Volumes = new Volumes.VolumeStore(Path.Combine(options.DataRoot, "volumes"),
            options.Remap is { } remap ? (remap.RootUid, remap.RootGid) : null);
        var idPath = Path.Combine(options.DataRoot, "engine-id");
        if (!File.Exists(idPath)) AtomicFile.Write(idPath, System.Text.Encoding.ASCII.GetBytes(Guid.NewGuid().ToString()));
        Id = File.ReadAllText(idPath).Trim();
    }

    /// <summary>The engine's version, reported by /version and /info.</summary>
    public const string Version = "0.1.0";

    public DaemonOptions Options { get; }

    /// <summary>A stable identity of this engine (its data root), created on first start.</summary>
    public string Id { get; private set; } = "";
    public ContainerStore Containers { get; } = new();
    public ImageService Images { get; }
    /// <summary>Local volumes under <c>&lt;data-root&gt;/volumes</c>.</summary>
    public Volumes.VolumeStore Volumes { get; }
    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    /// <summary>
    /// Loads persisted containers and reconnects to the shims of those that were running, so
    /// containers survive a daemon restart; a container whose shim is gone is settled from the
    /// shim's exit.json, or marked exited with 255 when even that is missing.
    /// </summary>
    public void Restore()
    {
        InitNetworks();
        foreach (var dir in System.IO.Directory.EnumerateDirectories(Options.ContainersRoot))
        {
            var record = AtomicFile.ReadRecord(Path.Combine(dir, "config.v2.json"));
            if (record is null) continue;
            var c = new Container(record, dir, Path.Combine(Options.BundlesRoot, record.Id), Options.ShimSocket(record.Id));
            if (record.State.Status == ContainerStatus.Removing)
            {
                DeleteFiles(c);
                continue;
            }
            Containers.Add(c);
        }
        RestoreVolumeMounts();
        RestoreNetworking();
        foreach (var c in Containers.All)
        {
            if (!c.Record.State.Running) continue;
            _ = Task.Run(() => MonitorAsync(c));
            StartHealthMonitor(c);
        }
        StartByPolicy();
    }

    /// <summary>
    /// Waits for the container's init to exit through its shim, then records the exit. When the
    /// shim cannot be reached it is gone: its exit.json (if any) says how the container ended.
    /// </summary>
    private async Task MonitorAsync(Container c)
    {
        ShimResponse? result = null;
        try
        {
            result = await c.Shim.CallAsync(new ShimRequest { Op = "wait" }, _shutdown.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ShimException)
        {
            Console.Error.WriteLine($"skiffd: the shim of {c.Id[..12]} cannot be reached ({e.Message}); its exit file decides");
        }
        if (result is null)
        {
            var exit = ShimFiles.ReadExit(c.Bundle);
            result = exit is null
                ? new ShimResponse { ExitCode = 255, FinishedAt = DateTimeOffset.UtcNow }
                : new ShimResponse { ExitCode = exit.ExitCode, OomKilled = exit.OomKilled, FinishedAt = exit.FinishedAt };
        }
        await OnExitedAsync(c, result.ExitCode, result.OomKilled, result.FinishedAt).ConfigureAwait(false);
    }

    private async Task OnExitedAsync(Container c, int exitCode, bool oomKilled, DateTimeOffset finishedAt)
    {
        StopHealthMonitor(c);
        await c.Lock.WaitAsync().ConfigureAwait(false);
        try
        {
            var s = c.Record.State;
            s.Status = ContainerStatus.Exited;
            s.ExitCode = exitCode;
            s.OomKilled = oomKilled;
            s.FinishedAt = finishedAt == default ? DateTimeOffset.UtcNow : finishedAt;
            s.Pid = 0;
            TeardownNetworking(c);
            if (!c.Removed) c.Save();
            TryDeleteBundle(c);
            ReleaseVolumes(c);
        }
        finally
        {
            c.Lock.Release();
        }
        if (oomKilled) PublishContainer(c, "oom");
        PublishContainer(c, "die", ("exitCode", exitCode.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        c.SignalExit(new WaitResult(exitCode, null));
        if (!c.Removed && ShouldRestart(c.Record))
        {
            _ = Task.Run(() => RestartByPolicyAsync(c));
            return;
        }
        if (c.Record.HostConfig.AutoRemove && !c.Removed)
        {
            try
            {
                await RemoveAsync(c.Id, force: true, removeVolumes: true).ConfigureAwait(false);
            }
            catch (DaemonException)
            {
            }
        }
    }

    private static void TryDeleteBundle(Container c)
    {
        try
        {
            if (System.IO.Directory.Exists(c.Bundle)) System.IO.Directory.Delete(c.Bundle, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public void Dispose()
    {
        lock (_dnsServers)
        {
            foreach (var d in _dnsServers.Values) d.Dispose();
            _dnsServers.Clear();
        }
        _shutdown.Cancel();
        _shutdown.Dispose();
    }
}
