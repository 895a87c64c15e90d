using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Skiff.Linux;
using Skiff.Runtime.Spec;

namespace Skiff.Runtime.Init;

/// <summary>
/// The container's init without a second process start: the spawning thread (see <see cref="Spawner"/>) does the
/// mount, console and hostname work itself, in managed code, inside namespaces it unshared for itself alone, and
/// the init is a fork-style <c>clone(2)</c> of the runtime that runs only raw syscalls until execve.
/// <para>Why: a NativeAOT process start costs ~2.4 ms CPU and ~400 page faults, which was most of what
/// skiff-runtime spent over crun per container. A clone costs a fraction of that and the work is the same.</para>
/// <para>Split: the thread sits in the container's cgroups (moved there before, cgroup v1), unshares
/// mnt/uts/ipc/net/cgroup (namespaces are per thread; its fs_struct is private, so pivot_root moves only it), then
/// clones the init with CLONE_NEWPID, so the init is PID 1 and shares the thread's other namespaces. A proc mount
/// shows the pids of its mounter's pid namespace, so the thread asks the init to mount <c>proc</c> (one round trip
/// on a control socket); everything else, in the order <see cref="InitStage"/> uses, runs on the thread, which ends
/// pivoted into the container (so is the init, in the same mount namespace). The thread then resolves the user and
/// the executable's candidates and writes the rest as a plan into memory shared with the init: rlimits, oom score,
/// seccomp, bounding set, ids, capabilities, no_new_privs, cwd, PATH lookup as the final user, ready message, exec
/// fifo, execve. The init reports failures as site + errno (<see cref="SyncChannel.RawError"/>); <see cref="Describe"/>
/// turns them into the texts <see cref="InitStage"/> sends.</para>
/// <para>The init is a copy of one thread of the runtime without the others, so it must never enter the runtime:
/// <see cref="ChildMain"/> uses no managed allocation, no runtime helpers and no other managed methods, only
/// <see cref="Libc.RawSyscall"/> (bound with SuppressGCTransition, so no GC transition either) on memory prepared
/// before (its stack, the shared plan). Signals are blocked across the clone and the init resets every handler
/// before anything else, so no runtime signal handler runs in it.</para>
/// <para>Not used (the spawned <c>skiff-runtime init</c> remains) for user namespaces (the mounts need the
/// namespace's root), <c>--init</c> (the reaper is managed code), a joined or absent mount namespace, and when the
/// thread could not enter the cgroups (v2, tiny pids limits).</para>
/// </summary>
internal sealed unsafe class CloneInit
{
    private const int ChildSync = 3, ChildCtl = 4, ChildFifo = 5, ParkBase = 1000;
    private const byte OpMount = (byte)'M', OpGo = (byte)'G';

    private readonly InitConfig _config;
    private readonly int[] _stdio;
    private readonly int _syncFd;
    private Plan* _plan;
    private byte* _heap;
    private long _heapUsed, _heapSize;
    private int _ctl = -1;

    public CloneInit(InitConfig config, int[] stdio, int syncFd)
    {
        _config = config;
        _stdio = stdio;
        _syncFd = syncFd;
    }

    /// <summary>True once <see cref="Run"/> made the init (the caller then skips the config message).</summary>
    public bool Used { get; private set; }

    /// <summary>In terminal mode, the pty master (created by the thread in the container's devpts).</summary>
    public SafeFileHandle? ConsoleMaster { get; private set; }

    public static bool Supports(bool userNamespace, bool reaper, int unshareFlags) =>
        !userNamespace && !reaper && (unshareFlags & Libc.CLONE_NEWNS) != 0;

    /// <summary>Failure sites the init reports (with errno and an index) instead of text.</summary>
    private enum Site
    {
        None, Rlimit, OomScoreAdj, Seccomp, CapBoundingDrop, KeepCaps, Setgroups, Setresgid, Setresuid, Capset, AmbientRaise,
        NoNewPrivs, Chdir, LookupStat, LookupDir, LookupPermission, LookupNotFound, ExecFifo, Execve, ConsoleOpen, Setsid,
        ControllingTty, ConsoleDup,
    }

