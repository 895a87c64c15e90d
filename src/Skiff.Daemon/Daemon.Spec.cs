using System.Globalization;
using Skiff.Runtime;
using Skiff.Runtime.Spec;

namespace Skiff.Daemon;

public sealed partial class Daemon
{
    /// <summary>Cgroup path of a container under every controller (cgroupfs driver, like Docker's /docker/&lt;id&gt;).</summary>
    public static string CgroupPath(string id) => "/skiff/" + id;

    /// <summary>
    /// Writes the container's OCI bundle: Docker's default spec adjusted by the container's config
    /// and host config. The rootfs is an overlay of the image layers and the container's upper dir,
    /// mounted by the runtime inside the container's mount namespace (annotation
    /// <c>org.skiff.rootfs.overlay</c>), so the host's mount table stays clean.
    /// </summary>
    private void WriteBundle(Container c)
    {
        var spec = BuildSpec(c.Record, Path.Combine(c.Bundle, "rootfs"), Images.OverlayOptions(c.Record.ImageId, c.Directory));
        Directory.CreateDirectory(Path.Combine(c.Bundle, "rootfs"));
        spec.Save(c.Bundle);
    }

    /// <summary>The paths a container gets masked (Docker's defaults, none when privileged), as inspect shows them.</summary>
    public static IReadOnlyList<string>? MaskedPaths(HostConfig h) => h.Privileged ? null : DockerDefaults.MaskedPaths;

    /// <summary>The paths a container gets read-only (Docker's defaults, none when privileged), as inspect shows them.</summary>
    public static IReadOnlyList<string>? ReadonlyPaths(HostConfig h) => h.Privileged ? null : DockerDefaults.ReadonlyPaths;

