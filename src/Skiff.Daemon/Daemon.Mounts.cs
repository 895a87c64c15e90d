using System.Globalization;
using Skiff.Runtime.Spec;
using Skiff.Volumes;

namespace Skiff.Daemon;

public sealed partial class Daemon
{
    private static readonly HashSet<string> Propagations = ["shared", "rshared", "slave", "rslave", "private", "rprivate"];

    /// <summary>
    /// Resolves a new container's mounts as Docker does: <c>--volumes-from</c> first, then <c>-v</c> binds
    /// and named volumes and <c>--mount</c> (which replace an inherited mount at the same destination),
    /// then an anonymous volume for every image or <c>-v /path</c> volume not covered by those or by a
    /// <c>--tmpfs</c>. Named volumes that do not exist are created; every volume created here is added to
    /// <paramref name="created"/> so a failed create can remove them. Called under the volumes lock.
    /// </summary>
    private List<MountPoint> ResolveMounts(ContainerConfig cfg, HostConfig host, List<string> created)
    {
        var result = new Dictionary<string, MountPoint>(StringComparer.Ordinal);
        foreach (var spec in host.VolumesFrom)
        {
            var sep = spec.LastIndexOf(':');
            string name = spec, mode = "";
            if (sep > 0)
            {
                name = spec[..sep];
                mode = spec[(sep + 1)..];
            }
            var modes = mode.Split(',', StringSplitOptions.RemoveEmptyEntries);
            if (modes.Any(m => m is not ("ro" or "rw" or "z" or "Z")) || modes.Contains("ro") && modes.Contains("rw"))
                throw DaemonException.Invalid($"invalid mode: {mode}");
            var other = Containers.Get(name);
            foreach (var m in other.Record.MountPoints)
            {
                result[m.Destination] = new MountPoint
                {
                    Type = m.Type, Name = m.Name, Source = m.Source, Destination = m.Destination, Driver = m.Driver,
                    Mode = m.Mode, RW = m.RW && !modes.Contains("ro"), Propagation = m.Propagation, NonRecursive = m.NonRecursive, TmpfsOptions = [.. m.TmpfsOptions],
                };
            }
        }

        var explicitDest = new HashSet<string>(StringComparer.Ordinal);
        void AddExplicit(MountPoint m)
        {
            if (!explicitDest.Add(m.Destination)) throw DaemonException.Invalid($"Duplicate mount point: {m.Destination}");
            result[m.Destination] = m;
        }
        foreach (var bind in host.Binds) AddExplicit(ParseBind(bind, created));
        foreach (var spec in host.Mounts) AddExplicit(ParseMountSpec(spec, created));

        foreach (var dest in host.Tmpfs.Keys)
            if (explicitDest.Contains(CleanDestination(dest, "tmpfs"))) throw DaemonException.Invalid($"Duplicate mount point: {CleanDestination(dest, "tmpfs")}");
        var tmpfs = host.Tmpfs.Keys.Select(k => CleanDestination(k, "tmpfs")).ToHashSet(StringComparer.Ordinal);
        foreach (var v in cfg.Volumes)
        {
            var dest = CleanDestination(v, "volume");
            if (result.ContainsKey(dest) || tmpfs.Contains(dest)) continue;
            var vol = CreateVolumeFor(null, null, null, null, created);
            result[dest] = new MountPoint { Type = "volume", Name = vol.Name, Source = vol.Mountpoint, Destination = dest, Driver = vol.Driver, RW = true, CopyData = true };
        }
        return [.. result.Values];
    }

