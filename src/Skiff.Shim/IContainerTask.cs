namespace Skiff.Shim;

/// <summary>What the shim asks of the runtime to start one container (built from the bundle and the shim's flags).</summary>
public sealed class LaunchRequest
{
    public required string Id { get; init; }
    public required string Bundle { get; init; }
    /// <summary>Whether the container gets a terminal (process.terminal in config.json).</summary>
    public bool Terminal { get; init; }
    /// <summary>Host fds that become the init's stdin/stdout/stderr when there is no terminal; -1 for /dev/null.</summary>
    public int StdinFd { get; init; } = -1;
    public int StdoutFd { get; init; } = -1;
    public int StderrFd { get; init; } = -1;
}

/// <summary>A started container init as the shim sees it: a child process it waits for and signals.</summary>
public interface IContainerTask
{
    int Pid { get; }
    /// <summary>The pty master when the container has a terminal, otherwise null.</summary>
    Stream? Terminal { get; }
    void Kill(int signal);
    /// <summary>Freezes every process of the container (cgroup freezer).</summary>
    void Pause();
    void Resume();
    /// <summary>
    /// Starts another process in the container, a child of the shim. Without a terminal, the given
    /// fds become its stdio (-1 for /dev/null); with one, the pty master comes back.
    /// </summary>
    (int Pid, Stream? Terminal) Exec(ShimRequest request, int stdinFd, int stdoutFd, int stderrFd);
    /// <summary>Waits for an exec'd process; returns its exit code, or 128+signal.</summary>
    int Reap(int pid);
    /// <summary>Host PIDs of every process in the container.</summary>
    IReadOnlyList<int> Pids();
    void Resize(int rows, int cols);
    /// <summary>Blocks until the init exits; returns its exit code, or 128+signal when it was killed.</summary>
    int WaitForExit();
    /// <summary>Whether the kernel OOM-killed something in the container's cgroup.</summary>
    bool OomKilled { get; }
    /// <summary>Releases what the runtime holds for the container (cgroups, state). Called once after exit.</summary>
    void Delete();
}