    internal OciSpec BuildSpec(ContainerRecord r, string rootfs, string overlayOptions)
    {
        var cfg = r.Config;
        var host = r.HostConfig;
        var argv = new List<string> { r.Path };
        argv.AddRange(r.Args);
        var spec = DockerDefaults.CreateSpec(argv, rootfs, cfg.Hostname);
        var process = spec.Process!;
        var linux = spec.Linux!;
        spec.Domainname = string.IsNullOrEmpty(cfg.Domainname) ? null : cfg.Domainname;

        process.Env = ProcessEnv(cfg, LinkEnv(r), cfg.Tty);
        process.Cwd = string.IsNullOrEmpty(cfg.WorkingDir) ? "/" : cfg.WorkingDir;
        process.Terminal = cfg.Tty;
        process.OomScoreAdj = host.OomScoreAdj;
        process.NoNewPrivileges = host.SecurityOpt.Any(o => o is "no-new-privileges" or "no-new-privileges:true" or "no-new-privileges=true");

        spec.Annotations = new Dictionary<string, string> { ["org.skiff.rootfs.overlay"] = overlayOptions };
        // Always set, also empty: the runtime then resolves the user and its groups as Docker does (Annotations.User).
        spec.Annotations[Annotations.User] = cfg.User;
        spec.Annotations[Annotations.CreateCwd] = "true";
        if (host.GroupAdd.Count > 0) spec.Annotations[Annotations.GroupAdd] = string.Join(',', host.GroupAdd);
        // docker run --init: the runtime's init stays PID 1 as a reaper (Docker's /sbin/docker-init).
        if (host.Init == true) spec.Annotations[Annotations.Init] = "true";
        spec.Root!.Readonly = host.ReadonlyRootfs;

        var caps = host.Privileged ? Capabilities.All.ToList() : Capabilities.Adjust(Capabilities.DockerDefault, host.CapAdd, host.CapDrop);
        process.Capabilities = new OciCapabilities { Bounding = [.. caps], Effective = [.. caps], Permitted = [.. caps] };
        if (host.Privileged)
        {
            linux.MaskedPaths = [];
            linux.ReadonlyPaths = [];
            linux.Seccomp = null;
            linux.Resources!.Devices = [new OciDeviceRule { Allow = true, Access = "rwm" }];
            foreach (var m in spec.Mounts!.Where(m => m.Type is "sysfs" or "cgroup")) m.Options!.Remove("ro");
        }
        else if (host.SecurityOpt.Any(o => o is "seccomp=unconfined" or "seccomp:unconfined"))
        {
            linux.Seccomp = null;
        }
        else
        {
            linux.Seccomp = DefaultSeccomp.Profile(caps);
        }

        if (!host.Privileged && host.Devices.Count > 0)
        {
            var (nodes, rules) = GatherDevices(host.Devices);
            linux.Devices = [.. linux.Devices ?? [], .. nodes];
            linux.Resources!.Devices = [.. linux.Resources.Devices ?? [], .. rules];
        }

        // /etc files owned by the daemon, as Docker bind-mounts them.
        spec.Mounts!.Add(Bind(r.ResolvConfPath, "/etc/resolv.conf", readOnly: false));
        spec.Mounts.Add(Bind(r.HostnamePath, "/etc/hostname", readOnly: false));
        spec.Mounts.Add(Bind(r.HostsPath, "/etc/hosts", readOnly: false));
        var shm = spec.Mounts.First(m => m.Destination == "/dev/shm");
        if (host.ShmSize > 0) shm.Options = [.. shm.Options!.Where(o => !o.StartsWith("size=", StringComparison.Ordinal)), $"size={host.ShmSize / 1024}k"];
        // A user mount replaces a default one at the same destination (as Docker lets -v replace /dev/shm or /etc/hosts).
        var userMounts = SpecMounts(r).ToList();
        spec.Mounts.RemoveAll(m => userMounts.Any(u => u.Destination == m.Destination));
        spec.Mounts.AddRange(userMounts);
        foreach (var (dest, opts) in host.Tmpfs)
        {
            var options = new List<string> { "nosuid", "nodev", "noexec" };
            if (!string.IsNullOrEmpty(opts)) options.AddRange(opts.Split(',', StringSplitOptions.RemoveEmptyEntries));
            spec.Mounts.Add(new OciMount { Destination = dest, Type = "tmpfs", Source = "tmpfs", Options = options });
        }

        linux.CgroupsPath = CgroupPath(r.Id);
        var res = linux.Resources!;
        if (host.Memory > 0 || host.MemoryReservation > 0 || host.MemorySwap != 0)
        {
            res.Memory = new OciMemory
            {
                Limit = host.Memory > 0 ? host.Memory : null,
                Reservation = host.MemoryReservation > 0 ? host.MemoryReservation : null,
                // Docker: with a memory limit and no swap setting, swap defaults to the same amount again.
                Swap = host.MemorySwap != 0 ? host.MemorySwap : host.Memory > 0 ? host.Memory * 2 : null,
            };
        }
        if (host.NanoCpus > 0 || host.CpuShares > 0 || host.CpuQuota > 0 || host.CpuPeriod > 0 || host.CpusetCpus.Length > 0 || host.CpusetMems.Length > 0)
        {
            var cpu = new OciCpu
            {
                Shares = host.CpuShares > 0 ? (ulong)host.CpuShares : null,
                Cpus = host.CpusetCpus.Length > 0 ? host.CpusetCpus : null,
                Mems = host.CpusetMems.Length > 0 ? host.CpusetMems : null,
            };
            if (host.NanoCpus > 0)
            {
                cpu.Period = 100_000;
                cpu.Quota = host.NanoCpus * 100_000 / 1_000_000_000;
            }
            else
            {
                if (host.CpuPeriod > 0) cpu.Period = (ulong)host.CpuPeriod;
                if (host.CpuQuota > 0) cpu.Quota = host.CpuQuota;
            }
            res.Cpu = cpu;
        }
        if (host.PidsLimit is > 0) res.Pids = new OciPids { Limit = host.PidsLimit.Value };
        if (host.BlkioWeight > 0) res.BlockIO = new OciBlockIo { Weight = host.BlkioWeight };

        if (host.Sysctls.Count > 0) linux.Sysctl = new Dictionary<string, string>(host.Sysctls);
        if (host.Ulimits.Count > 0)
        {
            process.Rlimits = host.Ulimits.Select(u => new OciRlimit
            {
                Type = "RLIMIT_" + u.Name.ToUpperInvariant(),
                Soft = (ulong)u.Soft,
                Hard = (ulong)u.Hard,
            }).ToList();
        }

        ApplyNamespaceMode(linux, "network", host.NetworkMode);
        if (r.SandboxKey.Length > 0) linux.Namespaces!.First(n => n.Type == "network").Path = r.SandboxKey;
        ApplyNamespaceMode(linux, "pid", host.PidMode);
        ApplyNamespaceMode(linux, "ipc", host.IpcMode);
        ApplyNamespaceMode(linux, "uts", host.UtsMode);
        ApplyUserNamespace(r, spec);
        return spec;
    }

    private void ApplyNamespaceMode(OciLinux linux, string type, string mode)
    {
        var ns = linux.Namespaces!.FirstOrDefault(n => n.Type == type);
        if (ns is null) return;
        if (type == "network" && mode is "" or "default" or "bridge" or "none") return;
        if (mode == "host")
        {
            linux.Namespaces!.Remove(ns);
        }
        else if (mode.StartsWith("container:", StringComparison.Ordinal))
        {
            var other = Containers.Get(mode["container:".Length..]);
            if (!other.Record.State.Running)
                throw DaemonException.Conflict($"cannot join network namespace of a non running container: container {other.Id} is {other.Record.State.Status.ToString().ToLowerInvariant()}");
            var file = type switch { "network" => "net", _ => type };
            ns.Path = string.Create(CultureInfo.InvariantCulture, $"/proc/{other.Record.State.Pid}/ns/{file}");
        }
    }

    private static OciMount Bind(string source, string destination, bool readOnly) => new()
    {
        Destination = destination,
        Type = "bind",
        Source = source,
        Options = readOnly ? ["rbind", "rprivate", "ro"] : ["rbind", "rprivate"],
    };
}
