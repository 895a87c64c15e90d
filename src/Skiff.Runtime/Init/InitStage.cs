using System.Runtime.InteropServices;
using Skiff.Linux;
using Skiff.Runtime.Spec;

namespace Skiff.Runtime.Init;

/// <summary>
/// The second stage, run as <c>skiff-runtime init</c> by <see cref="Spawner"/>: it reads its
/// <see cref="InitConfig"/> from fd 3 and turns itself into the container process. Every failure is sent
/// back over fd 3 as text before exiting; fd 3 is CLOEXEC, so a successful execve shows up in the parent
/// as end-of-stream.
/// </summary>
public static unsafe class InitStage
{
    private const int SyncFd = 3;

    /// <summary>Entry point of the hidden <c>init</c> verb; only returns on failure, with the exit status to use.</summary>
    public static int Run()
    {
        Trace.Mark("init: main");
        Libc.fcntl(SyncFd, Libc.F_SETFD, Libc.FD_CLOEXEC);
        InitConfig config;
        try
        {
            var msg = SyncChannel.Receive(SyncFd, out _);
            if (msg is null) return 1;
            config = InitConfigCodec.Decode(msg.Value.Payload);
        }
        catch (Exception e)
        {
            TrySendError(e.Message);
            return 1;
        }
        try
        {
            if (config.Mode == "exec") RunExec(config);
            else RunCreate(config);
            return 1;
        }
        catch (ExecFailedException e)
        {
            TrySendError(e.Message);
            return e.ExitCode;
        }
        catch (Exception e)
        {
            TrySendError(e is ContainerException or LinuxException ? e.Message : e.ToString());
            return 1;
        }
    }

    private static void TrySendError(string message)
    {
        try { SyncChannel.SendError(SyncFd, message); } catch (Exception) { }
    }

    private static void RunCreate(InitConfig config)
    {
        OciSpec spec = config.Spec;
        OciLinux linux = spec.Linux ?? new OciLinux();
        OciProcess process = spec.Process ?? throw new ContainerException("config.json has no process");
        var namespaces = linux.Namespaces ?? [];
        bool Has(string type, bool fresh) => namespaces.Any(n => n.Type == type && (!fresh || string.IsNullOrEmpty(n.Path)));

        Trace.Mark("init: config");
        Libc.SockFilter[]? filter = DecodeFilter(config.SeccompFilter);

        // The config arrives only once we sit in the container's cgroups (born there on v1, moved before the
        // config on v2), so a cgroup namespace made now has the container's cgroup as its root.
        if (Has("cgroup", fresh: true))
            LinuxException.ThrowIfError(Libc.unshare(Libc.CLONE_NEWCGROUP), "unshare", "CLONE_NEWCGROUP");

        // Opened while the host's paths are still reachable; reopened for writing via /proc after pivot_root.
        int fifoFd = config.FifoPath is null ? -1
            : LinuxException.ThrowIfError(Libc.open(config.FifoPath, Libc.O_PATH | Libc.O_CLOEXEC, 0), "open", config.FifoPath);

        // A new network namespace starts with lo down; runc brings it up, and programs expect 127.0.0.1.
        if (Has("network", fresh: true)) Libc.SetInterfaceUp("lo");

        string rootfs = Path.GetFullPath(spec.Root?.Path ?? "rootfs", config.BundlePath);
        if (Has("mount", fresh: false))
        {
            Trace.Mark("init: mounts start");
            Rootfs.Prepare(config, rootfs);
            Trace.Mark("init: mounts done");
            // The pty comes from the container's devpts, mounted just now; /dev/console becomes a bind of
            // the slave while /dev is still reachable at its host path.
            if (process.Terminal) SetupConsole(ptmx: rootfs + "/dev/pts/ptmx", ptsDir: rootfs + "/dev/pts", consoleBind: rootfs + "/dev/console", process.ConsoleSize);
            // Any time before the capability drop (needs CAP_SYS_ADMIN); only in a UTS namespace we own.
            SetHostname(spec, Has("uts", fresh: false));
            // After every mount that needs a host path (bind sources, cgroup dirs), before the paths that
            // refer to the container's own /proc and /sys.
            Rootfs.PivotRoot(rootfs);
            Trace.Mark("init: pivoted");
            Rootfs.EnsureCwd(spec, process.Cwd);
            // sysctls write into /proc/sys, which the read-only paths below usually cover: set them first.
            WriteSysctls(linux.Sysctl);
            Rootfs.ApplyReadonlyAndMaskedPaths(linux);
            // Last: everything above may create mount points or files in the rootfs.
            if (spec.Root?.Readonly == true) Rootfs.RemountRootReadonly();
        }
        else
        {
            if (process.Terminal) SetupConsole("/dev/ptmx", "/dev/pts", null, process.ConsoleSize);
            SetHostname(spec, Has("uts", fresh: false));
            WriteSysctls(linux.Sysctl);
        }
        Trace.Mark("init: paths done");
        FinishAndExec(config, process, filter, fifoFd);
    }

