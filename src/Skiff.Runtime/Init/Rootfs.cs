using System.Runtime.InteropServices;
using Skiff.Linux;
using Skiff.Runtime.Spec;

namespace Skiff.Runtime.Init;

/// <summary>Mount-namespace work of the init: rootfs, spec mounts, /dev, pivot_root, masked and read-only paths.</summary>
internal static class Rootfs
{
    public const string OverlayAnnotation = "org.skiff.rootfs.overlay";

    /// <summary>
    /// The overlay annotation's <c>key=value,...</c> mount options as fsconfig pairs (layer paths never contain commas).
    /// fsconfig takes string values of at most 255 bytes, so a longer <c>lowerdir</c> list is given one layer at a time
    /// as <c>lowerdir+</c> (Linux 6.8), in the same order.
    /// </summary>
    public static IEnumerable<(string Key, string? Value)> ParseOverlayOptions(string options)
    {
        foreach (var part in options.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = part.IndexOf('=');
            if (eq < 0)
            {
                yield return (part, null);
                continue;
            }
            string key = part[..eq], value = part[(eq + 1)..];
            if (key == "lowerdir" && System.Text.Encoding.UTF8.GetByteCount(value) > 255)
            {
                foreach (var layer in value.Split(':', StringSplitOptions.RemoveEmptyEntries)) yield return ("lowerdir+", layer);
            }
            else yield return (key, value);
        }
    }

    /// <summary>Mounts a filesystem; throws <see cref="LinuxException"/> like <see cref="Mount"/>.</summary>
    public delegate void Mounter(string? source, string target, string? fstype, ulong flags, string? data);

    /// <summary>Everything before pivot_root, while host paths (bind sources, cgroup dirs) are still reachable.</summary>
    /// <param name="mountProc">Mounts <c>proc</c> filesystems when the caller is not in the container's pid namespace
    /// (a proc mount shows the pids of its mounter's namespace); null: this process mounts them.</param>
    public static void Prepare(InitConfig config, string rootfs, Mounter? mountProc = null)
    {
        OciSpec spec = config.Spec;
        // Nothing we mount may propagate back to the host. Slave (runc's default) still lets host
        // unmounts reach us, so a container does not pin a filesystem the host has let go of.
        ulong propagation = MountOptions.ParsePropagation(spec.Linux?.RootfsPropagation);
        if (propagation == 0) propagation = Libc.MS_SLAVE | Libc.MS_REC;
        Mount(null, "/", null, propagation, null);

        // pivot_root needs the new root to be a mount point: an overlay made here (so the host's mount
        // table never shows it), or the directory bound onto itself.
        bool userns = spec.Linux?.Namespaces?.Any(n => n.Type == "user") == true;
        if (spec.Annotations?.GetValueOrDefault(OverlayAnnotation) is { Length: > 0 } overlay)
        {
            // In a user namespace the parent made the overlay (see LinuxContainer.Create) and handed it over as a detached mount.
            if (userns)
            {
                if (Libc.MoveMount(Spawner.RootfsMountFd, rootfs) < 0) throw new LinuxException("move_mount", Marshal.GetLastPInvokeError(), rootfs);
                Libc.close(Spawner.RootfsMountFd);
            }
            else Mount("overlay", rootfs, "overlay", 0, overlay);
        }
        else
            Mount(rootfs, rootfs, null, Libc.MS_BIND | Libc.MS_REC, null);

        bool devIsTmpfs = false;
        foreach (OciMount m in spec.Mounts ?? [])
        {
            MountOne(config, rootfs, m, mountProc);
            if (m.Destination.TrimEnd('/') == "/dev" && m.Type == "tmpfs") devIsTmpfs = true;
        }
        Trace.Mark("init: spec mounts");
        // Devices after the spec mounts, since /dev is usually one of them.
        CreateDevices(rootfs, spec.Linux?.Devices, devIsTmpfs, bindFromHost: userns);
    }