    /// <summary>A <c>-v SRC:DEST[:MODE]</c> entry: an absolute SRC is a bind (created when missing, as Docker does), else a named volume.</summary>
    private MountPoint ParseBind(string bind, List<string> created)
    {
        var parts = bind.Split(':');
        if (parts.Length is < 2 or > 3 || parts[0].Length == 0)
            throw DaemonException.Invalid($"invalid volume specification: '{bind}'");
        var dest = parts[1];
        if (!dest.StartsWith('/')) throw DaemonException.Invalid($"invalid volume specification: '{bind}': invalid mount config for type \"{(parts[0].StartsWith('/') ? "bind" : "volume")}\": invalid mount path: '{dest}' mount path must be absolute");
        dest = CleanDestination(dest, "bind");
        var mode = parts.Length == 3 ? parts[2] : "";
        var opts = mode.Split(',', StringSplitOptions.RemoveEmptyEntries);
        bool isBind = parts[0].StartsWith('/');
        int rw = 0, propagation = 0;
        foreach (var o in opts)
        {
            if (o is "ro" or "rw") rw++;
            else if (Propagations.Contains(o)) propagation++;
            else if (o is "z" or "Z" or "consistent" or "cached" or "delegated") { }
            else if (o == "nocopy" && !isBind) { }
            else throw DaemonException.Invalid($"invalid mode: {mode}");
        }
        if (rw > 1 || propagation > 1 || propagation > 0 && !isBind) throw DaemonException.Invalid($"invalid mode: {mode}");
        bool readOnly = opts.Contains("ro");
        if (isBind)
        {
            var source = Path.GetFullPath(parts[0]);
            if (!File.Exists(source) && !System.IO.Directory.Exists(source)) System.IO.Directory.CreateDirectory(source);
            return new MountPoint
            {
                Type = "bind", Source = source, Destination = dest, Mode = mode, RW = !readOnly,
                Propagation = opts.FirstOrDefault(Propagations.Contains) ?? "rprivate",
            };
        }
        var vol = CreateVolumeFor(parts[0], null, null, null, created);
        return new MountPoint
        {
            Type = "volume", Name = vol.Name, Source = vol.Mountpoint, Destination = dest, Driver = vol.Driver,
            Mode = mode.Length == 0 ? "z" : mode, RW = !readOnly, CopyData = !opts.Contains("nocopy"),
        };
    }

    /// <summary>A <c>--mount</c> entry, checked with Docker's messages.</summary>
    private MountPoint ParseMountSpec(MountSpec m, List<string> created)
    {
        var type = m.Type;
        if (type is not ("bind" or "volume" or "tmpfs")) throw DaemonException.Invalid($"invalid mount config for type \"{type}\": mount type unknown");
        string Err(string what) => $"invalid mount config for type \"{type}\": {what}";
        if (string.IsNullOrEmpty(m.Target)) throw DaemonException.Invalid(Err("field Target must not be empty"));
        if (!m.Target.StartsWith('/')) throw DaemonException.Invalid(Err($"invalid mount path: '{m.Target}' mount path must be absolute"));
        var dest = CleanDestination(m.Target, type);
        if (type != "bind" && m.BindPropagation.Length > 0) throw DaemonException.Invalid(Err("field BindOptions must not be specified"));
        if (type != "volume" && (m.VolumeNoCopy || m.VolumeLabels.Count > 0 || m.VolumeDriverOptions.Count > 0 || m.VolumeDriver.Length > 0))
            throw DaemonException.Invalid(Err("field VolumeOptions must not be specified"));
        if (type != "tmpfs" && (m.TmpfsSize != 0 || m.TmpfsMode != 0)) throw DaemonException.Invalid(Err("field TmpfsOptions must not be specified"));
        switch (type)
        {
            case "bind":
            {
                if (string.IsNullOrEmpty(m.Source)) throw DaemonException.Invalid(Err("field Source must not be empty"));
                if (!m.Source.StartsWith('/')) throw DaemonException.Invalid(Err($"invalid mount path: '{m.Source}' mount path must be absolute"));
                if (m.BindPropagation.Length > 0 && !Propagations.Contains(m.BindPropagation))
                    throw DaemonException.Invalid(Err($"invalid propagation mode: {m.BindPropagation}"));
                var source = Path.GetFullPath(m.Source);
                if (!File.Exists(source) && !System.IO.Directory.Exists(source))
                {
                    if (!m.BindCreateMountpoint) throw DaemonException.Invalid(Err($"bind source path does not exist: {source}"));
                    System.IO.Directory.CreateDirectory(source);
                }
                return new MountPoint
                {
                    Type = "bind", Source = source, Destination = dest, RW = !m.ReadOnly, NonRecursive = m.BindNonRecursive,
                    Propagation = m.BindPropagation.Length > 0 ? m.BindPropagation : "rprivate",
                };
            }
            case "tmpfs":
            {
                if (!string.IsNullOrEmpty(m.Source)) throw DaemonException.Invalid(Err("field Source must not be specified"));
                if (m.TmpfsSize < 0) throw DaemonException.Invalid(Err("invalid tmpfs size"));
                var options = new List<string>();
                if (m.TmpfsSize > 0) options.Add("size=" + m.TmpfsSize.ToString(CultureInfo.InvariantCulture));
                if (m.TmpfsMode != 0) options.Add("mode=" + Convert.ToString(m.TmpfsMode & 0xFFF, 8));
                return new MountPoint { Type = "tmpfs", Destination = dest, RW = !m.ReadOnly, TmpfsOptions = options };
            }
            default:
            {
                var vol = CreateVolumeFor(string.IsNullOrEmpty(m.Source) ? null : m.Source, m.VolumeDriver, m.VolumeLabels, m.VolumeDriverOptions, created);
                return new MountPoint
                {
                    Type = "volume", Name = vol.Name, Source = vol.Mountpoint, Destination = dest, Driver = vol.Driver,
                    Mode = "z", RW = !m.ReadOnly, CopyData = !m.VolumeNoCopy,
                };
            }
        }
    }

