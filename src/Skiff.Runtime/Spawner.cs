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
    /// <summary>Where a clone-spawned init finds the detached rootfs mount the parent made for it, if any.</summary>
    public const int RootfsMountFd = 4;

    /// <param name="stdio">Three fds that become the child's 0, 1 and 2.</param>
    /// <param name="syncFd">Becomes the child's fd 3.</param>
    /// <param name="unshareFlags">CLONE_NEW* flags to create.</param>
    /// <param name="joins">Namespace files to setns into (opened here, before any namespace changes).</param>
    /// <param name="onSpawningThread">Runs on the spawning thread first (used to enter the container's cgroups); returns
    /// false or throws when it could not, which the caller learns from <paramref name="threadSetupDone"/>.</param>
    /// <param name="blockReaperSignals">Start the child with the signals a <see cref="Init.Reaper"/> waits for blocked
    /// (the child tells the init stage by <c>SKIFF_INIT=1</c>, so argv is free to show what Docker's init shows).</param>
    /// <param name="userNamespace">A user namespace to create (with <paramref name="unshareFlags"/>, so it owns the others)
    /// or to join: the child is then made by <see cref="CloneSpawn"/> instead of posix_spawn.</param>
    /// <param name="inProcessInit">Makes the child on the spawning thread instead of unshare + posix_spawn (see
    /// <see cref="Init.CloneInit"/>), given <paramref name="unshareFlags"/>; used only when <paramref name="onSpawningThread"/>
    /// returned true.</param>
    /// <param name="rootfsMountFd">With a user namespace: a detached rootfs mount that becomes the child's fd 4
    /// (<see cref="RootfsMountFd"/>), for the init to attach.</param>
    public static int Spawn(string path, IReadOnlyList<string> args, int[] stdio, int syncFd, int unshareFlags,
        IReadOnlyList<(string Path, int Type)> joins, Func<bool>? onSpawningThread, out bool threadSetupDone, bool blockReaperSignals = false,
        UserNamespace? userNamespace = null, Func<int, int>? inProcessInit = null, int rootfsMountFd = -1)
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
            long tid = 0;
            Exception? failure = null;
            byte** argvP = argv.Pointer, envpP = envp.Pointer;
            var thread = new Thread(() =>
            {
                tid = Libc.RawSyscall(Libc.SYS_gettid, 0, 0, 0, 0, 0);
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
                    if (userNamespace is not null)
                    {
                        fixed (byte* p = pathZ) pid = CloneSpawn(p, argvP, envpP, sources, none, unshareFlags, userNamespace, rootfsMountFd);
                        return;
                    }
                    if (inProcessInit is not null && setupDone)
                    {
                        pid = inProcessInit(unshareFlags);
                        return;
                    }
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
            // Join returns before the OS thread is gone, and the thread may sit in the container's cgroups: a freeze
            // of those (delete, pause) while it still exits would freeze this process with it. Its /proc entry
            // goes after it left its cgroups.
            if (tid > 0)
            {
                string task = $"/proc/self/task/{tid}";
                while (Libc.access(task, 0) == 0) Thread.Yield();
            }
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

    /// <summary>
    /// A fork-style clone(2) from this thread, for user namespaces: unshare(CLONE_NEWUSER) and setns into a
    /// user namespace refuse multithreaded processes, which every .NET process is, while a clone child starts
    /// with one thread. A new user namespace is created in the same call as the other namespaces, so it owns
    /// them (the container's root may then mount in its mount namespace); the child waits until this side
    /// has written its uid/gid maps, since an execve before that would drop every capability. Joining (exec
    /// into such a container): the child setns-es into the namespace before its execve.
    /// <para>The child runs only <see cref="CloneChild"/>: raw syscalls without GC transitions, then execve.
    /// A no-GC region around the clone keeps a GC from being in progress in the copied address space.</para>
    /// </summary>
    private static int CloneSpawn(byte* path, byte** argv, byte** envp, int[] stdio, byte* sigmask, int unshareFlags, UserNamespace userns, int extraFd)
    {
        int* go = stackalloc int[2];
        go[0] = go[1] = -1;
        int userFd = -1;
        // Joining a user namespace and creating others (a container sharing another one's user namespace): they must be
        // created after the setns, so that the joined namespace owns them, and a new pid namespace only takes the
        // children of the process that unshared it. The clone child therefore setns-es, unshares, and clones the init
        // as a sibling (CLONE_PARENT: our child, PID 1 of the new pid namespace), reports its pid over the pipe and exits.
        bool nested = userns.JoinPath is not null && unshareFlags != 0;
        if (userns.JoinPath is { } joinPath)
            userFd = LinuxException.ThrowIfError(Libc.open(joinPath, Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open", joinPath);
        if (userFd < 0 || nested)
            LinuxException.ThrowIfError(Libc.pipe2(go, Libc.O_CLOEXEC), "pipe2");
        int* sources = stackalloc int[5];
        for (int i = 0; i < 4; i++) sources[i] = stdio[i];
        sources[4] = extraFd;
        long flags = Libc.SIGCHLD | (userFd < 0 ? Libc.CLONE_NEWUSER | unshareFlags : nested ? 0 : unshareFlags);
        bool noGc = false;
        try { noGc = GC.TryStartNoGCRegion(1 << 20); } catch (InvalidOperationException) { }
        long r = Libc.RawSyscall(Libc.SYS_clone, flags, 0, 0, 0, 0);
        if (r == 0)
        {
            if (nested) CloneChildNested(go[1], userFd, unshareFlags, sources, sigmask, path, argv, envp);
            CloneChild(go[0], userFd, sources, sigmask, path, argv, envp);
        }
        int errno = Marshal.GetLastSystemError();
        if (noGc)
        {
            try { GC.EndNoGCRegion(); } catch (InvalidOperationException) { }
        }
        if (userFd >= 0) Libc.close(userFd);
        if (nested) return AwaitNestedChild(r, errno, go);
        if (go[0] >= 0) Libc.close(go[0]);
        if (r < 0)
        {
            if (go[1] >= 0) Libc.close(go[1]);
            throw new LinuxException("clone", errno);
        }
        int pid = (int)r;
        if (go[1] < 0) return pid;
        try
        {
            WriteMap(pid, "uid_map", userns.UidMap);
            WriteMap(pid, "gid_map", userns.GidMap);
            Libc.WriteAll(go[1], "1"u8);
        }
        catch
        {
            Libc.kill(pid, Libc.SIGKILL);
            int status;
            Libc.waitpid(pid, &status, 0);
            throw;
        }
        finally { Libc.close(go[1]); }
        return pid;
    }

    /// <summary>Reaps the intermediate child of a nested spawn and returns the init's pid it reported.</summary>
    private static int AwaitNestedChild(long r, int errno, int* pipe)
    {
        Libc.close(pipe[1]);
        try
        {
            if (r < 0) throw new LinuxException("clone", errno);
            int status;
            int initPid = 0;
            long n = Libc.ReadSome(pipe[0], new Span<byte>(&initPid, sizeof(int)));
            Libc.waitpid((int)r, &status, 0);
            if (n != sizeof(int) || initPid <= 0)
                throw new ContainerException($"joining the user namespace failed (intermediate process exited with status {status:x})");
            return initPid;
        }
        finally { Libc.close(pipe[0]); }
    }

    /// <summary>
    /// The clone child of a nested spawn: joins the user namespace, becomes its root, creates the other namespaces, then
    /// clones the init as its sibling and reports that pid. Raw syscalls only, as in <see cref="CloneChild"/>.
    /// </summary>
    private static void CloneChildNested(int pidFd, int userFd, int unshareFlags, int* sources, byte* sigmask, byte* path, byte** argv, byte** envp)
    {
        if (Libc.RawSyscall(Libc.SYS_setns, userFd, Libc.CLONE_NEWUSER, 0, 0, 0) < 0 ||
            Libc.RawSyscall(Libc.SYS_setgroups, 0, 0, 0, 0, 0) < 0 ||
            Libc.RawSyscall(Libc.SYS_setresgid, 0, 0, 0, 0, 0) < 0 ||
            Libc.RawSyscall(Libc.SYS_setresuid, 0, 0, 0, 0, 0) < 0 ||
            Libc.RawSyscall(Libc.SYS_unshare, unshareFlags, 0, 0, 0, 0) < 0)
            Libc.RawSyscall(Libc.SYS_exit_group, 125, 0, 0, 0, 0);
        long c = Libc.RawSyscall(Libc.SYS_clone, Libc.CLONE_PARENT | Libc.SIGCHLD, 0, 0, 0, 0);
        if (c == 0) CloneChild(-1, -1, sources, sigmask, path, argv, envp);
        int pid = (int)c;
        if (c > 0) Libc.RawSyscall(Libc.SYS_write, pidFd, (long)&pid, sizeof(int), 0, 0);
        Libc.RawSyscall(Libc.SYS_exit_group, c > 0 ? 0 : 125, 0, 0, 0, 0);
    }

    /// <summary>The clone child: only raw syscalls (no allocation, no runtime calls) until execve replaces it.</summary>
    private static void CloneChild(int goFd, int userFd, int* sources, byte* sigmask, byte* path, byte** argv, byte** envp)
    {
        byte b;
        if (goFd >= 0 && Libc.RawSyscall(Libc.SYS_read, goFd, (long)&b, 1, 0, 0) != 1) Libc.RawSyscall(Libc.SYS_exit_group, 125, 0, 0, 0, 0);
        if (userFd >= 0 && Libc.RawSyscall(Libc.SYS_setns, userFd, Libc.CLONE_NEWUSER, 0, 0, 0) < 0) Libc.RawSyscall(Libc.SYS_exit_group, 125, 0, 0, 0, 0);
        // Still the host's uid 0, which the namespace does not map, and an execve as an unmapped user
        // keeps no capabilities: become the namespace's root (raw calls: glibc's would signal threads this
        // copy does not have). No supplementary groups of the host's.
        if (Libc.RawSyscall(Libc.SYS_setgroups, 0, 0, 0, 0, 0) < 0 ||
            Libc.RawSyscall(Libc.SYS_setresgid, 0, 0, 0, 0, 0) < 0 ||
            Libc.RawSyscall(Libc.SYS_setresuid, 0, 0, 0, 0, 0) < 0)
            Libc.RawSyscall(Libc.SYS_exit_group, 125, 0, 0, 0, 0);
        Libc.RawSyscall(Libc.SYS_dup2, sources[0], ParkedFd, 0, 0, 0);
        Libc.RawSyscall(Libc.SYS_dup2, sources[1], ParkedFd + 1, 0, 0, 0);
        Libc.RawSyscall(Libc.SYS_dup2, sources[2], ParkedFd + 2, 0, 0, 0);
        Libc.RawSyscall(Libc.SYS_dup2, sources[3], ParkedFd + 3, 0, 0, 0);
        Libc.RawSyscall(Libc.SYS_dup2, ParkedFd, 0, 0, 0, 0);
        Libc.RawSyscall(Libc.SYS_dup2, ParkedFd + 1, 1, 0, 0, 0);
        Libc.RawSyscall(Libc.SYS_dup2, ParkedFd + 2, 2, 0, 0, 0);
        Libc.RawSyscall(Libc.SYS_dup2, ParkedFd + 3, 3, 0, 0, 0);
        Libc.RawSyscall(Libc.SYS_close, ParkedFd, 0, 0, 0, 0);
        Libc.RawSyscall(Libc.SYS_close, ParkedFd + 1, 0, 0, 0, 0);
        Libc.RawSyscall(Libc.SYS_close, ParkedFd + 2, 0, 0, 0, 0);
        Libc.RawSyscall(Libc.SYS_close, ParkedFd + 3, 0, 0, 0, 0);
        // dup2 clears CLOEXEC: the detached rootfs mount survives the execve as fd 4.
        if (sources[4] >= 0) Libc.RawSyscall(Libc.SYS_dup2, sources[4], RootfsMountFd, 0, 0, 0);
        Libc.RawSyscall(Libc.SYS_rt_sigprocmask, Libc.SIG_SETMASK, (long)sigmask, 0, 8, 0);
        Libc.RawSyscall(Libc.SYS_execve, (long)path, (long)argv, (long)envp, 0, 0);
        Libc.RawSyscall(Libc.SYS_exit_group, 127, 0, 0, 0, 0);
    }

    private static void WriteMap(int pid, string file, string map)
    {
        string path = $"/proc/{pid}/{file}";
        int fd = LinuxException.ThrowIfError(Libc.open(path, Libc.O_WRONLY | Libc.O_CLOEXEC, 0), "open", path);
        try
        {
            byte[] data = System.Text.Encoding.ASCII.GetBytes(map);
            fixed (byte* d = data)
                if (Libc.write(fd, d, (nuint)data.Length) != data.Length)
                    throw new LinuxException("write", Marshal.GetLastPInvokeError(), path);
        }
        finally { Libc.close(fd); }
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

/// <summary>A user namespace for <see cref="Spawner.Spawn"/>: new with these maps (<c>/proc/PID/uid_map</c> lines), or joined.</summary>
internal sealed record UserNamespace(string UidMap, string GidMap, string? JoinPath = null)
{
    public static string FormatMap(IEnumerable<Spec.OciIdMapping> mappings) =>
        string.Concat(mappings.Select(m => $"{m.ContainerId} {m.HostId} {m.Size}\n"));
}