    private static void RunExec(InitConfig config)
    {
        OciSpec spec = config.Spec;
        OciProcess process = spec.Process ?? throw new ContainerException("exec without a process");
        Libc.SockFilter[]? filter = DecodeFilter(config.SeccompFilter);

        // The spawning thread already joined the pid, net, ipc and uts namespaces. The mount namespace is
        // joined here instead: had the spawner joined it, this binary's host path would not exist there.
        // setns(CLONE_NEWNS) refuses a thread whose fs_struct is shared with the runtime's other threads.
        LinuxException.ThrowIfError(Libc.unshare(Libc.CLONE_FS), "unshare", "CLONE_FS");
        string nsDir = $"/proc/{config.NamespacePid}/ns/";
        int cgroupNs = -1;
        if (config.Spec.Linux?.Namespaces?.Any(n => n.Type == "cgroup") == true)
            cgroupNs = LinuxException.ThrowIfError(Libc.open(nsDir + "cgroup", Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open", nsDir + "cgroup");
        int mntNs = LinuxException.ThrowIfError(Libc.open(nsDir + "mnt", Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open", nsDir + "mnt");
        if (cgroupNs >= 0) { LinuxException.ThrowIfError(Libc.setns(cgroupNs, Libc.CLONE_NEWCGROUP), "setns", "cgroup"); Libc.close(cgroupNs); }
        LinuxException.ThrowIfError(Libc.setns(mntNs, Libc.CLONE_NEWNS), "setns", "mnt");
        Libc.close(mntNs);
        Libc.chdir("/");
        if (process.Terminal) SetupConsole("/dev/pts/ptmx", "/dev/pts", null, process.ConsoleSize);
        FinishAndExec(config, process, filter, -1);
    }

    /// <summary>
    /// Creates the pty on the container's own devpts instance (a host pty reads as "not a tty" inside),
    /// hands the master to the parent with SCM_RIGHTS and makes the slave our controlling terminal and stdio.
    /// </summary>
    private static void SetupConsole(string ptmx, string ptsDir, string? consoleBind, OciConsoleSize? size)
    {
        var (master, slavePath) = Libc.OpenPty(ptmx, ptsDir);
        if (size is { Height: > 0, Width: > 0 })
        {
            var ws = new Libc.WinSize { Rows = (ushort)size.Height, Cols = (ushort)size.Width };
            Libc.ioctl(master, Libc.TIOCSWINSZ, &ws);
        }
        int slave = LinuxException.ThrowIfError(Libc.open(slavePath, Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0), "open", slavePath);
        if (consoleBind is not null)
        {
            if (!File.Exists(consoleBind)) File.WriteAllBytes(consoleBind, []);
            LinuxException.ThrowIfError(Libc.mount(slavePath, consoleBind, null, Libc.MS_BIND, null), "mount", "/dev/console");
        }
        SyncChannel.SendConsole(SyncFd, master);
        Libc.close(master);
        LinuxException.ThrowIfError(Libc.setsid(), "setsid");
        LinuxException.ThrowIfError(Libc.ioctl(slave, Libc.TIOCSCTTY, null), "ioctl(TIOCSCTTY)");
        for (int i = 0; i < 3; i++) LinuxException.ThrowIfError(Libc.dup3(slave, i, 0), "dup3");
        Libc.close(slave);
    }

    internal static void SetHostname(OciSpec spec, bool ownUts)
    {
        if (!ownUts) return;
        if (!string.IsNullOrEmpty(spec.Hostname))
        {
            byte[] h = System.Text.Encoding.UTF8.GetBytes(spec.Hostname);
            fixed (byte* p = h) LinuxException.ThrowIfError(Libc.sethostname(p, (nuint)h.Length), "sethostname");
        }
        if (!string.IsNullOrEmpty(spec.Domainname))
        {
            byte[] d = System.Text.Encoding.UTF8.GetBytes(spec.Domainname);
            fixed (byte* p = d) LinuxException.ThrowIfError(Libc.setdomainname(p, (nuint)d.Length), "setdomainname");
        }
    }

    internal static void WriteSysctls(Dictionary<string, string>? sysctls)
    {
        foreach (var (key, value) in sysctls ?? [])
        {
            string file = "/proc/sys/" + key.Replace('.', '/');
            try { File.WriteAllText(file, value); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ContainerException($"write sysctl key {key}: {e.Message}");
            }
        }
    }

    /// <summary>
    /// The tail shared by the init and exec'd processes, in the order runc uses: limits and identity first
    /// while we still hold every capability, then the capability drop, then the PATH lookup as the final
    /// user, then (create only) the wait for Start, and execve.
    /// </summary>
    private static void FinishAndExec(InitConfig config, OciProcess process, Libc.SockFilter[]? filter, int fifoFd)
    {
        if (process.Args.Count == 0) throw new ContainerException("process.args must not be empty");
        // As runc, also without a terminal: a session of its own (already so with one, where setsid fails harmlessly).
        if (!process.Terminal) Libc.setsid();
        ApplyRlimits(process.Rlimits);
        if (process.OomScoreAdj is { } adj) File.WriteAllText("/proc/self/oom_score_adj", adj.ToString());

        // After pivot_root/setns, so names resolve against the container's /etc files.
        ExecUser user = UserLookup.Resolve(config.User, process.User.Uid, process.User.Gid, process.User.AdditionalGids,
            groupAdd: config.Spec.Annotations?.GetValueOrDefault(Annotations.GroupAdd));
        var env = new List<string>(process.Env ?? []);
        if (!env.Any(e => e.StartsWith("HOME=", StringComparison.Ordinal))) env.Add("HOME=" + user.Home);

        // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, which the capability drop below
        // usually removes; the profile must therefore allow the few syscalls that remain until execve.
        Trace.Mark("init: user resolved");
        if (filter is not null && !process.NoNewPrivileges) InstallSeccomp(filter);
        Trace.Mark("init: seccomp installed");

        ApplyIdentityAndCapabilities(user, process.Capabilities);
        Trace.Mark("init: caps applied");
        if (process.NoNewPrivileges)
            LinuxException.ThrowIfError(Libc.prctl(Libc.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl", "PR_SET_NO_NEW_PRIVS");

        if (Libc.chdir(process.Cwd) < 0)
            throw new ContainerException($"chdir to cwd (\"{process.Cwd}\") set in config.json failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()).ToLowerInvariant()}");

        // As the final user: Go's LookPath semantics and error texts, which engines map to 127/126.
        string executable;
        try { executable = ExecutableLookup.Find(process.Args[0], env); }
        catch (ContainerException e) { throw new ExecFailedException(e.Message, e.Message.EndsWith("permission denied", StringComparison.Ordinal) ? 126 : 127); }
        Libc.umask(process.User.Umask ?? 0x12);

        using var argv = new Libc.NativeStringArray(process.Args);
        using var envp = new Libc.NativeStringArray(env);
        byte[] exeZ = Libc.Utf8Z(executable);

        Trace.Mark("init: identity done");
        if (fifoFd >= 0)
        {
            SyncChannel.Send(SyncFd, SyncChannel.Ready, []);
            // Blocks until Start opens the fifo for reading: the init's only waiting point, since
            // `create` and `start` may be different processes.
            string reopen = $"/proc/self/fd/{fifoFd}";
            int w;
            while ((w = Libc.open(reopen, Libc.O_WRONLY | Libc.O_CLOEXEC, 0)) < 0 && Marshal.GetLastPInvokeError() == 4) { }
            LinuxException.ThrowIfError(w, "open", "exec fifo");
            Libc.WriteAll(w, "0"u8);
            Libc.close(w);
            Libc.close(fifoFd);
        }

        // With no_new_privs the filter goes last, so the fewest runtime syscalls run under it.
        if (filter is not null && process.NoNewPrivileges) InstallSeccomp(filter);

        // Whatever the caller leaked into us (fds without CLOEXEC) must not reach the container: only 0-2 survive.
        Libc.close_range(3, uint.MaxValue, (int)Libc.CLOSE_RANGE_CLOEXEC);
        if (config.Mode == "create" && config.Spec.Annotations?.GetValueOrDefault(Annotations.Init) == "true")
        {
            Trace.Mark("init: spawn under reaper");
            Reaper.Run(exeZ, argv.Pointer, envp.Pointer, SyncFd, process.Terminal, process.Args[0]);
        }
        Trace.Mark("init: execve");
        Libc.ResetSignalsForExec();
        fixed (byte* p = exeZ) Libc.execve(p, argv.Pointer, envp.Pointer);
        int errno = Marshal.GetLastPInvokeError();
        string reason = errno switch
        {
            13 => "permission denied",
            2 => "no such file or directory",
            8 => "exec format error",
            _ => Marshal.GetPInvokeErrorMessage(errno).ToLowerInvariant(),
        };
        throw new ExecFailedException($"exec: \"{process.Args[0]}\": {reason}", errno == 13 ? 126 : errno == 2 ? 127 : 1);
    }

    private static Libc.SockFilter[]? DecodeFilter(byte[]? bytes) =>
        bytes is null ? null : MemoryMarshal.Cast<byte, Libc.SockFilter>(bytes).ToArray();

    private static void InstallSeccomp(Libc.SockFilter[] filter) =>
        LinuxException.ThrowIfError(Libc.InstallSeccompFilter(filter), "prctl", "PR_SET_SECCOMP");

    internal static readonly string[] RlimitNames =
    [
        "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC",
        "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE",
        "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
    ];

    /// <summary>Raising a hard limit needs CAP_SYS_RESOURCE, which the caller may lack: clamp to the current hard limit.</summary>
    private static void ApplyRlimits(List<OciRlimit>? rlimits)
    {
        ulong* cur = stackalloc ulong[2];
        ulong* lim = stackalloc ulong[2];
        foreach (OciRlimit rl in rlimits ?? [])
        {
            int resource = Array.IndexOf(RlimitNames, rl.Type);
            if (resource < 0) throw new ContainerException($"unknown rlimit type {rl.Type}");
            LinuxException.ThrowIfError(Libc.getrlimit(resource, cur), "getrlimit", rl.Type);
            ulong hard = Math.Min(rl.Hard, cur[1]);
            lim[0] = Math.Min(rl.Soft, hard);
            lim[1] = hard;
            LinuxException.ThrowIfError(Libc.setrlimit(resource, lim), "setrlimit", rl.Type);
        }
    }

    /// <summary>
    /// Bounding set first (dropping needs CAP_SETPCAP), then groups and ids with KEEPCAPS so permitted
    /// survives a switch away from uid 0, then capset and the ambient set (which must be within permitted
    /// and inheritable). capset and the bounding set are per thread: this is the thread that calls execve.
    /// </summary>
    private static void ApplyIdentityAndCapabilities(ExecUser user, OciCapabilities? caps)
    {
        if (caps is not null)
        {
            ulong bounding = Capabilities.Mask(caps.Bounding);
            int last = Libc.CapLastCap();
            for (int cap = 0; cap <= last; cap++)
                if ((bounding & (1UL << cap)) == 0 && Libc.prctl(Libc.PR_CAPBSET_DROP, (ulong)cap, 0, 0, 0) < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno != 22) throw new LinuxException("prctl", errno, "PR_CAPBSET_DROP");
                }
        }
        LinuxException.ThrowIfError(Libc.prctl(Libc.PR_SET_KEEPCAPS, 1, 0, 0, 0), "prctl", "PR_SET_KEEPCAPS");
        fixed (uint* g = user.Groups)
            LinuxException.ThrowIfError(Libc.setgroups((nuint)user.Groups.Length, g), "setgroups");
        LinuxException.ThrowIfError(Libc.setresgid(user.Gid, user.Gid, user.Gid), "setresgid");
        LinuxException.ThrowIfError(Libc.setresuid(user.Uid, user.Uid, user.Uid), "setresuid");
        LinuxException.ThrowIfError(Libc.prctl(Libc.PR_SET_KEEPCAPS, 0, 0, 0, 0), "prctl", "PR_SET_KEEPCAPS");
        if (caps is not null)
        {
            ulong inheritable = Capabilities.Mask(caps.Inheritable), ambient = Capabilities.Mask(caps.Ambient);
            LinuxException.ThrowIfError(Libc.capset(Capabilities.Mask(caps.Effective), Capabilities.Mask(caps.Permitted),
                inheritable | ambient), "capset");
            Libc.prctl(Libc.PR_CAP_AMBIENT, Libc.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
            for (int cap = 0; cap < 64; cap++)
                if ((ambient & (1UL << cap)) != 0)
                    LinuxException.ThrowIfError(Libc.prctl(Libc.PR_CAP_AMBIENT, Libc.PR_CAP_AMBIENT_RAISE, (ulong)cap, 0, 0), "prctl", "PR_CAP_AMBIENT_RAISE");
        }
    }

}
