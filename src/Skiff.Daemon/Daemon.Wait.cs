namespace Skiff.Daemon;

/// <summary>What a wait waits for, as Docker's <c>condition</c> parameter says.</summary>
public enum WaitCondition
{
    /// <summary>Returns at once if the container is not running, else at its exit.</summary>
    NotRunning,
    /// <summary>Returns at the next exit, even if the container is not running yet.</summary>
    NextExit,
    /// <summary>Returns when the container has been removed.</summary>
    Removed,
}

public sealed partial class Daemon
{
    /// <summary>
    /// Registers a waiter and returns its task; the registration is done before this returns, so
    /// a caller may answer its client (e.g. flush HTTP headers) and only then start the container.
    /// </summary>
    public Task<WaitResult> Wait(string idOrName, WaitCondition condition)
    {
        var c = Containers.Get(idOrName);
        if (condition == WaitCondition.Removed) return c.WhenRemoved;
        // Registered before the state is read, so an exit between the two is not missed.
        var next = c.NextExit();
        if (condition == WaitCondition.NextExit || c.Record.State.Running) return next;
        var s = c.Record.State;
        return Task.FromResult(new WaitResult(s.ExitCode, string.IsNullOrEmpty(s.Error) ? null : s.Error));
    }
}