    /// <summary>What the init reads; pointers point into the same shared mapping.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Plan
    {
        public int Src0, Src1, Src2, SrcSync, SrcCtl, SrcFifo;
        public int* Errno;
        // One mount request ('M').
        public byte* MSource, MTarget, MType, MData;
        public ulong MFlags;
        // The program ('G').
        public byte* SlavePath;
        public int NRlimits;
        public long* Rlimits;
        public byte* OomPath, OomValue;
        public int OomLen;
        public int SeccompEarly, SeccompLate;
        public Libc.SockFprog Filter;
        public int HasCaps, LastCap;
        public ulong Bounding, Ambient;
        public fixed uint CapHeader[2];
        public fixed uint CapData[6];
        public uint Uid, Gid;
        public uint* Groups;
        public int NGroups;
        public int NoNewPrivs;
        public byte* Cwd;
        public int DirectPath, NCandidates;
        public byte** Candidates;
        public byte** Argv, Envp;
        public uint Umask;
        public byte* FifoReopen;
    }

    /// <summary>Runs on the spawning thread after it entered the cgroups and joined the spec's namespace paths; returns the init's pid.</summary>
    public int Run(int unshareFlags)
    {
        Used = true;
        try { return RunCore(unshareFlags); }
        catch (ContainerException) { throw; }
        catch (Exception e) { throw new ContainerException(e is LinuxException ? e.Message : e.ToString(), e); }
    }

