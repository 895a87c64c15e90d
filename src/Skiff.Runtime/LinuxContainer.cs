using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using Skiff.Cgroups;
using Skiff.Linux;
using Skiff.Runtime.Init;
using Skiff.Runtime.Spec;

namespace Skiff.Runtime;

/// <summary>
/// One OCI container on this host, driven in-process (the shim and the CLI both use this class).
/// <para>Lifecycle: <see cref="Create"/> starts the init as a direct child of the calling process (so the
/// caller reaps it with waitpid) in the spec's namespaces and cgroup, runs the whole init sequence and
/// returns while the init is blocked just before execve; <see cref="Start"/> releases it. Another process
/// can <see cref="Load"/> the container from its state directory and call everything except waiting.</para>
/// <para>Errors from the init arrive as <see cref="ContainerException"/> with the init's text, e.g.
/// <c>exec: "foo": executable file not found in $PATH</c> (engines map it to 127) or
/// <c>exec: "/etc": permission denied</c> / <c>is a directory</c> (126).</para>
/// </summary>
public sealed class LinuxContainer : IDisposable
{
    private const string StateFile = "state.json", SpecFile = "config.json", FifoFile = "exec.fifo";

    private readonly ContainerState _state;
    private readonly ICgroup _cgroup;
    private int _syncFd = -1;
    /// <summary>The spec's seccomp filter, compiled at the first exec and reused by the next ones.</summary>
    private byte[]? _execSeccomp;
    /// <summary>Formats <see cref="SyncChannel.RawError"/> payloads of an init made by <see cref="CloneInit"/>.</summary>
    private Func<byte[], string>? _describeRawError;

    private LinuxContainer(ContainerState state, OciSpec spec, string stateDir, ICgroup cgroup)
    {
        _state = state;
        Spec = spec;
        StateDir = stateDir;
        _cgroup = cgroup;
    }

    public string Id => _state.Id;
    /// <summary>Host pid of the container's init (PID 1 inside when the spec has a pid namespace).</summary>
    public int Pid => _state.Pid;
    public string Bundle => _state.Bundle;
    public DateTime Created => _state.Created;
    public OciSpec Spec { get; }
    public string StateDir { get; }
    public ICgroup Cgroup => _cgroup;
    public ContainerState State => _state;

    /// <summary>In terminal mode, the pty master created inside the container's devpts; the caller owns it.</summary>
    public SafeFileHandle? ConsoleMaster { get; private set; }