    /// <summary>An absolute, lexically clean container path (no trailing '/', no '.' or '..'); "/" itself is refused.</summary>
    private static string CleanDestination(string path, string type)
    {
        if (!path.StartsWith('/')) throw DaemonException.Invalid($"invalid mount config for type \"{type}\": invalid mount path: '{path}' mount path must be absolute");
        var parts = new List<string>();
        foreach (var p in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (p == ".") continue;
            if (p == "..") { if (parts.Count > 0) parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(p);
        }
        if (parts.Count == 0) throw DaemonException.Invalid($"invalid mount config for type \"{type}\": invalid specification: destination can't be '/'");
        return "/" + string.Join('/', parts);
    }

    private Volume CreateVolumeFor(string? name, string? driver, Dictionary<string, string>? labels, Dictionary<string, string>? options, List<string> created)
    {
        var existing = string.IsNullOrEmpty(name) ? null : Volumes.Find(name);
        if (existing is not null) return existing;
        var v = VolumeGuard(() => Volumes.Create(name, driver, labels, options));
        created.Add(v.Name);
        return v;
    }

    /// <summary>The OCI mounts for a container's resolved mount points, parents before children (Docker sorts by depth).</summary>
    private static IEnumerable<OciMount> SpecMounts(ContainerRecord r) =>
        r.MountPoints.OrderBy(m => m.Destination.Count(ch => ch == '/')).Select(m =>
        {
            if (m.Type == "tmpfs")
            {
                var opts = new List<string> { "nosuid", "nodev", "noexec" };
                if (!m.RW) opts.Add("ro");
                opts.AddRange(m.TmpfsOptions);
                return new OciMount { Destination = m.Destination, Type = "tmpfs", Source = "tmpfs", Options = opts };
            }
            var options = new List<string> { m.NonRecursive ? "bind" : "rbind", string.IsNullOrEmpty(m.Propagation) ? "rprivate" : m.Propagation };
            if (!m.RW) options.Add("ro");
            return new OciMount { Destination = m.Destination, Type = "bind", Source = m.Source, Options = options };
        });

    /// <summary>
    /// Before a start: mounts device volumes (first user) and copies the image's content into empty
    /// volumes that ask for it. On failure the volumes mounted so far are released.
    /// </summary>
    private void AcquireVolumes(Container c)
    {
        var mounted = new List<string>();
        try
        {
            IReadOnlyList<string>? layers = null;
            foreach (var m in c.Record.MountPoints)
            {
                if (m.Type != "volume") continue;
                var source = VolumeGuard(() => Volumes.Mount(m.Name, c.Id));
                mounted.Add(m.Name);
                m.Source = source;
                if (!m.CopyData) continue;
                var vol = Volumes.Get(m.Name);
                if (!VolumeStore.IsEmpty(vol)) continue;
                layers ??= [Path.Combine(c.Directory, "upper"), .. Images.LayerPaths(c.Record.ImageId)];
                CopyUp.Copy(layers, m.Destination, vol.Mountpoint);
            }
        }
        catch
        {
            foreach (var name in mounted)
            {
                try { Volumes.Unmount(name, c.Id); }
                catch (VolumeException) { }
            }
            throw;
        }
    }

    /// <summary>After an exit or a failed start: lets go of the container's volume mounts.</summary>
    private void ReleaseVolumes(Container c)
    {
        foreach (var m in c.Record.MountPoints)
        {
            if (m.Type != "volume") continue;
            try { Volumes.Unmount(m.Name, c.Id); }
            catch (VolumeException e) { Console.Error.WriteLine($"skiffd: volume {m.Name} of {c.Id}: {e.Message}"); }
        }
    }
}
