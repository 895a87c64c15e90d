using Skiff.Linux;
using Skiff.Runtime;

namespace Skiff.Shim;

/// <summary>The shim's view of a container started in-process with <see cref="LinuxContainer"/>.</summary>
internal sealed class RuntimeTask : IContainerTask
{
    private readonly LinuxContainer _container;
    private readonly FileStream? _terminal;

    private RuntimeTask(LinuxContainer container)
    {
        _container = container;
        if (container.ConsoleMaster is { } master) _terminal = new FileStream(master, FileAccess.ReadWrite, 1);
    }

    /// <summary>
    /// Creates and starts the container of the bundle. Its runtime state lives inside the bundle
    /// (<c>runtime/</c>), which the daemon deletes once the container has exited.
    /// </summary>
    public static IContainerTask Launch(LaunchRequest request)
    {
        int devNull = -1;
        try
        {
            StdioFds? stdio = null;
            if (!request.Terminal)
            {
                if (request.StdinFd < 0 || request.StdoutFd < 0 || request.StderrFd < 0)
                    devNull = LinuxException.ThrowIfError(Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0), "open", "/dev/null");
                stdio = new StdioFds(
                    request.StdinFd >= 0 ? request.StdinFd : devNull,
                    request.StdoutFd >= 0 ? request.StdoutFd : devNull,
                    request.StderrFd >= 0 ? request.StderrFd : devNull);
            }
            var container = LinuxContainer.Create(new CreateOptions
            {
                Id = request.Id,
                BundlePath = request.Bundle,
                StateRoot = Path.Combine(request.Bundle, "runtime"),
                Stdio = stdio,
                Terminal = request.Terminal,
                InitPath = Environment.ProcessPath,
            });
            try
            {
                container.Start();
            }
            catch
            {
                try { container.Delete(force: true); } catch (Exception) { }
                LinuxContainer.Reap(container.Pid);
                throw;
            }
            return new RuntimeTask(container);
        }
        finally
        {
            if (devNull >= 0) Libc.close(devNull);
        }
    }

    public int Pid => _container.Pid;
    public Stream? Terminal => _terminal;
    public bool OomKilled => _container.OomKilled;

    public void Kill(int signal) => _container.Kill(signal);
    public void Pause() => _container.Pause();
    public void Resume() => _container.Resume();
    public IReadOnlyList<int> Pids() => _container.Pids();

    public (int Pid, Stream? Terminal) Exec(ShimRequest request, int stdinFd, int stdoutFd, int stderrFd)
    {
        int devNull = -1;
        try
        {
            if (!request.Tty && (stdinFd < 0 || stdoutFd < 0 || stderrFd < 0))
                devNull = LinuxException.ThrowIfError(Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0), "open", "/dev/null");
            var process = _container.Exec(new ExecOptions
            {
                Args = request.Args ?? [],
                Env = request.Env,
                Cwd = string.IsNullOrEmpty(request.Cwd) ? null : request.Cwd,
                User = string.IsNullOrEmpty(request.User) ? null : request.User,
                Terminal = request.Tty,
                Stdio = request.Tty ? null : new StdioFds(stdinFd >= 0 ? stdinFd : devNull, stdoutFd >= 0 ? stdoutFd : devNull, stderrFd >= 0 ? stderrFd : devNull),
                Capabilities = request.Privileged ? Skiff.Runtime.Spec.Capabilities.All : null,
                InitPath = Environment.ProcessPath,
            });
            Stream? terminal = process.ConsoleMaster is { } master ? new FileStream(master, FileAccess.ReadWrite, 1) : null;
            return (process.Pid, terminal);
        }
        finally
        {
            if (devNull >= 0) Libc.close(devNull);
        }
    }

    public int Reap(int pid) => LinuxContainer.Reap(pid);

    public unsafe void Resize(int rows, int cols)
    {
        if (_container.ConsoleMaster is not { } master) return;
        var size = new Libc.WinSize { Rows = (ushort)rows, Cols = (ushort)cols };
        LinuxException.ThrowIfError(Libc.ioctl((int)master.DangerousGetHandle(), Libc.TIOCSWINSZ, &size), "ioctl", "TIOCSWINSZ");
    }

    public int WaitForExit() => _container.WaitForExit();

    public void Delete() => _container.Delete(force: true);
}
