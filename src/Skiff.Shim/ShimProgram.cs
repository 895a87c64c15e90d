using Skiff.Linux;
using System.Globalization;
using System.Net.Sockets;

namespace Skiff.Shim;

/// <summary>
/// Entry point of <c>skiff-runtime shim --id ID --bundle DIR --log PATH [--socket PATH] [--log-max-size N]
/// [--log-max-file N] [--tty] [--stdin] [--stdin-once]</c>.
/// </summary>
public static class ShimProgram
{
    /// <summary>Runs the shim with the in-process runtime (<see cref="Skiff.Runtime.LinuxContainer"/>).</summary>
    public static int Run(string[] args) => Run(args, RuntimeTask.Launch);

    public static int Run(string[] args, Func<LaunchRequest, IContainerTask> launch)
    {
        string? id = null, bundle = null, log = null, socketPath = null;
        long maxSize = 20 * 1024 * 1024;
        int maxFiles = 5;
        bool tty = false, stdin = false, stdinOnce = false;
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"flag needs an argument: {args[i]}");
            switch (args[i])
            {
                case "--id": id = Next(); break;
                case "--bundle": bundle = Next(); break;
                case "--log": log = Next(); break;
                case "--socket": socketPath = Next(); break;
                case "--log-max-size": maxSize = long.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--log-max-file": maxFiles = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--tty": tty = true; break;
                case "--stdin": stdin = true; break;
                case "--stdin-once": stdinOnce = true; break;
                default: Console.Error.WriteLine($"shim: unknown flag {args[i]}"); return 2;
            }
        }
        if (id is null || bundle is null || log is null)
        {
            Console.Error.WriteLine("shim: --id, --bundle and --log are required");
            return 2;
        }

        // A session of its own: signals sent to the daemon's process group never reach the shim,
        // and being a subreaper makes orphans of the container come back to it, not to host init.
        // One malloc arena for all threads: each thread's own arena would keep a few pages of its heap
        // dirty for the container's lifetime.
        Libc.mallopt(Libc.M_ARENA_MAX, 1);
        Libc.setsid();
        Libc.prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

        socketPath ??= Path.Combine(bundle, ShimFiles.Socket);
        Directory.CreateDirectory(Path.GetDirectoryName(socketPath)!);
        File.Delete(socketPath);
        // Never disposed: .NET removes the path of a bound unix socket when it is disposed, and by then the path may be
        // the next shim's socket. The process exit closes it; ReleaseSocket removes the path while it is still ours.
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen(64);
        var boundInode = SocketInode(socketPath);
        File.WriteAllText(Path.Combine(bundle, ShimFiles.Pid), Environment.ProcessId.ToString(CultureInfo.InvariantCulture));

        var released = 0;
        void ReleaseSocket()
        {
            if (Interlocked.Exchange(ref released, 1) == 0 && boundInode != default && SocketInode(socketPath) == boundInode)
                File.Delete(socketPath);
        }
        var server = new ShimServer(new ShimOptions
        {
            Id = id, Bundle = bundle, LogPath = log, LogMaxSize = maxSize, LogMaxFiles = maxFiles,
            Terminal = tty, OpenStdin = stdin, StdinOnce = stdinOnce, ReleaseSocket = ReleaseSocket,
        }, launch);

        // "ready" on the original stdout tells the daemon the socket is listening; after that the
        // shim must hold nothing of the daemon's (no pipe, no terminal), so it survives the daemon.
        // A raw write: System.Console would start its signal-handling thread, which the shim never needs.
        Libc.WriteAll(1, "ready\n"u8);
        DetachStdio(Path.Combine(bundle, ShimFiles.Log));

        _ = server.ServeAsync(listener);
        server.Run();
        server.Done.Wait();
        // Give a client that is reading the last answer a moment before the socket goes away.
        Thread.Sleep(50);
        // Normally released already (at the exit or a failed start, see ShimOptions.ReleaseSocket).
        ReleaseSocket();
        GC.KeepAlive(listener);
        return 0;
    }

    /// <summary>The identity of the file at <paramref name="path"/>: the inode with its change time, since file systems reuse freed inode numbers at once.</summary>
    private static unsafe (ulong Ino, long Sec, uint Nsec) SocketInode(string path)
    {
        Libc.Statx st;
        return Libc.statx(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, &st) == 0 ? (st.Ino, st.Ctime.Sec, st.Ctime.Nsec) : default;
    }

    private static void DetachStdio(string shimLog)
    {
        using var devnull = File.Open("/dev/null", FileMode.Open, FileAccess.ReadWrite);
        using var logFile = new FileStream(shimLog, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        var nullFd = (int)devnull.SafeFileHandle.DangerousGetHandle();
        var logFd = (int)logFile.SafeFileHandle.DangerousGetHandle();
        Libc.dup3(nullFd, 0, 0);
        Libc.dup3(nullFd, 1, 0);
        Libc.dup3(logFd, 2, 0);
    }
}