    /// <summary>
    /// Creates the container and returns once its init is blocked before execve. Steps: state directory
    /// with the exec fifo; cgroup created and limited; init spawned into the namespaces; pid written to the
    /// cgroups; then the init gets its config and runs the mount/identity/hardening sequence.
    /// </summary>
    public static LinuxContainer Create(CreateOptions options)
    {
        ValidateId(options.Id);
        byte[]? specJson = options.SpecJson;
        OciSpec spec = options.Spec ?? OciSpec.Load(options.BundlePath, out specJson);
        if (spec.Process is null) throw new ContainerException("config.json has no process");
        if (options.Terminal is { } t && t != spec.Process.Terminal)
        {
            spec.Process.Terminal = t;
            specJson = null;
        }
        string bundle = Path.GetFullPath(options.BundlePath);
        string stateDir = Path.Combine(options.StateRoot, options.Id);
        Directory.CreateDirectory(options.StateRoot);
        try { Directory.CreateDirectory(stateDir); } catch (IOException) { }
        if (File.Exists(Path.Combine(stateDir, StateFile)))
            throw new ContainerException($"container with id {options.Id} already exists");

        string cgroupPath = string.IsNullOrEmpty(spec.Linux?.CgroupsPath) ? "/skiff/" + options.Id : spec.Linux.CgroupsPath;
        if (cgroupPath.Contains(':')) cgroupPath = "/" + cgroupPath.Replace(':', '/').Trim('/');
        CgroupHierarchy hierarchy = options.Cgroups ?? CgroupHierarchy.Detect();
        ICgroup cgroup = hierarchy.Open(cgroupPath);
        var state = new ContainerState
        {
            Id = options.Id, Bundle = bundle, Created = DateTime.UtcNow, CgroupPath = cgroupPath,
            Rootfs = Path.GetFullPath(spec.Root?.Path ?? "rootfs", bundle), Annotations = spec.Annotations,
        };
        var container = new LinuxContainer(state, spec, stateDir, cgroup);
        int pid = -1;
        int devNull = -1;
        try
        {
            string fifo = Path.Combine(stateDir, FifoFile);
            Libc.unlink(fifo);
            LinuxException.ThrowIfError(Libc.mkfifo(fifo, 0x180), "mkfifo", fifo);
            LinuxException.ThrowIfError(Libc.chmod(fifo, 0x192), "chmod", fifo);

            Trace.Mark("create: state dir");
            cgroup.Create();
            cgroup.Apply(ToCgroupResources(spec.Linux?.Resources, spec.Linux?.Devices));

            Trace.Mark("create: cgroup ready");
            int unshare = 0;
            var joins = new List<(string, int)>();
            UserNamespace? userns = null;
            foreach (OciNamespace ns in spec.Linux?.Namespaces ?? [])
            {
                int flag = Spawner.NamespaceFlag(ns.Type);
                if (flag == Libc.CLONE_NEWUSER)
                {
                    if (!string.IsNullOrEmpty(ns.Path))
                    {
                        userns = new UserNamespace("", "", ns.Path);
                        continue;
                    }
                    if (spec.Linux!.UidMappings is not { Count: > 0 } uids || spec.Linux.GidMappings is not { Count: > 0 } gids)
                        throw new ContainerException("user namespaces enabled, but no user mapping found");
                    userns = new UserNamespace(UserNamespace.FormatMap(uids), UserNamespace.FormatMap(gids));
                }
                else if (!string.IsNullOrEmpty(ns.Path)) joins.Add((ns.Path, flag));
                // A new cgroup namespace is made by the init itself, after it sits in its cgroups.
                else if (flag != Libc.CLONE_NEWCGROUP) unshare |= flag;
            }

            int[] stdio;
            if (spec.Process.Terminal)
            {
                devNull = LinuxException.ThrowIfError(Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0), "open", "/dev/null");
                stdio = [devNull, devNull, devNull];
            }
            else stdio = options.Stdio is { } s ? [s.In, s.Out, s.Err] : [0, 1, 2];

            var (parentEnd, childEnd) = SocketPair();
            container._syncFd = parentEnd;
            bool placed = false;
            bool reaper = spec.Annotations?.GetValueOrDefault(Annotations.Init) == "true";
            InitConfig MakeConfig() => new()
            {
                Mode = "create", Spec = spec, SeccompFilter = CompileSeccomp(spec), BundlePath = bundle, FifoPath = fifo,
                CgroupDirs = cgroup.Directories.ToDictionary(), CgroupV2 = cgroup.IsV2,
                User = spec.Annotations?.GetValueOrDefault(Annotations.User),
            };
            InitConfig? config = null;
            CloneInit? inProcess = null;
            if (CloneInit.Supports(userns is not null, reaper, unshare))
            {
                config = MakeConfig();
                inProcess = new CloneInit(config, stdio, childEnd);
            }
            int rootfsMount = -1;
            try
            {
                // Overlayfs mounted from inside a user namespace would ignore the layers' trusted.overlay.* xattrs (opaque
                // directories) and check layer access as the mapped root: the host's root makes it here, detached, and the
                // init attaches it (Rootfs.Prepare).
                if (userns is not null && spec.Annotations?.GetValueOrDefault(Annotations.RootfsOverlay) is { Length: > 0 } overlay)
                    rootfsMount = Libc.MountDetached("overlay", Rootfs.ParseOverlayOptions(overlay));
                Trace.Mark("create: socketpair");
                string initPath = options.InitPath ?? Environment.ProcessPath!;
                List<string> argv = reaper ? [Reaper.Argv0, "--", .. spec.Process.Args] : [initPath, "init"];
                pid = Spawner.Spawn(initPath, argv, stdio, childEnd, unshare, joins, EnterCgroupFast(cgroup, spec), out placed,
                    blockReaperSignals: reaper, userNamespace: userns, inProcessInit: inProcess is null ? null : inProcess.Run,
                    rootfsMountFd: rootfsMount);
            }
            finally
            {
                Libc.close(childEnd);
                if (rootfsMount >= 0) Libc.close(rootfsMount);
            }
            state.Pid = pid;
            state.PidStartTime = ProcStat.StartTime(pid) ?? 0;

            Trace.Mark("create: spawned");
            if (inProcess is { Used: true })
            {
                container.ConsoleMaster = inProcess.ConsoleMaster;
                container._describeRawError = inProcess.Describe;
                container.SaveState(specJson);
                Trace.Mark("create: state saved");
            }
            else
            {
                if (!placed) cgroup.AddProcess(pid);
                Trace.Mark("create: pid in cgroups");
                // Compiled here, after the spawn, while the init is still starting up.
                config ??= MakeConfig();
                byte[] encoded = InitConfigCodec.Encode(config);
                Trace.Mark("create: config serialized");
                SyncChannel.Send(parentEnd, SyncChannel.Config, encoded);
                // Written while the init sets itself up, off the critical path; removed again if the init fails.
                container.SaveState(specJson);
                Trace.Mark("create: state saved");
            }
            container.ReceiveUntilReady(pid);
            Trace.Mark("create: init ready");
            return container;
        }
        catch
        {
            if (pid > 0) { Libc.kill(pid, Libc.SIGKILL); Reap(pid); }
            container.ConsoleMaster?.Dispose();
            container.Dispose();
            try { cgroup.Destroy(); } catch (IOException) { }
            try { Directory.Delete(stateDir, true); } catch (IOException) { }
            throw;
        }
        finally
        {
            if (devNull >= 0) Libc.close(devNull);
        }
    }

    private void ReceiveUntilReady(int pid)
    {
        while (true)
        {
            var msg = SyncChannel.Receive(_syncFd, out int fd);
            if (fd >= 0) ConsoleMaster = new SafeFileHandle(fd, ownsHandle: true);
            if (msg is null)
                throw new ContainerException($"container init exited before it was ready ({DescribeExit(pid)})");
            switch (msg.Value.Type)
            {
                case SyncChannel.Ready: return;
                case SyncChannel.Error: throw new ContainerException(Encoding.UTF8.GetString(msg.Value.Payload));
                case SyncChannel.RawError: throw new ContainerException(DescribeRawError(msg.Value.Payload));
                case SyncChannel.Console: break;
                default: throw new InvalidDataException($"unexpected sync message {(char)msg.Value.Type}");
            }
        }
    }

    /// <summary>
    /// Loads a container created by this or another process. The returned object cannot see init errors
    /// after execve (only the creating process holds the sync socket), everything else works.
    /// </summary>
    public static LinuxContainer Load(string stateRoot, string id, CgroupHierarchy? cgroups = null)
    {
        ValidateId(id);
        string stateDir = Path.Combine(stateRoot, id);
        byte[] json;
        try { json = File.ReadAllBytes(Path.Combine(stateDir, StateFile)); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ContainerNotFoundException(id);
        }
        ContainerState state = JsonSerializer.Deserialize(json, RuntimeJsonContext.Default.ContainerState)
            ?? throw new InvalidDataException("empty state");
        OciSpec spec = OciSpec.Parse(File.ReadAllBytes(Path.Combine(stateDir, SpecFile)));
        return new LinuxContainer(state, spec, stateDir, (cgroups ?? CgroupHierarchy.Detect()).Open(state.CgroupPath));
    }

    /// <summary>Ids of the containers under <paramref name="stateRoot"/>.</summary>
    public static IReadOnlyList<string> List(string stateRoot) =>
        Directory.Exists(stateRoot)
            ? Directory.GetDirectories(stateRoot).Where(d => File.Exists(Path.Combine(d, StateFile))).Select(Path.GetFileName).OfType<string>().Order().ToList()
            : [];

    private void SaveState(byte[]? specJson)
    {
        File.WriteAllBytes(Path.Combine(StateDir, SpecFile), specJson ?? Spec.ToJson());
        string tmp = Path.Combine(StateDir, StateFile + ".tmp");
        File.WriteAllBytes(tmp, _state.ToJson());
        File.Move(tmp, Path.Combine(StateDir, StateFile), overwrite: true);
    }

    /// <summary>
    /// Releases the init to execve. Returns once execve succeeded; throws with the init's text when it failed
    /// (only detectable by the process that called <see cref="Create"/>, which holds the sync socket).
    /// </summary>
    public unsafe void Start()
    {
        string fifo = Path.Combine(StateDir, FifoFile);
        if (!File.Exists(fifo)) throw new ContainerException("cannot start a container that has already been started");
        // Non-blocking open plus poll: a blocking open would hang forever if the init had died.
        int fd = LinuxException.ThrowIfError(Libc.open(fifo, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0), "open", fifo);
        try
        {
            byte* b = stackalloc byte[1];
            while (true)
            {
                var pfd = new Libc.PollFd { Fd = fd, Events = Libc.POLLIN };
                int r = Libc.poll(&pfd, 1, 100);
                if (r > 0)
                {
                    nint n = Libc.read(fd, b, 1);
                    if (n == 1) break;
                }
                if (Status() == ContainerStatus.Stopped)
                    throw new ContainerException("container init exited before start" + ErrorFromSync());
            }
        }
        finally { Libc.close(fd); }
        File.Delete(fifo);
        string error = ErrorFromSync();
        if (error.Length > 0) throw new ContainerException(error.TrimStart(':', ' '));
    }

    /// <summary>Drains the sync socket until the init's execve closes it; returns an error text or "".</summary>
    private string ErrorFromSync()
    {
        if (_syncFd < 0) return "";
        try
        {
            while (SyncChannel.Receive(_syncFd, out int fd) is { } msg)
            {
                if (fd >= 0) Libc.close(fd);
                if (msg.Type == SyncChannel.Error) return ": " + Encoding.UTF8.GetString(msg.Payload);
                if (msg.Type == SyncChannel.RawError) return ": " + DescribeRawError(msg.Payload);
            }
            return "";
        }
        finally
        {
            Libc.close(_syncFd);
            _syncFd = -1;
        }
    }

    private string DescribeRawError(byte[] payload) => _describeRawError?.Invoke(payload) ?? "container init failed";

    /// <summary>The OCI status, from the init's liveness, the exec fifo and the freezer.</summary>
    public ContainerStatus Status()
    {
        if (Pid <= 0) return ContainerStatus.Stopped;
        ulong? start = ProcStat.StartTime(Pid);
        if (start is null || start != _state.PidStartTime || ProcStat.IsZombie(Pid)) return ContainerStatus.Stopped;
        if (File.Exists(Path.Combine(StateDir, FifoFile))) return ContainerStatus.Created;
        try { if (_cgroup.IsFrozen) return ContainerStatus.Paused; } catch (IOException) { }
        return ContainerStatus.Running;
    }

    /// <summary>Sends <paramref name="signal"/> to the init, or with <paramref name="all"/> to every process in the cgroup.</summary>
    public void Kill(int signal, bool all = false)
    {
        if (all)
        {
            foreach (int p in _cgroup.Pids()) Libc.kill(p, signal);
            return;
        }
        if (Status() == ContainerStatus.Stopped) throw new ContainerException("container not running");
        LinuxException.ThrowIfError(Libc.kill(Pid, signal), "kill", Pid.ToString());
    }

    /// <summary>Freezes every process of the container (cgroup freezer).</summary>
    public void Pause()
    {
        if (Status() != ContainerStatus.Running) throw new ContainerException("container not running");
        _cgroup.Freeze();
    }

    public void Resume()
    {
        if (Status() != ContainerStatus.Paused) throw new ContainerException("container not paused");
        _cgroup.Thaw();
    }

    /// <summary>
    /// Changes the limits of a created, running or paused container (<c>docker update</c>); values left null
    /// stay as they are. The spec kept in the state directory is not rewritten.
    /// </summary>
    public void Update(OciResources resources)
    {
        if (Status() == ContainerStatus.Stopped) throw new ContainerException("container not running");
        try { _cgroup.Apply(ToCgroupResources(resources) with { Devices = null }); }
        catch (IOException e) { throw new ContainerException($"update cgroup: {e.Message}", e); }
    }

    public ContainerStats Stats() => new(_cgroup.Stats(), OomKilled);

    /// <summary>True once the kernel OOM killer killed a process of this container (v1 memory.oom_control, v2 memory.events).</summary>
    public bool OomKilled
    {
        get { try { return _cgroup.OomKillCount() > 0; } catch (IOException) { return false; } }
    }

    /// <summary>Host pids of all processes in the container's cgroup.</summary>
    public IReadOnlyList<int> Pids() => _cgroup.Pids();

    /// <summary>
    /// Removes the cgroup and the state directory. A container that still runs is refused unless
    /// <paramref name="force"/>, which SIGKILLs every process in its cgroup first. Does not reap the init:
    /// its parent (the shim) does that.
    /// </summary>
    public void Delete(bool force = false)
    {
        ContainerStatus status = Status();
        if (status != ContainerStatus.Stopped && status != ContainerStatus.Created && !force)
            throw new ContainerException($"cannot delete container {Id} that is not stopped: {status.ToString().ToLowerInvariant()}");
        if (status != ContainerStatus.Stopped) Libc.kill(Pid, Libc.SIGKILL);
        KillCgroupProcesses();
        Trace.Mark("delete: processes gone");
        try { _cgroup.Destroy(); } catch (IOException) { }
        Trace.Mark("delete: cgroup removed");
        Dispose();
        RemoveStateDir();
    }

    /// <summary>Unlinks the files the runtime writes, then the directory (no recursive enumeration on the hot path).</summary>
    private void RemoveStateDir()
    {
        foreach (string f in new[] { FifoFile, StateFile, SpecFile, StateFile + ".tmp" }) Libc.unlink(Path.Combine(StateDir, f));
        if (Libc.rmdir(StateDir) < 0 && Marshal.GetLastPInvokeError() == 39)
            Directory.Delete(StateDir, recursive: true);
    }

    /// <summary>
    /// SIGKILLs everything in the cgroup. Frozen first, so a process cannot fork between the listing and
    /// the kill (a fork bomb outside a pid namespace would otherwise outrun it); SIGKILL is delivered on thaw.
    /// </summary>
    private void KillCgroupProcesses()
    {
        try { if (_cgroup.Pids().Count == 0) return; } catch (IOException) { return; }
        bool frozen = false;
        try { _cgroup.Freeze(); frozen = true; }
        catch (Exception e) when (e is IOException or InvalidOperationException or TimeoutException) { }
        for (int round = 0; round < 400; round++)
        {
            IReadOnlyList<int> pids;
            try { pids = _cgroup.Pids(); } catch (IOException) { return; }
            if (pids.Count == 0) break;
            // Never this process (a thread of it may pass through the cgroups while it spawns an init).
            foreach (int p in pids) if (p != Environment.ProcessId) Libc.kill(p, Libc.SIGKILL);
            if (frozen)
            {
                try { _cgroup.Thaw(); } catch (Exception e) when (e is IOException or InvalidOperationException or TimeoutException) { }
                frozen = false;
            }
            Thread.Sleep(5);
        }
        if (frozen) try { _cgroup.Thaw(); } catch (Exception e) when (e is IOException or InvalidOperationException or TimeoutException) { }
    }

    /// <summary>
    /// Starts another process in the running container: a child of the caller (reap it with waitpid),
    /// in the container's namespaces and cgroup, with the container's capabilities, no_new_privs, rlimits
    /// and seccomp profile unless overridden. Returns once the process exec'd; exec errors throw like Create.
    /// </summary>
    public ExecProcess Exec(ExecOptions options)
    {
        ContainerStatus status = Status();
        if (status is not (ContainerStatus.Running or ContainerStatus.Created))
            throw new ContainerException($"cannot exec in a {status.ToString().ToLowerInvariant()} container");
        OciProcess basis = Spec.Process ?? new OciProcess();
        var caps = options.Capabilities is { } c
            ? new OciCapabilities { Bounding = [.. c], Effective = [.. c], Permitted = [.. c] }
            : basis.Capabilities;
        var process = new OciProcess
        {
            Args = [.. options.Args],
            Env = options.Env is { } e ? [.. e] : basis.Env,
            Cwd = options.Cwd ?? basis.Cwd,
            Terminal = options.Terminal,
            ConsoleSize = options.ConsoleSize,
            // An explicit user brings its own groups from the container's /etc/group, not the init's extra gids.
            User = options.User is null ? basis.User : new OciUser { Uid = basis.User.Uid, Gid = basis.User.Gid, Umask = basis.User.Umask },
            Capabilities = caps,
            Rlimits = basis.Rlimits,
            NoNewPrivileges = options.NoNewPrivileges ?? basis.NoNewPrivileges,
        };
        var execSpec = new OciSpec
        {
            Process = process,
            Linux = new OciLinux { Namespaces = Spec.Linux?.Namespaces },
            Annotations = Spec.Annotations?.GetValueOrDefault(Annotations.GroupAdd) is { } groupAdd
                ? new Dictionary<string, string> { [Annotations.GroupAdd] = groupAdd }
                : null,
        };
        var config = new InitConfig
        {
            Mode = "exec", Spec = execSpec, SeccompFilter = _execSeccomp ??= CompileSeccomp(Spec), BundlePath = Bundle, NamespacePid = Pid,
            User = options.User ?? Spec.Annotations?.GetValueOrDefault(Annotations.User),
        };

        var joins = new List<(string, int)>();
        foreach (OciNamespace ns in Spec.Linux?.Namespaces ?? [])
        {
            int flag = Spawner.NamespaceFlag(ns.Type);
            if (flag is Libc.CLONE_NEWNS or Libc.CLONE_NEWCGROUP or Libc.CLONE_NEWUSER) continue;
            joins.Add(($"/proc/{Pid}/ns/{Spawner.NamespaceName(flag)}", flag));
        }
        // Joined by the child itself, after the others (see Spawner.CloneSpawn): a process in the host's
        // user namespace would be real root inside the container.
        UserNamespace? userns = Spec.Linux?.Namespaces?.Any(n => n.Type == "user") == true
            ? new UserNamespace("", "", $"/proc/{Pid}/ns/user") : null;
        int devNull = -1;
        var (parentEnd, childEnd) = SocketPair();
        int pid = -1;
        SafeFileHandle? master = null;
        try
        {
            int[] stdio;
            if (options.Terminal)
            {
                devNull = LinuxException.ThrowIfError(Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0), "open", "/dev/null");
                stdio = [devNull, devNull, devNull];
            }
            else stdio = options.Stdio is { } s ? [s.In, s.Out, s.Err] : [0, 1, 2];
            string initPath = options.InitPath ?? Environment.ProcessPath!;
            bool placed;
            try { pid = Spawner.Spawn(initPath, [initPath, "init"], stdio, childEnd, 0, joins, EnterCgroupFast(_cgroup, Spec), out placed, userNamespace: userns); }
            finally { Libc.close(childEnd); childEnd = -1; }
            if (!placed) _cgroup.AddProcess(pid);
            SyncChannel.Send(parentEnd, SyncChannel.Config, InitConfigCodec.Encode(config));
            while (SyncChannel.Receive(parentEnd, out int fd) is { } msg)
            {
                if (fd >= 0) master = new SafeFileHandle(fd, ownsHandle: true);
                if (msg.Type == SyncChannel.Error)
                {
                    Reap(pid);
                    pid = -1;
                    throw new ContainerException(Encoding.UTF8.GetString(msg.Payload));
                }
            }
            var result = new ExecProcess { Pid = pid, ConsoleMaster = master };
            master = null;
            return result;
        }
        catch
        {
            if (pid > 0) { Libc.kill(pid, Libc.SIGKILL); Reap(pid); }
            master?.Dispose();
            throw;
        }
        finally
        {
            Libc.close(parentEnd);
            if (devNull >= 0) Libc.close(devNull);
        }
    }

    /// <summary>Waits for the init to exit and returns its exit code (128+signal when killed). Only for the creating process.</summary>
    public int WaitForExit() => Reap(Pid);

    /// <summary>waitpid for a child, returning the shell-style exit code, or -1 when it is not our child.</summary>
    public static unsafe int Reap(int pid)
    {
        int status;
        while (true)
        {
            int r = Libc.waitpid(pid, &status, 0);
            if (r == pid) return Libc.ExitCodeFromWaitStatus(status);
            if (Marshal.GetLastPInvokeError() != 4) return -1;
        }
    }

    private static byte[]? CompileSeccomp(OciSpec spec)
    {
        if (spec.Linux?.Seccomp is not { } profile) return null;
        try { return MemoryMarshal.AsBytes(Seccomp.SeccompCompiler.Compile(profile).AsSpan()).ToArray(); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new ContainerException($"seccomp: {e.Message}", e);
        }
    }

    /// <summary>
    /// The spawning thread enters the cgroup itself so the child is born there (see
    /// <see cref="ICgroup.TryAddCurrentThread"/>). Skipped under a pids limit below 3, since the thread and the
    /// child would both count against it for a moment.
    /// </summary>
    private static Func<bool>? EnterCgroupFast(ICgroup cgroup, OciSpec spec) =>
        spec.Linux?.Resources?.Pids is { Limit: > 0 and < 3 } ? null : cgroup.TryAddCurrentThread;

    private static unsafe string DescribeExit(int pid)
    {
        int status;
        if (Libc.waitpid(pid, &status, 0) == pid) return $"exit status {Libc.ExitCodeFromWaitStatus(status)}";
        return "unknown status";
    }

    private static unsafe (int Parent, int Child) SocketPair()
    {
        int* sv = stackalloc int[2];
        LinuxException.ThrowIfError(Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0, sv), "socketpair");
        return (sv[0], sv[1]);
    }

    private static void ValidateId(string id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 1024 || id is "." or ".." ||
            !id.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-' or '.'))
            throw new ArgumentException($"invalid container id: {id}");
    }

    /// <summary>
    /// The cgroup settings of a spec. As runc does, the device rules are followed by allow rules for
    /// the devices the spec creates and for the standard nodes every container has (null, zero,
    /// full, random, urandom, tty, console, ptmx, pts): a bundle whose rules start with "deny all"
    /// (what <c>runc spec</c> writes) must still be able to create and use its own /dev.
    /// </summary>
    internal static CgroupResources ToCgroupResources(OciResources? r, IEnumerable<OciDevice>? devices = null)
    {
        var resources = ToCgroupResources(r);
        if (resources.Devices is null) return resources;
        var rules = new List<DeviceRule>(resources.Devices);
        foreach (var d in devices ?? [])
            if (d.Type is "c" or "b") rules.Add(new DeviceRule(true, d.Type[0], d.Major, d.Minor, "rwm"));
        foreach (var (major, minor) in StandardDevices) rules.Add(new DeviceRule(true, 'c', major, minor, "rwm"));
        return resources with { Devices = rules };
    }

    private static readonly (long Major, long? Minor)[] StandardDevices =
        [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2), (136, null)];

    internal static CgroupResources ToCgroupResources(OciResources? r) => r is null ? new CgroupResources() : new CgroupResources
    {
        MemoryLimit = r.Memory?.Limit,
        MemorySwap = r.Memory?.Swap,
        MemoryReservation = r.Memory?.Reservation,
        MemorySwappiness = r.Memory?.Swappiness,
        DisableOomKiller = r.Memory?.DisableOOMKiller,
        CpuShares = r.Cpu?.Shares,
        CpuQuota = r.Cpu?.Quota,
        CpuPeriod = r.Cpu?.Period,
        Cpus = r.Cpu?.Cpus,
        Mems = r.Cpu?.Mems,
        PidsLimit = r.Pids?.Limit,
        BlkioWeight = r.BlockIO?.Weight,
        Devices = r.Devices?.Select(d => new DeviceRule(d.Allow, string.IsNullOrEmpty(d.Type) ? 'a' : d.Type[0], d.Major, d.Minor,
            string.IsNullOrEmpty(d.Access) ? "rwm" : d.Access)).ToList(),
    };

    public void Dispose()
    {
        if (_syncFd >= 0) { Libc.close(_syncFd); _syncFd = -1; }
    }
}

