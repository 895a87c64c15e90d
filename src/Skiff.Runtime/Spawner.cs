using System.Runtime.InteropServices;
using Skiff.Linux;

namespace Skiff.Runtime;

/// <summary>
/// Starts the second stage (<c>skiff-runtime init</c>) as a direct child of this process, inside new or
/// joined namespaces. Namespaces belong to threads, and a .NET process is multithreaded, so a dedicated
/// thread joins/unshares them and calls posix_spawn from there: the child inherits that thread's
/// namespaces (and is PID 1 when the thread unshared CLONE_NEWPID), while the process's other threads
/// stay in the host's. The thread then ends. posix_spawn, not <c>Process.Start</c>, keeps the child out of
/// .NET's SIGCHLD reaping, so callers can waitpid it themselves.
/// </summary>
internal static unsafe class Spawner
{
    private const int ParkedFd = 1000;

    /// <param name="stdio">Three fds that become the child's 0, 1 and 2.</param>
    /// <param name="syncFd">Becomes the child's fd 3.</param>
    /// <param name="unshareFlags">CLONE_NEW* flags to create.</param>
    /// <param name="joins">Namespace files to setns into (opened here, before any namespace changes).</param>
    /// <param name="onSpawningThread">Runs on the spawning thread first (used to enter the container's cgroups); returns
    /// false or throws when it could not, which the caller learns from <paramref name="threadSetupDone"/>.</param>
    /// <param name="blockReaperSignals">Start the child with the signals a <see cref="Init.Reaper"/> waits for blocked
    /// (the child tells the init stage by <c>SKIFF_INIT=1</c>, so argv is free to show what Docker's init shows).</param>
    public static int Spawn(string path, IReadOnlyList<string> args, int[] stdio, int syncFd, int unshareFlags,
        IReadOnlyList<(string Path, int Type)> joins, Func<bool>? onSpawningThread, out bool threadSetupDone, bool blockReaperSignals = false)
    {
        var nsFds = new List<(int Fd, int Type)>();
        using var argv = new Libc.NativeStringArray(args);
        using var envp = new Libc.NativeStringArray(Trace.Enabled ? ["SKIFF_INIT=1", "SKIFF_TRACE=1"] : ["SKIFF_INIT=1"]);
        byte[] pathZ = Libc.Utf8Z(path);
        void* fa = NativeMemory.AllocZeroed(Libc.PosixSpawnFileActionsSize);
        void* attr = NativeMemory.AllocZeroed(Libc.PosixSpawnAttrSize);
        try
        {
            foreach (var (nsPath, type) in joins)
                nsFds.Add((LinuxException.ThrowIfError(Libc.open(nsPath, Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open", nsPath), type));

            // File actions run in order: park every source above the targets first, so a source that is
            // itself 0-3 is not overwritten before it is used.
            Libc.posix_spawn_file_actions_init(fa);
            int[] sources = [stdio[0], stdio[1], stdio[2], syncFd];
            for (int i = 0; i < 4; i++) Libc.posix_spawn_file_actions_adddup2(fa, sources[i], ParkedFd + i);
            for (int i = 0; i < 4; i++) Libc.posix_spawn_file_actions_adddup2(fa, ParkedFd + i, i);
            for (int i = 0; i < 4; i++) Libc.posix_spawn_file_actions_addclose(fa, ParkedFd + i);
            Libc.posix_spawnattr_init(attr);
            byte* all = stackalloc byte[Libc.SigSetSize];
            byte* none = stackalloc byte[Libc.SigSetSize];
            new Span<byte>(all, Libc.SigSetSize).Fill(0xff);
            new Span<byte>(none, Libc.SigSetSize).Clear();
            if (blockReaperSignals) Init.Reaper.FillForwarded(none);
            Libc.posix_spawnattr_setsigdefault(attr, all);
            Libc.posix_spawnattr_setsigmask(attr, none);
            Libc.posix_spawnattr_setflags(attr, Libc.POSIX_SPAWN_SETSIGDEF | Libc.POSIX_SPAWN_SETSIGMASK);

            int pid = 0;
            bool setupDone = false;
            Exception? failure = null;
            byte** argvP = argv.Pointer, envpP = envp.Pointer;
            var thread = new Thread(() =>
            {
                try
                {
                    if (onSpawningThread is not null)
                    {
                        try { setupDone = onSpawningThread(); }
                        catch (IOException) { setupDone = false; }
                    }
                    if (nsFds.Any(n => n.Type == Libc.CLONE_NEWNS) || (unshareFlags & Libc.CLONE_NEWNS) != 0)
                        LinuxException.ThrowIfError(Libc.unshare(Libc.CLONE_FS), "unshare", "CLONE_FS");
                    foreach (var (fd, type) in nsFds)
                        LinuxException.ThrowIfError(Libc.setns(fd, type), "setns", NamespaceName(type));
                    if (unshareFlags != 0) LinuxException.ThrowIfError(Libc.unshare(unshareFlags), "unshare");
                    int child;
                    int rc;
                    fixed (byte* p = pathZ) rc = Libc.posix_spawn(&child, p, fa, attr, argvP, envpP);
                    if (rc != 0) throw new LinuxException("posix_spawn", rc, path);
                    pid = child;
                }
                catch (Exception e) { failure = e; }
            }, 256 * 1024);
            thread.Start();
            thread.Join();
            if (failure is not null) throw failure;
            threadSetupDone = setupDone;
            return pid;
        }
        finally
        {
            foreach (var (fd, _) in nsFds) Libc.close(fd);
            Libc.posix_spawn_file_actions_destroy(fa);
            Libc.posix_spawnattr_destroy(attr);
            NativeMemory.Free(fa);
            NativeMemory.Free(attr);
        }
    }

    public static string NamespaceName(int type) => type switch
    {
        Libc.CLONE_NEWNS => "mnt", Libc.CLONE_NEWPID => "pid", Libc.CLONE_NEWNET => "net", Libc.CLONE_NEWIPC => "ipc",
        Libc.CLONE_NEWUTS => "uts", Libc.CLONE_NEWCGROUP => "cgroup", Libc.CLONE_NEWUSER => "user", _ => type.ToString(),
    };

    /// <summary>Maps an OCI namespace type (pid, network, mount, ipc, uts, user, cgroup) to its CLONE_NEW* flag.</summary>
    public static int NamespaceFlag(string ociType) => ociType switch
    {
        "pid" => Libc.CLONE_NEWPID, "network" => Libc.CLONE_NEWNET, "mount" => Libc.CLONE_NEWNS,
        "ipc" => Libc.CLONE_NEWIPC, "uts" => Libc.CLONE_NEWUTS, "cgroup" => Libc.CLONE_NEWCGROUP,
        "user" => Libc.CLONE_NEWUSER,
        _ => throw new ArgumentException($"unknown namespace type {ociType}"),
    };
}
