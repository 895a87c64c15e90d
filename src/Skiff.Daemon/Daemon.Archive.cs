using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Skiff.Archive;
using Skiff.Linux;

namespace Skiff.Daemon;

/// <summary>
/// What <c>docker cp</c> learns about a path inside a container (Docker's PathStat). <see cref="Mode"/>
/// is in Go's os.FileMode encoding (type bits high, permissions low), which the Docker CLI decodes.
/// </summary>
public sealed record ContainerPathStat(string Name, long Size, uint Mode, DateTimeOffset Mtime, string LinkTarget)
{
    public bool IsDirectory => (Mode & GoModeDir) != 0;
    internal const uint GoModeDir = 1u << 31;
}

public sealed partial class Daemon
{
    /// <summary>
    /// Runs <paramref name="action"/> with the host path of the container's root directory. A running
    /// container is reached through <c>/proc/&lt;pid&gt;/root</c>: its mount namespace as the container
    /// sees it, bind mounts and volumes included. A container that is not running has its overlay
    /// (image layers + its upper dir) mounted on a private temporary mount point, held under the
    /// container's lock so that no start mounts the same upper dir meanwhile.
    /// </summary>
    private async Task<T> WithRootAsync<T>(Container c, Func<string, T> action)
    {
        if (c.Record.State.Running && c.Record.State.Pid > 0)
        {
            var root = $"/proc/{c.Record.State.Pid}/root";
            if (System.IO.Directory.Exists(root)) return await Task.Run(() => action(root)).ConfigureAwait(false);
        }
        await c.Lock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (c.Removed) throw DaemonException.NotFound($"No such container: {c.Id}");
            var options = Images.OverlayOptions(c.Record.ImageId, c.Directory);
            var mountPoint = Path.Combine(Options.ExecRoot, "mnt", c.Id[..16] + "-" + Guid.NewGuid().ToString("N")[..8]);
            System.IO.Directory.CreateDirectory(mountPoint);
            try
            {
                if (Libc.mount("overlay", mountPoint, "overlay", 0, options) != 0)
                    throw new DaemonException(ErrorKind.Internal, $"mounting the rootfs of {c.Id}: {Marshal.GetLastPInvokeErrorMessage()}");
                var volumeUser = "cp-" + Guid.NewGuid().ToString("N")[..12];
                var volumes = new List<string>();
                try
                {
                    MountVolumesForCopy(c, mountPoint, volumeUser, volumes);
                    return await Task.Run(() => action(mountPoint)).ConfigureAwait(false);
                }
                finally
                {
                    // MNT_DETACH of the root takes the bind mounts below it along.
                    Libc.umount2(mountPoint, 2 /* MNT_DETACH */);
                    foreach (var name in volumes)
                    {
                        try { Volumes.Unmount(name, volumeUser); }
                        catch (Skiff.Volumes.VolumeException) { }
                    }
                }
            }
            finally
            {
                try { System.IO.Directory.Delete(mountPoint); } catch (IOException) { }
            }
        }
        finally
        {
            c.Lock.Release();
        }
    }

    /// <summary>
    /// As Docker does for <c>docker cp</c> on a container that is not running: binds its volumes and
    /// bind mounts (parents first) onto their destinations under the mounted rootfs, so the copy sees
    /// what the container would see. Destinations are resolved inside the root (a symlink in the image
    /// never leads outside it); a missing one is created, as the start would. Volumes with driver
    /// options are mounted for the copy under <paramref name="user"/> (recorded in <paramref name="volumes"/>).
    /// </summary>
    private void MountVolumesForCopy(Container c, string root, string user, List<string> volumes)
    {
        foreach (var m in c.Record.MountPoints.OrderBy(m => Clean(m.Destination).Count(ch => ch == '/')))
        {
            string source;
            if (m.Type == "volume")
            {
                source = VolumeGuard(() => Volumes.Mount(m.Name, user));
                volumes.Add(m.Name);
            }
            else if (m.Type == "bind")
            {
                source = m.Source;
            }
            else
            {
                continue;
            }
            if (!TryLstat(source, out var st)) continue;
            var isDir = (st.Mode & Libc.S_IFMT) == Libc.S_IFDIR;
            string? target = null;
            for (var i = 0; target is null; i++)
            {
                try
                {
                    target = root + ResolveInRoot(root, Clean(m.Destination), followFinal: true);
                }
                catch (FileNotFoundException missing) when (i < 64)
                {
                    // The missing element's parents are resolved, symlink-free directories inside the root.
                    System.IO.Directory.CreateDirectory(root + missing.Message);
                }
            }
            if (!TryLstat(target, out _))
            {
                if (isDir) System.IO.Directory.CreateDirectory(target);
                else File.WriteAllBytes(target, []);
            }
            var flags = Libc.MS_BIND | (m.NonRecursive ? 0 : Libc.MS_REC);
            if (Libc.mount(source, target, null, flags, null) != 0)
                throw new DaemonException(ErrorKind.Internal, $"mounting {m.Destination} of {c.Id} for the copy: {Marshal.GetLastPInvokeErrorMessage()}");
            Libc.mount(null, target, null, Libc.MS_PRIVATE | Libc.MS_REC, null);
            if (!m.RW) Libc.mount(null, target, null, Libc.MS_BIND | Libc.MS_REMOUNT | Libc.MS_RDONLY, null);
        }
    }

    /// <summary>HEAD /containers/{id}/archive: the stat of a path, without following a final symlink.</summary>
    public Task<ContainerPathStat> StatPathAsync(string idOrName, string path)
    {
        var c = Containers.Get(idOrName);
        return WithRootAsync(c, root => StatInRoot(c, root, path).Stat);
    }

    /// <summary>
    /// GET /containers/{id}/archive: the path's stat and a tar of it written to <paramref name="output"/>,
    /// entries named after the requested path's base name (so <c>/etc/.</c> gives <c>./...</c>), as Docker does.
    /// <paramref name="onStat"/> runs before anything is written, so the caller can send headers.
    /// </summary>
    public Task CopyFromAsync(string idOrName, string path, Func<ContainerPathStat, Stream> onStat)
    {
        var c = Containers.Get(idOrName);
        return WithRootAsync(c, root =>
        {
            var (stat, hostPath) = StatInRoot(c, root, path);
            var output = onStat(stat);
            var baseName = BaseName(path);
            DirectoryArchiver.WriteTree(hostPath, output, new ArchiveOptions { Prefix = baseName, IncludeXattrs = false, Ids = ContainerIds(c.Record.HostConfig) });
            return 0;
        });
    }

    /// <summary>
    /// PUT /containers/{id}/archive: extracts a tar into the directory at <paramref name="path"/> inside
    /// the container. Nothing is written outside the container's root: the destination is resolved
    /// inside it and the extractor refuses entries that climb out. Owners come from the archive, as with dockerd;
    /// with <paramref name="copyUidGid"/> (<c>docker cp -a</c>) and a container user, every file belongs to that user
    /// (resolved in the container's /etc/passwd and /etc/group).
    /// </summary>
    public Task CopyToAsync(string idOrName, string path, Stream tar, bool noOverwriteDirNonDir, bool copyUidGid)
    {
        var c = Containers.Get(idOrName);
        if (c.Record.HostConfig.ReadonlyRootfs && !UnderWritableMount(c.Record, Clean(path)))
            throw DaemonException.Forbidden("container rootfs is marked read-only");
        return WithRootAsync(c, root =>
        {
            var (stat, hostPath) = StatInRoot(c, root, path, followFinal: true);
            if (!stat.IsDirectory) throw DaemonException.Invalid("extraction point is not a directory");
            try
            {
                LayerExtractor.Extract(tar, hostPath, new ExtractOptions
                {
                    Whiteouts = WhiteoutMode.None,
                    PreserveOwnership = true,
                    Owner = copyUidGid && c.Record.Config.User.Length > 0 ? ContainerUserIds(root, c.Record.Config.User) : null,
                    NoOverwriteDirNonDir = noOverwriteDirNonDir,
                    Ids = ContainerIds(c.Record.HostConfig),
                });
            }
            catch (InvalidArchiveException e)
            {
                throw DaemonException.Invalid(e.Message);
            }
            catch (LinuxException e)
            {
                throw DaemonException.Invalid(e.Message);
            }
            return 0;
        });
    }

    /// <summary>Docker's <c>-u</c> value (<c>user[:group]</c>, names or ids) resolved against the container's own files.</summary>
    private static (int Uid, int Gid) ContainerUserIds(string root, string user)
    {
        var colon = user.IndexOf(':');
        string userPart = colon < 0 ? user : user[..colon], groupPart = colon < 0 ? "" : user[(colon + 1)..];
        string[]? Entry(string file, string key, int idField)
        {
            string path;
            try { path = root + ResolveInRoot(root, "/etc/" + file, followFinal: true); }
            catch (DaemonException) { return null; }
            if (!File.Exists(path)) return null;
            foreach (var line in File.ReadLines(path))
            {
                var f = line.Split(':');
                if (f.Length > idField && (f[0] == key || f[idField] == key)) return f;
            }
            return null;
        }
        int uid, gid = 0;
        if (Entry("passwd", userPart, 2) is { Length: >= 4 } p && int.TryParse(p[2], NumberStyles.None, CultureInfo.InvariantCulture, out uid))
            _ = int.TryParse(p[3], NumberStyles.None, CultureInfo.InvariantCulture, out gid);
        else if (!int.TryParse(userPart, NumberStyles.None, CultureInfo.InvariantCulture, out uid))
            throw DaemonException.Invalid($"unable to find user {userPart}: no matching entries in passwd file");
        if (groupPart.Length > 0)
        {
            if (Entry("group", groupPart, 2) is { } g && int.TryParse(g[2], NumberStyles.None, CultureInfo.InvariantCulture, out var gg)) gid = gg;
            else if (!int.TryParse(groupPart, NumberStyles.None, CultureInfo.InvariantCulture, out gid))
                throw DaemonException.Invalid($"unable to find group {groupPart}: no matching entries in group file");
        }
        return (uid, gid);
    }

    private static bool UnderWritableMount(ContainerRecord r, string path)
    {
        var destinations = r.HostConfig.Binds
            .Select(b => b.Split(':'))
            .Where(p => p.Length >= 2 && !(p.Length >= 3 && p[2].Split(',').Contains("ro")))
            .Select(p => p[1])
            .Concat(r.HostConfig.Tmpfs.Keys);
        return destinations.Any(d => path == d || path.StartsWith(d.TrimEnd('/') + "/", StringComparison.Ordinal));
    }

    private static string Clean(string path)
    {
        var parts = new List<string>();
        foreach (var p in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (p == ".") continue;
            if (p == "..") { if (parts.Count > 0) parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(p);
        }
        return "/" + string.Join('/', parts);
    }

    /// <summary>The base name Docker gives the archive's root entry: "." for a path ending in "/.", else the last element.</summary>
    private static string BaseName(string path)
    {
        if (path.EndsWith("/.", StringComparison.Ordinal) || path == ".") return ".";
        var cleaned = Clean(path);
        return cleaned == "/" ? "." : cleaned[(cleaned.LastIndexOf('/') + 1)..];
    }

    /// <summary>
    /// Resolves <paramref name="path"/> inside <paramref name="root"/> and stats it. The final element
    /// is not followed unless the path ends in "/" or "/." (Docker's rule) or <paramref name="followFinal"/>.
    /// </summary>
    private static (ContainerPathStat Stat, string HostPath) StatInRoot(Container c, string root, string path, bool followFinal = false)
    {
        if (string.IsNullOrEmpty(path)) throw DaemonException.Invalid("path cannot be empty");
        var follow = followFinal || path.EndsWith('/') || path.EndsWith("/.", StringComparison.Ordinal);
        string inner;
        try
        {
            inner = ResolveInRoot(root, path, follow);
        }
        catch (FileNotFoundException)
        {
            throw DaemonException.NotFound($"Could not find the file {path} in container {c.Name}");
        }
        var host = root + inner;
        if (!TryLstat(host, out var st)) throw DaemonException.NotFound($"Could not find the file {path} in container {c.Name}");
        var linkTarget = "";
        if ((st.Mode & Libc.S_IFMT) == Libc.S_IFLNK)
        {
            try { linkTarget = ResolveInRoot(root, inner, followFinal: true); }
            catch (FileNotFoundException) { linkTarget = ""; }
        }
        var name = BaseName(path);
        if (name == ".") name = inner == "/" ? "/" : inner[(inner.LastIndexOf('/') + 1)..];
        var mtime = DateTimeOffset.FromUnixTimeSeconds(st.Mtime.Sec).AddTicks(st.Mtime.Nsec / 100);
        return (new ContainerPathStat(name, (long)st.Size, GoFileMode(st.Mode), mtime, linkTarget), host);
    }

    /// <summary>
    /// Docker's FollowSymlinkInScope: walks <paramref name="path"/> one element at a time under
    /// <paramref name="root"/>, expanding symlinks as if <paramref name="root"/> were "/" (an absolute
    /// target restarts at the root, ".." never climbs above it). Returns the path inside the root
    /// ("/a/b"). Throws FileNotFoundException when an intermediate element is missing.
    /// </summary>
    internal static string ResolveInRoot(string root, string path, bool followFinal)
    {
        var pending = new List<string>(path.Split('/', StringSplitOptions.RemoveEmptyEntries));
        var resolved = new List<string>();
        var links = 0;
        while (pending.Count > 0)
        {
            var part = pending[0];
            pending.RemoveAt(0);
            if (part == ".") continue;
            if (part == "..")
            {
                if (resolved.Count > 0) resolved.RemoveAt(resolved.Count - 1);
                continue;
            }
            var candidate = "/" + string.Join('/', resolved.Append(part));
            var last = pending.All(p => p == ".");
            if (!TryLstat(root + candidate, out var st))
            {
                if (last) { resolved.Add(part); continue; }
                throw new FileNotFoundException(candidate);
            }
            if ((st.Mode & Libc.S_IFMT) != Libc.S_IFLNK || (last && !followFinal))
            {
                resolved.Add(part);
                continue;
            }
            if (++links > 40) throw DaemonException.Invalid($"too many links in {path}");
            var target = ReadLink(root + candidate);
            if (target.StartsWith('/')) resolved.Clear();
            pending.InsertRange(0, target.Split('/', StringSplitOptions.RemoveEmptyEntries));
        }
        return "/" + string.Join('/', resolved);
    }

    private static unsafe bool TryLstat(string path, out Libc.Statx st)
    {
        Libc.Statx s;
        if (Libc.statx(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, &s) < 0)
        {
            st = default;
            var e = Marshal.GetLastPInvokeError();
            if (e is Libc.ENOENT or Libc.ENOTDIR) return false;
            throw new DaemonException(ErrorKind.Internal, $"stat {path}: {Marshal.GetPInvokeErrorMessage(e)}");
        }
        st = s;
        return true;
    }

    private static unsafe string ReadLink(string path)
    {
        var buffer = stackalloc byte[4096];
        var n = Libc.readlinkat(Libc.AT_FDCWD, path, buffer, 4096);
        if (n < 0) throw new DaemonException(ErrorKind.Internal, $"readlink {path}: {Marshal.GetLastPInvokeErrorMessage()}");
        return Encoding.UTF8.GetString(buffer, (int)n);
    }

    /// <summary>Unix st_mode to Go's os.FileMode bits.</summary>
    private static uint GoFileMode(uint mode)
    {
        var m = mode & 0x1FFu;
        switch (mode & Libc.S_IFMT)
        {
            case Libc.S_IFDIR: m |= ContainerPathStat.GoModeDir; break;
            case Libc.S_IFLNK: m |= 1u << 27; break;
            case Libc.S_IFBLK: m |= 1u << 26; break;
            case Libc.S_IFCHR: m |= (1u << 26) | (1u << 21); break;
            case Libc.S_IFIFO: m |= 1u << 25; break;
            case Libc.S_IFSOCK: m |= 1u << 24; break;
        }
        if ((mode & 0x800) != 0) m |= 1u << 23;
        if ((mode & 0x400) != 0) m |= 1u << 22;
        if ((mode & 0x200) != 0) m |= 1u << 20;
        return m;
    }
}