/// <summary>No state directory for this id.</summary>
public sealed class ContainerNotFoundException(string id) : Exception($"container \"{id}\" does not exist")
{
    public string Id { get; } = id;
}

/// <summary>Annotations the runtime understands.</summary>
public static class Annotations
{
    /// <summary>Overlay options (<c>lowerdir=...,upperdir=...,workdir=...</c>) mounted onto root.path inside the container's mount namespace.</summary>
    public const string RootfsOverlay = Rootfs.OverlayAnnotation;
    /// <summary>Docker's <c>-u</c> value, resolved inside the container after pivot_root; overrides process.user.</summary>
    public const string User = "org.skiff.user";
    /// <summary>"true": the init stays PID 1 as a reaper of the command (<c>docker run --init</c>), see <c>Init/Reaper.cs</c>.</summary>
    public const string Init = "org.skiff.init";
    /// <summary>"true": a missing process.cwd is created (root-owned, 0755) after pivot_root, as Docker creates WORKDIR/-w.</summary>
    public const string CreateCwd = "org.skiff.create-cwd";
    /// <summary>Docker's <c>--group-add</c>: comma-separated group names or ids, resolved against the container's /etc/group.</summary>
    public const string GroupAdd = "org.skiff.group-add";
}

/// <summary>Reads /proc/PID/stat.</summary>
internal static class ProcStat
{
    private static string[]? Fields(int pid)
    {
        string text;
        try { text = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException) { return null; }
        int close = text.LastIndexOf(')');
        return close < 0 ? null : text[(close + 2)..].Split(' ');
    }

    /// <summary>Start time in clock ticks since boot (field 22), or null when the process does not exist.</summary>
    public static ulong? StartTime(int pid) => Fields(pid) is { Length: > 19 } f && ulong.TryParse(f[19], out ulong v) ? v : null;

    public static bool IsZombie(int pid) => Fields(pid) is { Length: > 0 } f && f[0] is "Z" or "X";
}