    private int RunCore(int unshareFlags)
    {
        InitConfig config = _config;
        OciSpec spec = config.Spec;
        OciLinux linux = spec.Linux ?? new OciLinux();
        OciProcess process = spec.Process ?? throw new ContainerException("config.json has no process");
        var namespaces = linux.Namespaces ?? [];
        bool Has(string type) => namespaces.Any(n => n.Type == type && string.IsNullOrEmpty(n.Path));

        int threadFlags = unshareFlags & ~Libc.CLONE_NEWPID;
        if (threadFlags != 0) LinuxException.ThrowIfError(Libc.unshare(threadFlags), "unshare");
        // This thread already sits in the container's cgroups: a cgroup namespace made now is rooted there.
        if (Has("cgroup")) LinuxException.ThrowIfError(Libc.unshare(Libc.CLONE_NEWCGROUP), "unshare", "CLONE_NEWCGROUP");
        // A new network namespace starts with lo down; runc brings it up, and programs expect 127.0.0.1.
        if (Has("network")) Libc.SetInterfaceUp("lo");
        int lastCap = Libc.CapLastCap();
        Trace.Mark("create: thread in namespaces");

        long strings = 0;
        foreach (string s in process.Args) strings += s.Length * 3 + 16;
        foreach (string s in process.Env ?? []) strings += s.Length * 3 + 16;
        _heapSize = (1 << 20) + 4 * strings + (config.SeccompFilter?.Length ?? 0);
        _heapSize = (_heapSize + 4095) & ~4095L;
        void* region = Libc.mmap(null, (nuint)_heapSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Libc.MAP_ANONYMOUS, -1, 0);
        if (region == (void*)-1) throw new LinuxException("mmap", Marshal.GetLastPInvokeError());
        int fifoFd = -1, childCtl = -1, pid = -1;
        try
        {
            _plan = (Plan*)region;
            _heap = (byte*)region;
            _heapUsed = (sizeof(Plan) + 15) & ~15;
            int* sv = stackalloc int[2];
            LinuxException.ThrowIfError(Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0, sv), "socketpair");
            _ctl = sv[0];
            childCtl = sv[1];
            // Opened while the host's paths are still reachable; the init reopens it for writing via /proc after pivot_root.
            if (config.FifoPath is not null)
                fifoFd = LinuxException.ThrowIfError(Libc.open(config.FifoPath, Libc.O_PATH | Libc.O_CLOEXEC, 0), "open", config.FifoPath);

            Plan* p = _plan;
            p->Src0 = _stdio[0]; p->Src1 = _stdio[1]; p->Src2 = _stdio[2];
            p->SrcSync = _syncFd; p->SrcCtl = childCtl; p->SrcFifo = fifoFd;
            p->Errno = Libc.ErrnoLocation();
            p->LastCap = lastCap;

            ChildMain(null); // compiles it now in a JIT host; the init must not enter the runtime
            ulong all = ulong.MaxValue, old = 0;
            Libc.RawSyscall(Libc.SYS_rt_sigprocmask, Libc.SIG_SETMASK, (long)&all, (long)&old, 8, 0);
            long r = Libc.RawSyscall(Libc.SYS_clone, Libc.SIGCHLD | (unshareFlags & Libc.CLONE_NEWPID), 0, 0, 0, 0);
            if (r == 0)
            {
                ChildMain(p);
                Libc.RawSyscall(Libc.SYS_exit_group, 125, 0, 0, 0, 0);
            }
            int errno = *p->Errno;
            Libc.RawSyscall(Libc.SYS_rt_sigprocmask, Libc.SIG_SETMASK, (long)&old, 0, 8, 0);
            if (r < 0) throw new LinuxException("clone", errno);
            pid = (int)r;
            Libc.close(childCtl);
            childCtl = -1;
            if (fifoFd >= 0) { Libc.close(fifoFd); fifoFd = -1; }
            Trace.Mark("create: init cloned");

            Setup(config, spec, linux, process);
            return pid;
        }
        catch
        {
            if (pid > 0)
            {
                Libc.kill(pid, Libc.SIGKILL);
                LinuxContainer.Reap(pid);
            }
            ConsoleMaster?.Dispose();
            ConsoleMaster = null;
            throw;
        }
        finally
        {
            if (childCtl >= 0) Libc.close(childCtl);
            if (fifoFd >= 0) Libc.close(fifoFd);
            if (_ctl >= 0) { Libc.close(_ctl); _ctl = -1; }
            Libc.munmap(region, (nuint)_heapSize);
            _plan = null;
        }
    }

    /// <summary>The thread's part, in <see cref="InitStage"/>'s order, then the plan and the go.</summary>
    private void Setup(InitConfig config, OciSpec spec, OciLinux linux, OciProcess process)
    {
        string rootfs = Path.GetFullPath(spec.Root?.Path ?? "rootfs", config.BundlePath);
        Rootfs.Prepare(config, rootfs, MountInInit);
        Trace.Mark("create: mounts done");
        if (process.Terminal) SetupConsole(rootfs, process.ConsoleSize);
        // Only in a UTS namespace of the container's own (new or joined), never the host's.
        InitStage.SetHostname(spec, ownUts: linux.Namespaces?.Any(n => n.Type == "uts") == true);
        Rootfs.PivotRoot(rootfs);
        InitStage.WriteSysctls(linux.Sysctl);
        Rootfs.EnsureCwd(spec, process.Cwd);
        Rootfs.ApplyReadonlyAndMaskedPaths(linux);
        if (spec.Root?.Readonly == true) Rootfs.RemountRootReadonly();
        Trace.Mark("create: paths done");

        if (process.Args.Count == 0) throw new ContainerException("process.args must not be empty");
        Plan* p = _plan;
        var rlimits = process.Rlimits ?? [];
        p->NRlimits = rlimits.Count;
        p->Rlimits = (long*)Alloc(rlimits.Count * 3 * sizeof(long));
        ulong* cur = stackalloc ulong[2];
        for (int i = 0; i < rlimits.Count; i++)
        {
            OciRlimit rl = rlimits[i];
            int resource = Array.IndexOf(InitStage.RlimitNames, rl.Type);
            if (resource < 0) throw new ContainerException($"unknown rlimit type {rl.Type}");
            // The init inherits this process's limits; raising a hard limit needs CAP_SYS_RESOURCE, so clamp.
            LinuxException.ThrowIfError(Libc.getrlimit(resource, cur), "getrlimit", rl.Type);
            ulong hard = Math.Min(rl.Hard, cur[1]);
            p->Rlimits[i * 3] = resource;
            p->Rlimits[i * 3 + 1] = (long)Math.Min(rl.Soft, hard);
            p->Rlimits[i * 3 + 2] = (long)hard;
        }
        if (process.OomScoreAdj is { } adj)
        {
            byte[] v = Encoding.ASCII.GetBytes(adj.ToString());
            p->OomPath = Str("/proc/self/oom_score_adj");
            p->OomValue = Bytes(v);
            p->OomLen = v.Length;
        }

        // After pivot_root: names resolve against the container's /etc files.
        ExecUser user = UserLookup.Resolve(config.User, process.User.Uid, process.User.Gid, process.User.AdditionalGids,
            groupAdd: config.Spec.Annotations?.GetValueOrDefault(Annotations.GroupAdd));
        var env = new List<string>(process.Env ?? []);
        if (!env.Any(e => e.StartsWith("HOME=", StringComparison.Ordinal))) env.Add("HOME=" + user.Home);
        p->Uid = user.Uid;
        p->Gid = user.Gid;
        p->NGroups = user.Groups.Length;
        p->Groups = (uint*)Alloc(user.Groups.Length * sizeof(uint));
        user.Groups.AsSpan().CopyTo(new Span<uint>(p->Groups, user.Groups.Length));

        if (config.SeccompFilter is { } filter)
        {
            p->Filter.Len = (ushort)(filter.Length / 8);
            p->Filter.Filter = (Libc.SockFilter*)Bytes(filter);
            // Without no_new_privs the filter needs CAP_SYS_ADMIN, which the capability drop usually removes.
            if (process.NoNewPrivileges) p->SeccompLate = 1; else p->SeccompEarly = 1;
        }
        if (process.Capabilities is { } caps)
        {
            p->HasCaps = 1;
            p->Bounding = Capabilities.Mask(caps.Bounding);
            ulong effective = Capabilities.Mask(caps.Effective), permitted = Capabilities.Mask(caps.Permitted);
            ulong ambient = Capabilities.Mask(caps.Ambient), inheritable = Capabilities.Mask(caps.Inheritable) | ambient;
            p->Ambient = ambient;
            p->CapHeader[0] = Libc._LINUX_CAPABILITY_VERSION_3;
            p->CapHeader[1] = 0;
            p->CapData[0] = (uint)effective; p->CapData[1] = (uint)permitted; p->CapData[2] = (uint)inheritable;
            p->CapData[3] = (uint)(effective >> 32); p->CapData[4] = (uint)(permitted >> 32); p->CapData[5] = (uint)(inheritable >> 32);
        }
        p->NoNewPrivs = process.NoNewPrivileges ? 1 : 0;
        p->Cwd = Str(process.Cwd);

        // Go's LookPath, checked by the init as the final user (the permission bits are its own).
        string name = process.Args[0];
        var candidates = new List<string>();
        if (name.Contains('/'))
        {
            p->DirectPath = 1;
            candidates.Add(name);
        }
        else
        {
            string path = env.LastOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?[5..] ?? ExecutableLookup.DefaultPath;
            foreach (string dir in path.Split(':')) candidates.Add(Path.Combine(dir.Length == 0 ? "." : dir, name));
        }
        p->NCandidates = candidates.Count;
        p->Candidates = StrArray(candidates);
        p->Argv = StrArray(process.Args);
        p->Envp = StrArray(env);
        p->Umask = process.User.Umask ?? 0x12;
        if (config.FifoPath is not null) p->FifoReopen = Str($"/proc/self/fd/{ChildFifo}");

        byte go = OpGo;
        if (Libc.write(_ctl, &go, 1) != 1) throw new LinuxException("write", Marshal.GetLastPInvokeError(), "init control socket");
        Trace.Mark("create: plan sent");
    }

    /// <summary>
    /// The pty on the container's own devpts (a host pty reads as "not a tty" inside); the master stays here,
    /// the init opens the slave after pivot_root and makes it its controlling terminal and stdio.
    /// </summary>
    private void SetupConsole(string rootfs, OciConsoleSize? size)
    {
        var (master, slavePath) = Libc.OpenPty(rootfs + "/dev/pts/ptmx", rootfs + "/dev/pts");
        ConsoleMaster = new SafeFileHandle(master, ownsHandle: true);
        if (size is { Height: > 0, Width: > 0 })
        {
            var ws = new Libc.WinSize { Rows = (ushort)size.Height, Cols = (ushort)size.Width };
            Libc.ioctl(master, Libc.TIOCSWINSZ, &ws);
        }
        string consoleBind = rootfs + "/dev/console";
        if (!File.Exists(consoleBind)) File.WriteAllBytes(consoleBind, []);
        Rootfs.Mount(slavePath, consoleBind, null, Libc.MS_BIND, null);
        _plan->SlavePath = Str("/dev/pts/" + slavePath[(slavePath.LastIndexOf('/') + 1)..]);
    }

    /// <summary>Has the init (PID 1 of the container's pid namespace) mount a proc filesystem.</summary>
    private void MountInInit(string? source, string target, string? fstype, ulong flags, string? data)
    {
        long mark = _heapUsed;
        Plan* p = _plan;
        p->MSource = source is null ? null : Str(source);
        p->MTarget = Str(target);
        p->MType = fstype is null ? null : Str(fstype);
        p->MData = data is null ? null : Str(data);
        p->MFlags = flags;
        byte op = OpMount;
        if (Libc.write(_ctl, &op, 1) != 1) throw new LinuxException("write", Marshal.GetLastPInvokeError(), "init control socket");
        int reply = 0, got = 0;
        while (got < 4)
        {
            nint n = Libc.read(_ctl, (byte*)&reply + got, (nuint)(4 - got));
            if (n < 0 && Marshal.GetLastPInvokeError() == 4) continue;
            if (n <= 0) throw new ContainerException("container init exited before it was ready");
            got += (int)n;
        }
        _heapUsed = mark;
        if (reply != 0) throw new LinuxException("mount", reply, $"{source ?? fstype ?? "(none)"} to {target}");
    }

    private byte* Alloc(long size)
    {
        long at = (_heapUsed + 15) & ~15L;
        if (at + size > _heapSize) throw new InvalidOperationException("init plan too large");
        _heapUsed = at + size;
        return _heap + at;
    }

    private byte* Bytes(ReadOnlySpan<byte> data)
    {
        byte* d = Alloc(data.Length);
        data.CopyTo(new Span<byte>(d, data.Length));
        return d;
    }

    private byte* Str(string s)
    {
        int n = Encoding.UTF8.GetByteCount(s);
        byte* d = Alloc(n + 1);
        Encoding.UTF8.GetBytes(s, new Span<byte>(d, n));
        d[n] = 0;
        return d;
    }

    private byte** StrArray(IReadOnlyList<string> items)
    {
        byte** a = (byte**)Alloc((items.Count + 1) * sizeof(nint));
        for (int i = 0; i < items.Count; i++) a[i] = Str(items[i]);
        a[items.Count] = null;
        return a;
    }

    /// <summary>The text <see cref="InitStage"/> would have sent for a failure the init reported as site + errno.</summary>
    public string Describe(byte[] payload)
    {
        if (payload.Length < 12) return "container init failed";
        var site = (Site)BinaryPrimitives.ReadInt32LittleEndian(payload);
        int errno = BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(4));
        int index = BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(8));
        OciProcess process = _config.Spec.Process!;
        string name = process.Args.Count > 0 ? process.Args[0] : "";
        string Sys(string op, string? detail = null) => new LinuxException(op, errno, detail).Message;
        return site switch
        {
            Site.Rlimit => Sys("setrlimit", index < (process.Rlimits?.Count ?? 0) ? process.Rlimits![index].Type : null),
            Site.OomScoreAdj => Sys("write", "/proc/self/oom_score_adj"),
            Site.Seccomp => Sys("prctl", "PR_SET_SECCOMP"),
            Site.CapBoundingDrop => Sys("prctl", "PR_CAPBSET_DROP"),
            Site.KeepCaps => Sys("prctl", "PR_SET_KEEPCAPS"),
            Site.Setgroups => Sys("setgroups"),
            Site.Setresgid => Sys("setresgid"),
            Site.Setresuid => Sys("setresuid"),
            Site.Capset => Sys("capset"),
            Site.AmbientRaise => Sys("prctl", "PR_CAP_AMBIENT_RAISE"),
            Site.NoNewPrivs => Sys("prctl", "PR_SET_NO_NEW_PRIVS"),
            Site.Chdir => $"chdir to cwd (\"{process.Cwd}\") set in config.json failed: {Marshal.GetPInvokeErrorMessage(errno).ToLowerInvariant()}",
            Site.LookupStat => $"exec: \"{name}\": stat {name}: no such file or directory",
            Site.LookupDir => $"exec: \"{name}\": is a directory",
            Site.LookupPermission => $"exec: \"{name}\": permission denied",
            Site.LookupNotFound => $"exec: \"{name}\": executable file not found in $PATH",
            Site.ExecFifo => Sys("open", "exec fifo"),
            Site.Execve => $"exec: \"{name}\": " + errno switch
            {
                13 => "permission denied",
                2 => "no such file or directory",
                8 => "exec format error",
                _ => Marshal.GetPInvokeErrorMessage(errno).ToLowerInvariant(),
            },
            Site.ConsoleOpen => Sys("open", "console"),
            Site.Setsid => Sys("setsid"),
            Site.ControllingTty => Sys("ioctl(TIOCSCTTY)"),
            Site.ConsoleDup => Sys("dup3"),
            _ => $"container init failed (site {(int)site}, errno {errno})",
        };
    }

    /// <summary>
    /// The init: a fork-style copy of the spawning thread. Only raw syscalls on prepared memory: no allocation, no
    /// runtime helper, no call into another managed method (in a JIT host it could need compiling). Never returns
    /// when <paramref name="p"/> is set.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void ChildMain(Plan* p)
    {
        if (p == null) return;
        Site site = Site.None;
        int index = 0;
        long r;
        byte* frame = stackalloc byte[20];
        byte* stat = stackalloc byte[256];
        long* act = stackalloc long[4];
        act[0] = act[1] = act[2] = act[3] = 0;
        long mask = 0;
        byte op = 0;
        int reply;

        // Only the container's fds: stdio at 0-2, the sync socket at 3, control at 4, the exec fifo at 5.
        // F_DUPFD parks each above the targets without overwriting another source.
        long d0 = Libc.RawSyscall(Libc.SYS_fcntl, p->Src0, 0, ParkBase, 0, 0);
        long d1 = Libc.RawSyscall(Libc.SYS_fcntl, p->Src1, 0, ParkBase, 0, 0);
        long d2 = Libc.RawSyscall(Libc.SYS_fcntl, p->Src2, 0, ParkBase, 0, 0);
        long ds = Libc.RawSyscall(Libc.SYS_fcntl, p->SrcSync, 0, ParkBase, 0, 0);
        long dc = Libc.RawSyscall(Libc.SYS_fcntl, p->SrcCtl, 0, ParkBase, 0, 0);
        long df = p->SrcFifo >= 0 ? Libc.RawSyscall(Libc.SYS_fcntl, p->SrcFifo, 0, ParkBase, 0, 0) : 0;
        if (d0 < 0 || d1 < 0 || d2 < 0 || ds < 0 || dc < 0 || df < 0) Libc.RawSyscall(Libc.SYS_exit_group, 125, 0, 0, 0, 0);
        if (Libc.RawSyscall(Libc.SYS_dup2, d0, 0, 0, 0, 0) < 0 || Libc.RawSyscall(Libc.SYS_dup2, d1, 1, 0, 0, 0) < 0 ||
            Libc.RawSyscall(Libc.SYS_dup2, d2, 2, 0, 0, 0) < 0 || Libc.RawSyscall(Libc.SYS_dup2, ds, ChildSync, 0, 0, 0) < 0 ||
            Libc.RawSyscall(Libc.SYS_dup2, dc, ChildCtl, 0, 0, 0) < 0 ||
            (p->SrcFifo >= 0 && Libc.RawSyscall(Libc.SYS_dup2, df, ChildFifo, 0, 0, 0) < 0))
            Libc.RawSyscall(Libc.SYS_exit_group, 125, 0, 0, 0, 0);
        Libc.RawSyscall(Libc.SYS_close_range, p->SrcFifo >= 0 ? ChildFifo + 1 : ChildFifo, uint.MaxValue, 0, 0, 0);
        Libc.RawSyscall(Libc.SYS_fcntl, ChildSync, Libc.F_SETFD, Libc.FD_CLOEXEC, 0, 0);
        Libc.RawSyscall(Libc.SYS_fcntl, ChildCtl, Libc.F_SETFD, Libc.FD_CLOEXEC, 0, 0);
        if (p->SrcFifo >= 0) Libc.RawSyscall(Libc.SYS_fcntl, ChildFifo, Libc.F_SETFD, Libc.FD_CLOEXEC, 0, 0);

        // Every signal to its default action (the runtime's handlers must never run here, and the container
        // starts with none), then unblocked (the spawning thread blocked all of them across the clone).
        for (int sig = 1; sig <= 64; sig++)
            if (sig != Libc.SIGKILL && sig != Libc.SIGSTOP) Libc.RawSyscall(Libc.SYS_rt_sigaction, sig, (long)act, 0, 8, 0);
        Libc.RawSyscall(Libc.SYS_rt_sigprocmask, Libc.SIG_SETMASK, (long)&mask, 0, 8, 0);

        // Serve mount requests until the plan is complete.
        while (true)
        {
            r = Libc.RawSyscall(Libc.SYS_read, ChildCtl, (long)&op, 1, 0, 0);
            if (r < 0 && *p->Errno == 4) continue;
            if (r != 1) Libc.RawSyscall(Libc.SYS_exit_group, 1, 0, 0, 0, 0);
            if (op == OpGo) break;
            if (op != OpMount) Libc.RawSyscall(Libc.SYS_exit_group, 1, 0, 0, 0, 0);
            r = Libc.RawSyscall(Libc.SYS_mount, (long)p->MSource, (long)p->MTarget, (long)p->MType, (long)p->MFlags, (long)p->MData);
            reply = r < 0 ? *p->Errno : 0;
            Libc.RawSyscall(Libc.SYS_write, ChildCtl, (long)&reply, 4, 0, 0);
        }
        Libc.RawSyscall(Libc.SYS_close, ChildCtl, 0, 0, 0, 0);

        if (p->SlavePath != null)
        {
            long tty = Libc.RawSyscall(Libc.SYS_open, (long)p->SlavePath, Libc.O_RDWR | Libc.O_NOCTTY, 0, 0, 0);
            if (tty < 0) { site = Site.ConsoleOpen; goto fail; }
            if (Libc.RawSyscall(Libc.SYS_setsid, 0, 0, 0, 0, 0) < 0) { site = Site.Setsid; goto fail; }
            if (Libc.RawSyscall(Libc.SYS_ioctl, tty, (long)Libc.TIOCSCTTY, 0, 0, 0) < 0) { site = Site.ControllingTty; goto fail; }
            for (int fd = 0; fd < 3; fd++)
                if (Libc.RawSyscall(Libc.SYS_dup3, tty, fd, 0, 0, 0) < 0) { site = Site.ConsoleDup; goto fail; }
            if (tty > 2) Libc.RawSyscall(Libc.SYS_close, tty, 0, 0, 0, 0);
        }
        // Without a terminal too, as runc: the process leads a session of its own (ps shows "Ss").
        else if (Libc.RawSyscall(Libc.SYS_setsid, 0, 0, 0, 0, 0) < 0) { site = Site.Setsid; goto fail; }

        for (int i = 0; i < p->NRlimits; i++)
            if (Libc.RawSyscall(Libc.SYS_prlimit64, 0, p->Rlimits[i * 3], (long)(p->Rlimits + i * 3 + 1), 0, 0) < 0)
            {
                site = Site.Rlimit;
                index = i;
                goto fail;
            }
        if (p->OomPath != null)
        {
            long fd = Libc.RawSyscall(Libc.SYS_open, (long)p->OomPath, Libc.O_WRONLY | Libc.O_CLOEXEC, 0, 0, 0);
            if (fd < 0 || Libc.RawSyscall(Libc.SYS_write, fd, (long)p->OomValue, p->OomLen, 0, 0) != p->OomLen) { site = Site.OomScoreAdj; goto fail; }
            Libc.RawSyscall(Libc.SYS_close, fd, 0, 0, 0, 0);
        }
        if (p->SeccompEarly != 0 &&
            Libc.RawSyscall(Libc.SYS_prctl, Libc.PR_SET_SECCOMP, Libc.SECCOMP_MODE_FILTER, (long)&p->Filter, 0, 0) < 0) { site = Site.Seccomp; goto fail; }

        // Bounding set first (dropping needs CAP_SETPCAP), then ids with KEEPCAPS, capset and the ambient set.
        if (p->HasCaps != 0)
            for (int cap = 0; cap <= p->LastCap; cap++)
                if ((p->Bounding & (1UL << cap)) == 0 && Libc.RawSyscall(Libc.SYS_prctl, Libc.PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && *p->Errno != 22)
                {
                    site = Site.CapBoundingDrop;
                    index = cap;
                    goto fail;
                }
        if (Libc.RawSyscall(Libc.SYS_prctl, Libc.PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) { site = Site.KeepCaps; goto fail; }
        if (Libc.RawSyscall(Libc.SYS_setgroups, p->NGroups, (long)p->Groups, 0, 0, 0) < 0) { site = Site.Setgroups; goto fail; }
        if (Libc.RawSyscall(Libc.SYS_setresgid, p->Gid, p->Gid, p->Gid, 0, 0) < 0) { site = Site.Setresgid; goto fail; }
        if (Libc.RawSyscall(Libc.SYS_setresuid, p->Uid, p->Uid, p->Uid, 0, 0) < 0) { site = Site.Setresuid; goto fail; }
        if (Libc.RawSyscall(Libc.SYS_prctl, Libc.PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) { site = Site.KeepCaps; goto fail; }
        if (p->HasCaps != 0)
        {
            if (Libc.RawSyscall(Libc.SYS_capset, (long)p->CapHeader, (long)p->CapData, 0, 0, 0) < 0) { site = Site.Capset; goto fail; }
            Libc.RawSyscall(Libc.SYS_prctl, Libc.PR_CAP_AMBIENT, Libc.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
            for (int cap = 0; cap < 64; cap++)
                if ((p->Ambient & (1UL << cap)) != 0 &&
                    Libc.RawSyscall(Libc.SYS_prctl, Libc.PR_CAP_AMBIENT, Libc.PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
                {
                    site = Site.AmbientRaise;
                    index = cap;
                    goto fail;
                }
        }
        if (p->NoNewPrivs != 0 && Libc.RawSyscall(Libc.SYS_prctl, Libc.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) { site = Site.NoNewPrivs; goto fail; }
        if (Libc.RawSyscall(Libc.SYS_chdir, (long)p->Cwd, 0, 0, 0, 0) < 0) { site = Site.Chdir; goto fail; }

        // LookPath as the final user: a regular file (symlinks followed) that access(X_OK) accepts.
        byte* exe = null;
        for (int i = 0; i < p->NCandidates; i++)
        {
            byte* c = p->Candidates[i];
            if (Libc.RawSyscall(Libc.SYS_stat, (long)c, (long)stat, 0, 0, 0) < 0)
            {
                if (p->DirectPath != 0) { site = Site.LookupStat; goto fail; }
                continue;
            }
            if ((*(uint*)(stat + 24) & 0xF000) == 0x4000)
            {
                if (p->DirectPath != 0) { site = Site.LookupDir; goto fail; }
                continue;
            }
            if (Libc.RawSyscall(Libc.SYS_access, (long)c, Libc.X_OK, 0, 0, 0) < 0)
            {
                if (p->DirectPath != 0) { site = Site.LookupPermission; goto fail; }
                continue;
            }
            exe = c;
            break;
        }
        if (exe == null) { site = Site.LookupNotFound; goto fail; }
        Libc.RawSyscall(Libc.SYS_umask, p->Umask, 0, 0, 0, 0);

        if (p->FifoReopen != null)
        {
            frame[0] = SyncChannel.Ready;
            frame[1] = frame[2] = frame[3] = frame[4] = 0;
            Libc.RawSyscall(Libc.SYS_write, ChildSync, (long)frame, 5, 0, 0);
            // Blocks until Start opens the fifo for reading: `create` and `start` may be different processes.
            long w;
            while ((w = Libc.RawSyscall(Libc.SYS_open, (long)p->FifoReopen, Libc.O_WRONLY | Libc.O_CLOEXEC, 0, 0, 0)) < 0 && *p->Errno == 4) { }
            if (w < 0) { site = Site.ExecFifo; goto fail; }
            frame[0] = (byte)'0';
            Libc.RawSyscall(Libc.SYS_write, w, (long)frame, 1, 0, 0);
            Libc.RawSyscall(Libc.SYS_close, w, 0, 0, 0, 0);
            Libc.RawSyscall(Libc.SYS_close, ChildFifo, 0, 0, 0, 0);
        }
        // With no_new_privs the filter goes last, so the fewest of these syscalls run under it.
        if (p->SeccompLate != 0 &&
            Libc.RawSyscall(Libc.SYS_prctl, Libc.PR_SET_SECCOMP, Libc.SECCOMP_MODE_FILTER, (long)&p->Filter, 0, 0) < 0) { site = Site.Seccomp; goto fail; }
        Libc.RawSyscall(Libc.SYS_close_range, ChildSync, uint.MaxValue, Libc.CLOSE_RANGE_CLOEXEC, 0, 0);
        Libc.RawSyscall(Libc.SYS_execve, (long)exe, (long)p->Argv, (long)p->Envp, 0, 0);
        site = Site.Execve;

    fail:
        int errno = *p->Errno;
        frame[0] = SyncChannel.RawError;
        frame[1] = 12; frame[2] = frame[3] = frame[4] = 0;
        *(int*)(frame + 5) = (int)site;
        *(int*)(frame + 9) = errno;
        *(int*)(frame + 13) = index;
        Libc.RawSyscall(Libc.SYS_write, ChildSync, (long)frame, 17, 0, 0);
        int code = site switch
        {
            Site.Execve => errno == 13 ? 126 : errno == 2 ? 127 : 1,
            Site.LookupPermission => 126,
            Site.LookupStat or Site.LookupDir or Site.LookupNotFound => 127,
            _ => 1,
        };
        Libc.RawSyscall(Libc.SYS_exit_group, code, 0, 0, 0, 0);
    }
}