    private static void MountOne(InitConfig config, string rootfs, OciMount m, Mounter? mountProc)
    {
        string dest = SecureJoin(rootfs, m.Destination);
        MountOptions o = MountOptions.Parse(m.Options);
        if (m.Type == "cgroup" || m.Type == "cgroup2")
        {
            MountCgroups(config, dest, o);
            return;
        }
        if (o.IsBind || m.Type == "bind")
        {
            string source = Path.GetFullPath(m.Source ?? throw new ContainerException($"bind mount {m.Destination} has no source"), config.BundlePath);
            if (Directory.Exists(source)) Directory.CreateDirectory(dest);
            else
            {
                Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
                if (!File.Exists(dest) && !Directory.Exists(dest)) File.WriteAllBytes(dest, []);
            }
            Mount(source, dest, null, Libc.MS_BIND | (o.IsRecursiveBind ? Libc.MS_REC : 0), null);
            // Bind mounts ignore flags on the first call; they take effect on a remount.
            if ((o.Flags & ~Libc.MS_REC) != 0)
                Mount(null, dest, null, Libc.MS_BIND | Libc.MS_REMOUNT | o.Flags | Libc.MountFlagsOf(dest) & ~o.ClearFlags, null);
        }
        else
        {
            Directory.CreateDirectory(dest);
            try
            {
                (m.Type == "proc" && mountProc is not null ? mountProc : Mount)(m.Source ?? m.Type, dest, m.Type, o.Flags, o.Data.Length == 0 ? null : o.Data);
            }
            catch (LinuxException e) when (m.Type == "sysfs" && e.Errno == Libc.EPERM)
            {
                // sysfs may only be mounted by the user namespace owning the network namespace: a container in its own
                // user namespace joining a network namespace made by the host (the daemon's sandbox) cannot. As runc does,
                // bind the host's /sys instead, with the requested flags.
                Mount("/sys", dest, null, Libc.MS_BIND | Libc.MS_REC, null);
                Mount(null, dest, null, Libc.MS_BIND | Libc.MS_REMOUNT | o.Flags | Libc.MountFlagsOf(dest), null);
            }
        }
        if (o.Propagation != 0) Mount(null, dest, null, o.Propagation, null);
    }

    /// <summary>
    /// /sys/fs/cgroup shows the container's own cgroups. v1: a tmpfs with one bind mount per controller
    /// from the container's host directory (as runc does, which also works without a cgroup namespace).
    /// v2: cgroup2 itself when the init has its own cgroup namespace (its root is the container's cgroup),
    /// else a bind of the container's directory.
    /// </summary>
    private static void MountCgroups(InitConfig config, string dest, MountOptions o)
    {
        Directory.CreateDirectory(dest);
        ulong flags = o.Flags & ~Libc.MS_RDONLY;
        var dirs = config.CgroupDirs ?? [];
        if (config.CgroupV2)
        {
            bool ownNs = config.Spec.Linux?.Namespaces?.Any(n => n.Type == "cgroup" && string.IsNullOrEmpty(n.Path)) == true;
            if (ownNs || !dirs.TryGetValue("", out string? dir)) Mount("cgroup2", dest, "cgroup2", o.Flags, null);
            else
            {
                Mount(dir, dest, null, Libc.MS_BIND, null);
                Mount(null, dest, null, Libc.MS_BIND | Libc.MS_REMOUNT | o.Flags, null);
            }
            return;
        }
        Mount("tmpfs", dest, "tmpfs", flags, "mode=755");
        foreach (var (controller, hostDir) in dirs)
        {
            if (!Directory.Exists(hostDir)) continue;
            string target = Path.Combine(dest, controller);
            Directory.CreateDirectory(target);
            Mount(hostDir, target, null, Libc.MS_BIND, null);
            Mount(null, target, null, Libc.MS_BIND | Libc.MS_REMOUNT | o.Flags | Libc.MS_NOSUID | Libc.MS_NODEV | Libc.MS_NOEXEC, null);
        }
    }

