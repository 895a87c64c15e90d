namespace Skiff.Runtime.Spec;

/// <summary>
/// Docker's default container spec (what <c>docker run IMAGE CMD</c> produces before image and host
/// config are applied): mounts, namespaces, capabilities, masked and read-only paths, device rules and
/// the default seccomp profile. Callers adjust the returned object.
/// </summary>
public static class DockerDefaults
{
    public const string DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    public static readonly IReadOnlyList<string> MaskedPaths =
    [
        "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
        "/sys/devices/virtual/powercap",
    ];

    public static readonly IReadOnlyList<string> ReadonlyPaths =
        ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

    /// <summary>
    /// Builds the default spec. <paramref name="privateCgroupNamespace"/> adds a cgroup namespace (Docker's
    /// default on cgroup v2 hosts; v1 hosts default to the host's).
    /// </summary>
    public static OciSpec CreateSpec(IEnumerable<string> args, string rootPath = "rootfs", string hostname = "skiff",
        bool privateCgroupNamespace = false)
    {
        var caps = Capabilities.DockerDefault.ToList();
        var spec = new OciSpec
        {
            Process = new OciProcess
            {
                Args = args.ToList(),
                Env = [DefaultPath, "HOSTNAME=" + hostname],
                Cwd = "/",
                Capabilities = new OciCapabilities { Bounding = [.. caps], Effective = [.. caps], Permitted = [.. caps] },
            },
            Root = new OciRoot { Path = rootPath },
            Hostname = hostname,
            Mounts =
            [
                new() { Destination = "/proc", Type = "proc", Source = "proc", Options = ["nosuid", "noexec", "nodev"] },
                new() { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "strictatime", "mode=755", "size=65536k"] },
                new() { Destination = "/dev/pts", Type = "devpts", Source = "devpts", Options = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
                new() { Destination = "/sys", Type = "sysfs", Source = "sysfs", Options = ["nosuid", "noexec", "nodev", "ro"] },
                new() { Destination = "/sys/fs/cgroup", Type = "cgroup", Source = "cgroup", Options = ["ro", "nosuid", "noexec", "nodev"] },
                new() { Destination = "/dev/mqueue", Type = "mqueue", Source = "mqueue", Options = ["nosuid", "noexec", "nodev"] },
                new() { Destination = "/dev/shm", Type = "tmpfs", Source = "shm", Options = ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            ],
            Linux = new OciLinux
            {
                Namespaces =
                [
                    new() { Type = "mount" }, new() { Type = "network" }, new() { Type = "uts" },
                    new() { Type = "pid" }, new() { Type = "ipc" },
                ],
                MaskedPaths = [.. MaskedPaths],
                ReadonlyPaths = [.. ReadonlyPaths],
                Devices = DefaultDevices(),
                Resources = new OciResources { Devices = DefaultDeviceRules() },
                Seccomp = DefaultSeccomp.Profile(caps),
            },
        };
        if (privateCgroupNamespace) spec.Linux.Namespaces.Add(new OciNamespace { Type = "cgroup" });
        return spec;
    }

    /// <summary>The device nodes every container gets (runc's default set, with mode 0666).</summary>
    public static List<OciDevice> DefaultDevices() =>
    [
        new() { Path = "/dev/null", Type = "c", Major = 1, Minor = 3, FileMode = 0x1B6, Uid = 0, Gid = 0 },
        new() { Path = "/dev/zero", Type = "c", Major = 1, Minor = 5, FileMode = 0x1B6, Uid = 0, Gid = 0 },
        new() { Path = "/dev/full", Type = "c", Major = 1, Minor = 7, FileMode = 0x1B6, Uid = 0, Gid = 0 },
        new() { Path = "/dev/random", Type = "c", Major = 1, Minor = 8, FileMode = 0x1B6, Uid = 0, Gid = 0 },
        new() { Path = "/dev/urandom", Type = "c", Major = 1, Minor = 9, FileMode = 0x1B6, Uid = 0, Gid = 0 },
        new() { Path = "/dev/tty", Type = "c", Major = 5, Minor = 0, FileMode = 0x1B6, Uid = 0, Gid = 0 },
    ];

    /// <summary>Docker's device cgroup rules: deny everything, then allow the default nodes, ptys and mknod.</summary>
    public static List<OciDeviceRule> DefaultDeviceRules() =>
    [
        new() { Allow = false, Access = "rwm" },
        new() { Allow = true, Type = "c", Access = "m" },
        new() { Allow = true, Type = "b", Access = "m" },
        new() { Allow = true, Type = "c", Major = 1, Minor = 3, Access = "rwm" },
        new() { Allow = true, Type = "c", Major = 1, Minor = 5, Access = "rwm" },
        new() { Allow = true, Type = "c", Major = 1, Minor = 7, Access = "rwm" },
        new() { Allow = true, Type = "c", Major = 1, Minor = 8, Access = "rwm" },
        new() { Allow = true, Type = "c", Major = 1, Minor = 9, Access = "rwm" },
        new() { Allow = true, Type = "c", Major = 5, Minor = 0, Access = "rwm" },
        new() { Allow = true, Type = "c", Major = 5, Minor = 1, Access = "rwm" },
        new() { Allow = true, Type = "c", Major = 5, Minor = 2, Access = "rwm" },
        new() { Allow = true, Type = "c", Major = 136, Access = "rwm" },
        new() { Allow = true, Type = "c", Major = 10, Minor = 200, Access = "rwm" },
    ];
}
