using Skiff.Shim;

namespace Skiff.Daemon;

/// <summary>The outcome a waiter receives: the exit code, and the error text when the container failed to run.</summary>
public readonly record struct WaitResult(int StatusCode, string? Error);

/// <summary>
/// A container as the daemon holds it in memory: its persisted record plus the live parts (the
/// lock serialising lifecycle changes, waiters, pending attachers, the shim connection).
/// </summary>
public sealed class Container
{
    private readonly List<TaskCompletionSource<WaitResult>> _exitWaiters = [];
    private readonly TaskCompletionSource<WaitResult> _removed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Func<ShimClient, Task>> _pendingAttach = [];

    internal Container(ContainerRecord record, string directory, string bundle, string shimSocket)
    {
        Record = record;
        Directory = directory;
        Bundle = bundle;
        ShimSocket = shimSocket;
    }

    public ContainerRecord Record { get; }
    public string Id => Record.Id;
    public string Name => Record.Name;
    /// <summary>data-root/containers/&lt;id&gt;: the record, log, writable layer.</summary>
    public string Directory { get; }
    /// <summary>exec-root/containers/&lt;id&gt;: the OCI bundle and the shim's socket.</summary>
    public string Bundle { get; }

    /// <summary>Serialises start/stop/kill/remove of this container.</summary>
    internal SemaphoreSlim Lock { get; } = new(1, 1);
    internal string ShimSocket { get; }
    /// <summary>The current restart-policy back-off (not persisted: a daemon restart starts over).</summary>
    internal TimeSpan RestartBackoff { get; set; }
    /// <summary>Cancels the running healthcheck loop (see Daemon.Health.cs); null when none runs.</summary>
    internal CancellationTokenSource? HealthMonitor { get; set; }
    internal ShimClient Shim => new(ShimSocket);
    internal bool Removed => _removed.Task.IsCompleted;

    internal string RecordPath => Path.Combine(Directory, "config.v2.json");

    internal void Save() => AtomicFile.WriteRecord(RecordPath, Record);

    /// <summary>Completes at the next exit of the container.</summary>
    internal Task<WaitResult> NextExit()
    {
        var tcs = new TaskCompletionSource<WaitResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_exitWaiters) _exitWaiters.Add(tcs);
        return tcs.Task;
    }

    internal Task<WaitResult> WhenRemoved => _removed.Task;

    internal void SignalExit(WaitResult result)
    {
        List<TaskCompletionSource<WaitResult>> waiters;
        lock (_exitWaiters)
        {
            waiters = [.. _exitWaiters];
            _exitWaiters.Clear();
        }
        foreach (var w in waiters) w.TrySetResult(result);
    }

    internal void SignalRemoved(WaitResult result)
    {
        SignalExit(result);
        _removed.TrySetResult(result);
    }

    /// <summary>Queues an attacher to be connected right before the next start sends "start" to the shim.</summary>
    internal void AddPendingAttach(Func<ShimClient, Task> attach)
    {
        lock (_pendingAttach) _pendingAttach.Add(attach);
    }

    internal List<Func<ShimClient, Task>> TakePendingAttach()
    {
        lock (_pendingAttach)
        {
            var list = new List<Func<ShimClient, Task>>(_pendingAttach);
            _pendingAttach.Clear();
            return list;
        }
    }
}