    /// <param name="bindFromHost">In a user namespace mknod is refused: bind the host's node of the same path instead (as runc does).</param>
    private static void CreateDevices(string rootfs, List<OciDevice>? specDevices, bool devIsTmpfs, bool bindFromHost)
    {
        var devices = new List<OciDevice>();
        if (devIsTmpfs) devices.AddRange(DockerDefaults.DefaultDevices());
        foreach (OciDevice d in specDevices ?? [])
        {
            devices.RemoveAll(x => x.Path == d.Path);
            devices.Add(d);
        }
        uint oldMask = Libc.umask(0);
        try
        {
            foreach (OciDevice d in devices)
            {
                string path = SecureJoin(rootfs, d.Path);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                uint type = d.Type switch { "c" or "u" => 0x2000u, "b" => 0x6000u, "p" => 0x1000u, _ => throw new ContainerException($"device {d.Path}: unknown type {d.Type}") };
                if (bindFromHost)
                {
                    if (!File.Exists(path)) File.WriteAllBytes(path, []);
                    Mount(d.Path, path, null, Libc.MS_BIND, null);
                    continue;
                }
                if (File.Exists(path)) File.Delete(path);
                LinuxException.ThrowIfError(Libc.mknod(path, type | ((d.FileMode ?? 0x1B6) & 0xFFF), Libc.makedev(d.Major, d.Minor)), "mknod", d.Path);
                LinuxException.ThrowIfError(Libc.chown(path, d.Uid ?? 0, d.Gid ?? 0), "chown", d.Path);
            }
        }
        finally { Libc.umask(oldMask); }
        if (!devIsTmpfs) return;
        foreach (var (link, target) in new[] { ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                     ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore"), ("ptmx", "pts/ptmx") })
        {
            if (link == "core" && !File.Exists("/proc/kcore")) continue;
            string path = Path.Combine(rootfs, "dev", link);
            if (!File.Exists(path) && !Directory.Exists(path)) File.CreateSymbolicLink(path, target);
        }
    }

    /// <summary>
    /// pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves only the
    /// container's tree, without needing a directory for the old root inside the image.
    /// </summary>
    public static void PivotRoot(string rootfs)
    {
        LinuxException.ThrowIfError(Libc.chdir(rootfs), "chdir", rootfs);
        LinuxException.ThrowIfError(Libc.pivot_root(".", "."), "pivot_root", rootfs);
        LinuxException.ThrowIfError(Libc.umount2(".", Libc.MNT_DETACH), "umount2", "old root");
        LinuxException.ThrowIfError(Libc.chdir("/"), "chdir", "/");
    }

    /// <summary>After pivot_root, because these paths live in the container's own /proc and /sys.</summary>
    public static void ApplyReadonlyAndMaskedPaths(OciLinux linux)
    {
        foreach (string p in linux.ReadonlyPaths ?? [])
        {
            if (!Path.Exists(p)) continue;
            Mount(p, p, null, Libc.MS_BIND | Libc.MS_REC, null);
            Mount(null, p, null, Libc.MS_BIND | Libc.MS_REMOUNT | Libc.MS_RDONLY | Libc.MountFlagsOf(p), null);
        }
        foreach (string p in linux.MaskedPaths ?? [])
        {
            if (Directory.Exists(p)) Mount("tmpfs", p, "tmpfs", Libc.MS_RDONLY, null);
            else if (File.Exists(p)) Mount("/dev/null", p, null, Libc.MS_BIND, null);
        }
    }

    /// <summary>
    /// After pivot_root and before a read-only remount: creates <paramref name="cwd"/> and its missing parents when the
    /// spec asks for it (<see cref="Annotations.CreateCwd"/>), as Docker creates a container's working directory.
    /// Symlinks on the way resolve inside the container's root, which is "/" by now.
    /// </summary>
    public static void EnsureCwd(OciSpec spec, string? cwd)
    {
        if (spec.Annotations?.GetValueOrDefault(Annotations.CreateCwd) != "true" || string.IsNullOrEmpty(cwd) || Directory.Exists(cwd)) return;
        Directory.CreateDirectory(cwd);
    }

    public static void RemountRootReadonly() =>
        Mount(null, "/", null, Libc.MS_BIND | Libc.MS_REMOUNT | Libc.MS_RDONLY | Libc.MountFlagsOf("/"), null);

    internal static void Mount(string? source, string target, string? fstype, ulong flags, string? data)
    {
        if (Libc.mount(source, target, fstype, flags, data) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new LinuxException("mount", errno, $"{source ?? fstype ?? "(none)"} to {target}");
        }
    }

    /// <summary>
    /// Joins <paramref name="unsafePath"/> under <paramref name="root"/>, resolving symlinks as if
    /// <paramref name="root"/> were '/', so an image cannot redirect a mount or device outside its rootfs.
    /// </summary>
    public static string SecureJoin(string root, string unsafePath)
    {
        var parts = new Stack<string>(unsafePath.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse());
        var resolved = new List<string>();
        int links = 0;
        while (parts.Count > 0)
        {
            string part = parts.Pop();
            if (part == ".") continue;
            if (part == "..") { if (resolved.Count > 0) resolved.RemoveAt(resolved.Count - 1); continue; }
            string candidate = root + "/" + string.Join('/', resolved.Append(part));
            var info = new FileInfo(candidate);
            if (info.LinkTarget is { } target && (info.Attributes & FileAttributes.ReparsePoint) != 0)
            {
                if (++links > 255) throw new ContainerException($"too many symlinks resolving {unsafePath}");
                if (target.StartsWith('/')) resolved.Clear();
                foreach (string t in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse()) parts.Push(t);
                continue;
            }
            resolved.Add(part);
        }
        return root.TrimEnd('/') + "/" + string.Join('/', resolved);
    }
}
