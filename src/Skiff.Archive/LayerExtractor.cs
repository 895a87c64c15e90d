using Microsoft.Win32.SafeHandles;
using Skiff.Linux;

namespace Skiff.Archive;

/// <summary>How whiteout entries (<c>.wh.*</c>) are materialised.</summary>
public enum WhiteoutMode
{
    /// <summary>
    /// Overlayfs format: <c>.wh.NAME</c> becomes a 0/0 character device NAME and
    /// <c>.wh..wh..opq</c> sets <c>trusted.overlay.opaque=y</c> on its directory. Used for layer dirs.
    /// </summary>
    Overlay,
    /// <summary>Whiteouts are ordinary files (for copying an archive into a directory as-is).</summary>
    None,
}

/// <summary>Options for <see cref="LayerExtractor.Extract"/>.</summary>
public sealed class ExtractOptions
{
    public WhiteoutMode Whiteouts { get; init; } = WhiteoutMode.Overlay;
    /// <summary>Apply uid/gid from the archive (needs root); otherwise files belong to the caller.</summary>
    public bool PreserveOwnership { get; init; } = true;
    /// <summary>Apply xattrs; a file system without xattr support (EOPNOTSUPP) is tolerated.</summary>
    public bool PreserveXattrs { get; init; } = true;
    /// <summary>
    /// Refuse entries (and hard link targets) with absolute names instead of resolving them inside the root as tar does:
    /// image builders never write them, so in a layer from a registry they are a sign of a crafted archive.
    /// </summary>
    public bool RejectAbsoluteNames { get; init; }

    /// <summary>
    /// Refuse (<see cref="ArchiveEntryException"/>) to replace an existing directory with a non-directory
    /// or an existing non-directory with a directory (docker cp's noOverwriteDirNonDir).
    /// </summary>
    public bool NoOverwriteDirNonDir { get; init; }

    /// <summary>
    /// The daemon's user namespace remapping (<c>--userns-remap</c>): the archive's ids are container ids, stored as the
    /// host ids they map to; an entry whose ids the mapping does not cover is refused. Without
    /// <see cref="PreserveOwnership"/>, every entry belongs to the mapping's root instead of the caller.
    /// </summary>
    public IdMap? Ids { get; init; }

    /// <summary>
    /// With <see cref="PreserveOwnership"/>: every entry gets these (container) ids instead of the archive's
    /// (<c>docker cp -a</c> into a container with a user), mapped by <see cref="Ids"/> like archive ids.
    /// </summary>
    public (int Uid, int Gid)? Owner { get; init; }

    /// <summary>A copy of these options with <see cref="Ids"/> set.</summary>
    public ExtractOptions WithIds(IdMap? ids) => new()
    {
        Whiteouts = Whiteouts, PreserveOwnership = PreserveOwnership, PreserveXattrs = PreserveXattrs,
        RejectAbsoluteNames = RejectAbsoluteNames, NoOverwriteDirNonDir = NoOverwriteDirNonDir, Ids = ids, Owner = Owner,
    };
}

/// <summary>What an extraction did.</summary>
public sealed record ExtractResult(long Entries, long FileBytes);

/// <summary>
/// Safe extraction of a (layer) tar stream into a root directory.
/// <para>
/// Contract: nothing is ever created, modified or followed outside <c>root</c>. Entry names are
/// cleaned lexically; a leading '/' is dropped (absolute names are resolved inside the root) and a
/// <c>..</c> that would climb above the root is refused. Parent directories are walked one
/// component at a time with <c>O_PATH|O_NOFOLLOW</c>; a symlink met on the way is expanded by
/// this code, never by the kernel, and refused when it leads out of the root (an absolute target,
/// which on the host would leave the root, or a relative one climbing above it). Final components
/// are created with <c>*at</c> calls relative to the vetted parent directory fd and never followed
/// (O_EXCL|O_NOFOLLOW, AT_SYMLINK_NOFOLLOW); symlink entries are created exactly as given. Hard
/// links must name a path inside the root that an earlier entry created (or that already exists).
/// A refused entry throws <see cref="UnsafeArchiveEntryException"/> with its name before anything
/// of it is written; any other unusable entry throws <see cref="ArchiveEntryException"/>.
/// </para>
/// <para>
/// Metadata: ownership (lchown semantics), mode including setuid/setgid/sticky (applied after the
/// chown that would clear them), xattrs byte-exact, mtimes (directories last, so that creating
/// their children does not disturb them). Existing entries are replaced, except that a directory
/// entry over an existing directory merges into it.
/// </para>
/// </summary>
public static class LayerExtractor
{
    /// <summary>Extracts the tar archive read from <paramref name="tar"/> (already decompressed) into <paramref name="root"/>, which must exist.</summary>
    public static ExtractResult Extract(Stream tar, string root, ExtractOptions? options = null)
    {
        using var reader = new TarReader(tar, leaveOpen: true);
        using var session = new Session(Path.GetFullPath(root), options ?? new ExtractOptions());
        long entries = 0;
        while (reader.GetNextEntry() is { } entry)
        {
            session.Apply(entry);
            entries++;
        }
        session.FinishDirectoryTimes();
        return new ExtractResult(entries, session.FileBytes);
    }

    private sealed class Session : IDisposable
    {
        private const int MaxSymlinks = 40;
        private readonly string _root;
        private readonly int _rootFd;
        private readonly ExtractOptions _options;
        private readonly bool _chown;
        private readonly List<(string Path, DateTimeOffset Atime, DateTimeOffset Mtime)> _dirTimes = [];
        private string? _cachedParent;
        private int _cachedFd = -1;
        private readonly byte[] _copyBuffer = new byte[256 * 1024];

        public Session(string root, ExtractOptions options)
        {
            _root = root;
            _options = options;
            _chown = options.PreserveOwnership || options.Ids is not null;
            _rootFd = Libc.openat(Libc.AT_FDCWD, root, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
            if (_rootFd < 0) throw new LinuxException("open", FsNative.Errno, root);
        }

        public long FileBytes { get; private set; }

        public void Apply(TarEntry entry)
        {
            if (_options.Owner is { } owner) (entry.Uid, entry.Gid) = owner;
            if (_options.Ids is { } ids)
            {
                if (!_options.PreserveOwnership) (entry.Uid, entry.Gid) = (ids.RootUid, ids.RootGid);
                else if (!ids.ToHost(entry.Uid, entry.Gid, out var hu, out var hg))
                    throw new ArchiveEntryException(entry.Name, $"container ID {entry.Uid}:{entry.Gid} cannot be mapped to a host ID");
                else (entry.Uid, entry.Gid) = (hu, hg);
            }
            if (_options.RejectAbsoluteNames && entry.Name.StartsWith('/'))
                throw new UnsafeArchiveEntryException(entry.Name, "absolute path in a layer");
            var parts = Clean(entry.Name, entry.Name);
            if (parts.Count == 0)
            {
                if (entry.Type != TarEntryType.Directory)
                    throw new ArchiveEntryException(entry.Name, "the archive root must be a directory");
                ApplyMetadata(entry, Libc.AT_FDCWD, _root, _root);
                _dirTimes.Add(("", entry.AccessTime ?? entry.ModificationTime, entry.ModificationTime));
                return;
            }
            string name = parts[^1];
            string parentPath = string.Join('/', parts.GetRange(0, parts.Count - 1));
            int parent = Parent(entry.Name, parentPath);

            if (_options.Whiteouts == WhiteoutMode.Overlay && name.StartsWith(".wh.", StringComparison.Ordinal))
            {
                ApplyWhiteout(entry, parent, name);
                return;
            }

            // A hard link's target is vetted before anything at the entry's own path changes.
            if (entry.Type == TarEntryType.HardLink)
            {
                CreateHardLink(entry, parent, name);
                return;
            }

            bool exists = FsNative.TryStat(parent, name, out var existing);
            if (exists)
            {
                bool existingDir = FsNative.FileType(existing) == Libc.S_IFDIR;
                bool keepDir = entry.Type == TarEntryType.Directory && existingDir;
                if (_options.NoOverwriteDirNonDir && existingDir != (entry.Type == TarEntryType.Directory))
                    throw new ArchiveEntryException(entry.Name, existingDir
                        ? "cannot overwrite directory with non-directory"
                        : "cannot overwrite non-directory with directory");
                if (!keepDir) Remove(entry.Name, parent, name, existing);
            }

            string procPath = $"/proc/self/fd/{parent}/{name}";
            switch (entry.Type)
            {
                case TarEntryType.Directory:
                    if (!exists || FsNative.FileType(existing) != Libc.S_IFDIR)
                        Check(Libc.mkdirat(parent, name, 0x1C0), "mkdirat", entry);
                    ApplyMetadata(entry, parent, name, procPath);
                    _dirTimes.Add((string.Join('/', parts), entry.AccessTime ?? entry.ModificationTime, entry.ModificationTime));
                    return;
                case TarEntryType.RegularFile:
                    WriteFile(entry, parent, name, procPath);
                    return;
                case TarEntryType.SymbolicLink:
                    if (entry.LinkName.Length == 0 || entry.LinkName.Contains('\0'))
                        throw new ArchiveEntryException(entry.Name, "empty or invalid symlink target");
                    Check(Libc.symlinkat(entry.LinkName, parent, name), "symlinkat", entry);
                    ApplyMetadata(entry, parent, name, procPath);
                    return;
                case TarEntryType.CharacterDevice:
                case TarEntryType.BlockDevice:
                case TarEntryType.Fifo:
                    uint type = entry.Type switch
                    {
                        TarEntryType.CharacterDevice => Libc.S_IFCHR,
                        TarEntryType.BlockDevice => Libc.S_IFBLK,
                        _ => Libc.S_IFIFO,
                    };
                    ulong dev = entry.Type == TarEntryType.Fifo ? 0 : Libc.MakeDev(entry.DevMajor, entry.DevMinor);
                    Check(Libc.mknodat(parent, name, type | 0x180, dev), "mknodat", entry);
                    ApplyMetadata(entry, parent, name, procPath);
                    return;
            }
        }

        private void ApplyWhiteout(TarEntry entry, int parent, string name)
        {
            if (name == ".wh..wh..opq")
            {
                int e = FsNative.SetXattr($"/proc/self/fd/{parent}/.", "trusted.overlay.opaque", "y"u8.ToArray());
                if (e != 0) throw new ArchiveEntryException(entry.Name, $"cannot mark directory opaque: {new LinuxException("lsetxattr", e).Message}");
                return;
            }
            if (name.StartsWith(".wh..wh.", StringComparison.Ordinal)) return;
            string target = name[4..];
            if (target.Length == 0 || target is "." or "..")
                throw new ArchiveEntryException(entry.Name, "invalid whiteout name");
            if (FsNative.TryStat(parent, target, out var existing)) Remove(entry.Name, parent, target, existing);
            Check(Libc.mknodat(parent, target, Libc.S_IFCHR, 0), "mknodat", entry);
            if (_chown)
                Check(Libc.fchownat(parent, target, (uint)entry.Uid, (uint)entry.Gid, Libc.AT_SYMLINK_NOFOLLOW), "fchownat", entry);
        }

        private void WriteFile(TarEntry entry, int parent, string name, string procPath)
        {
            int fd = Libc.openat(parent, name, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0x180);
            Check(fd, "openat", entry);
            using (var handle = new SafeFileHandle(fd, ownsHandle: true))
            {
                if (entry.Size > 0 && entry.DataStream is { } data)
                {
                    // Decompressors return a few KB per read: fill the buffer first, so a big file takes few writes.
                    int n;
                    long offset = 0;
                    while ((n = data.ReadAtLeast(_copyBuffer, _copyBuffer.Length, throwOnEndOfStream: false)) > 0)
                    {
                        RandomAccess.Write(handle, _copyBuffer.AsSpan(0, n), offset);
                        offset += n;
                    }
                    FileBytes += offset;
                }
                if (_chown)
                    Check(Libc.fchown(fd, (uint)entry.Uid, (uint)entry.Gid), "fchown", entry);
                Check(Libc.fchmod(fd, entry.Mode & 0xFFF), "fchmod", entry);
            }
            SetXattrs(entry, procPath);
            SetTimes(entry, parent, name);
        }

        private void CreateHardLink(TarEntry entry, int parent, string name)
        {
            if (_options.RejectAbsoluteNames && entry.LinkName.StartsWith('/'))
                throw new UnsafeArchiveEntryException(entry.Name, $"hard link to the absolute path '{entry.LinkName}'");
            var target = Clean(entry.LinkName, entry.Name);
            if (target.Count == 0) throw new ArchiveEntryException(entry.Name, "hard link to the root");
            string targetParentPath = string.Join('/', target.GetRange(0, target.Count - 1));
            int targetParent = Walk(entry.Name, targetParentPath, create: false);
            if (targetParent == -1)
                throw new ArchiveEntryException(entry.Name, $"hard link target '{entry.LinkName}' does not exist in the root");
            try
            {
                if (!FsNative.TryStat(targetParent, target[^1], out var st))
                    throw new ArchiveEntryException(entry.Name, $"hard link target '{entry.LinkName}' does not exist in the root");
                if (FsNative.FileType(st) == Libc.S_IFDIR)
                    throw new ArchiveEntryException(entry.Name, $"hard link target '{entry.LinkName}' is a directory");
                if (FsNative.TryStat(parent, name, out var existing))
                {
                    if (FsNative.FileType(existing) != Libc.S_IFDIR && existing.Ino == st.Ino && existing.DevMajor == st.DevMajor && existing.DevMinor == st.DevMinor)
                        return;
                    Remove(entry.Name, parent, name, existing);
                }
                Check(Libc.linkat(targetParent, target[^1], parent, name, 0), "linkat", entry);
            }
            finally
            {
                if (targetParent != _rootFd) Libc.close(targetParent);
            }
        }

        private void ApplyMetadata(TarEntry entry, int parent, string name, string xattrPath)
        {
            bool isLink = entry.Type == TarEntryType.SymbolicLink;
            if (_chown)
                Check(Libc.fchownat(parent, name, (uint)entry.Uid, (uint)entry.Gid, Libc.AT_SYMLINK_NOFOLLOW), "fchownat", entry);
            if (!isLink) Check(Libc.fchmodat(parent, name, entry.Mode & 0xFFF, 0), "fchmodat", entry);
            SetXattrs(entry, xattrPath);
            if (entry.Type != TarEntryType.Directory) SetTimes(entry, parent, name);
        }

        /// <summary>
        /// Applies the entry's xattrs. <c>trusted.overlay.*</c> from an archive is never applied: overlay metadata
        /// (redirects, origins, opaque flags) must come only from the whiteout conventions this extractor controls.
        /// A file system without xattrs (EOPNOTSUPP) and user xattrs on symlinks (EPERM, the kernel forbids them) are skipped.
        /// </summary>
        private void SetXattrs(TarEntry entry, string path)
        {
            if (!_options.PreserveXattrs) return;
            foreach (var (key, value) in entry.Xattrs)
            {
                if (key.StartsWith("trusted.overlay.", StringComparison.Ordinal)) continue;
                int e = FsNative.SetXattr(path, key, value);
                if (e is 0 or Libc.EOPNOTSUPP) continue;
                if (e == Libc.EPERM && entry.Type == TarEntryType.SymbolicLink && key.StartsWith("user.", StringComparison.Ordinal)) continue;
                throw new ArchiveEntryException(entry.Name, $"cannot set xattr {key}: {new LinuxException("lsetxattr", e).Message}");
            }
        }

        private static unsafe void SetTimes(TarEntry entry, int dirfd, string name)
        {
            var times = stackalloc Libc.Timespec[2];
            times[0] = FsNative.ToTimespec(entry.AccessTime ?? entry.ModificationTime);
            times[1] = FsNative.ToTimespec(entry.ModificationTime);
            Check(Libc.utimensat(dirfd, name, times, Libc.AT_SYMLINK_NOFOLLOW), "utimensat", entry);
        }

        public unsafe void FinishDirectoryTimes()
        {
            var times = stackalloc Libc.Timespec[2];
            for (int i = _dirTimes.Count - 1; i >= 0; i--)
            {
                var (path, atime, mtime) = _dirTimes[i];
                times[0] = FsNative.ToTimespec(atime);
                times[1] = FsNative.ToTimespec(mtime);
                if (path.Length == 0)
                {
                    Libc.utimensat(Libc.AT_FDCWD, _root, times, 0);
                    continue;
                }
                int slash = path.LastIndexOf('/');
                int parent;
                try { parent = Walk(path, slash < 0 ? "" : path[..slash], create: false); }
                catch (ArchiveEntryException) { continue; }
                if (parent == -1) continue;
                try
                {
                    Libc.utimensat(parent, slash < 0 ? path : path[(slash + 1)..], times, Libc.AT_SYMLINK_NOFOLLOW);
                }
                finally
                {
                    if (parent != _rootFd) Libc.close(parent);
                }
            }
        }

        private void Remove(string entryName, int parent, string name, in Libc.Statx st)
        {
            // The cached fd is either this entry's parent (a removed child cannot invalidate it) or
            // a directory the removal may have detached.
            if (_cachedFd != parent) InvalidateCache();
            if (FsNative.FileType(st) == Libc.S_IFDIR)
            {
                // The /proc magic link pins the vetted parent; .NET's recursive delete unlinks
                // symlinks it meets instead of descending into them.
                Directory.Delete($"/proc/self/fd/{parent}/{name}", recursive: true);
            }
            else if (Libc.unlinkat(parent, name, 0) < 0)
            {
                throw new ArchiveEntryException(entryName, new LinuxException("unlinkat", FsNative.Errno, name).Message);
            }
        }

        /// <summary>The vetted parent directory fd of an entry (borrowed; owned by the one-entry cache).</summary>
        private int Parent(string entryName, string parentPath)
        {
            if (parentPath.Length == 0) return _rootFd;
            if (_cachedParent == parentPath) return _cachedFd;
            int fd = Walk(entryName, parentPath, create: true);
            InvalidateCache();
            _cachedParent = parentPath;
            _cachedFd = fd;
            return fd;
        }

        private void InvalidateCache()
        {
            if (_cachedFd >= 0) Libc.close(_cachedFd);
            _cachedFd = -1;
            _cachedParent = null;
        }

        /// <summary>
        /// Resolves a cleaned relative directory path inside the root, creating missing directories
        /// (mode 0755) when <paramref name="create"/>. Returns an fd the caller owns (or the root fd
        /// itself), or -1 when <paramref name="create"/> is false and a component is missing.
        /// </summary>
        private int Walk(string entryName, string path, bool create)
        {
            var queue = new LinkedList<string>(path.Split('/', StringSplitOptions.RemoveEmptyEntries));
            var stack = new List<int>();
            int links = 0;
            try
            {
                while (queue.First is { } node)
                {
                    string c = node.Value;
                    queue.RemoveFirst();
                    if (c == ".") continue;
                    if (c == "..")
                    {
                        if (stack.Count == 0)
                            throw new UnsafeArchiveEntryException(entryName, "path resolves outside the root");
                        Libc.close(stack[^1]);
                        stack.RemoveAt(stack.Count - 1);
                        continue;
                    }
                    int cur = stack.Count == 0 ? _rootFd : stack[^1];
                    int fd = Libc.openat(cur, c, Libc.O_PATH | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                    if (fd < 0 && FsNative.Errno == Libc.ENOENT)
                    {
                        if (!create) return CloseAll(stack, -1);
                        if (Libc.mkdirat(cur, c, 0x1ED) < 0 && FsNative.Errno != Libc.EEXIST)
                            throw new ArchiveEntryException(entryName, new LinuxException("mkdirat", FsNative.Errno, c).Message);
                        fd = Libc.openat(cur, c, Libc.O_PATH | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                    }
                    if (fd < 0) throw new ArchiveEntryException(entryName, new LinuxException("openat", FsNative.Errno, c).Message);
                    FsNative.TryStat(fd, "", out var st);
                    uint type = FsNative.FileType(st);
                    if (type == Libc.S_IFDIR)
                    {
                        stack.Add(fd);
                        continue;
                    }
                    if (type != Libc.S_IFLNK)
                    {
                        Libc.close(fd);
                        throw new ArchiveEntryException(entryName, $"parent component '{c}' is not a directory");
                    }
                    string target;
                    try { target = FsNative.ReadLink(fd, ""); }
                    finally { Libc.close(fd); }
                    if (++links > MaxSymlinks)
                        throw new ArchiveEntryException(entryName, "too many levels of symbolic links");
                    if (target.StartsWith('/'))
                        throw new UnsafeArchiveEntryException(entryName, $"path goes through symlink '{c}' -> '{target}', which leads outside the root");
                    var parts = target.Split('/', StringSplitOptions.RemoveEmptyEntries);
                    for (int i = parts.Length - 1; i >= 0; i--) queue.AddFirst(parts[i]);
                }
                if (stack.Count == 0) return _rootFd;
                int result = stack[^1];
                stack.RemoveAt(stack.Count - 1);
                CloseAll(stack, 0);
                return result;
            }
            catch
            {
                CloseAll(stack, 0);
                throw;
            }
        }

        private static int CloseAll(List<int> fds, int result)
        {
            foreach (int fd in fds) Libc.close(fd);
            fds.Clear();
            return result;
        }

        /// <summary>Lexically cleans an archive path into components; a climb above the root is refused.</summary>
        private static List<string> Clean(string name, string entryName)
        {
            var parts = new List<string>();
            foreach (var c in name.Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                if (c == ".") continue;
                if (c == "..")
                {
                    if (parts.Count == 0) throw new UnsafeArchiveEntryException(entryName, $"path '{name}' climbs out of the root");
                    parts.RemoveAt(parts.Count - 1);
                    continue;
                }
                if (c.Contains('\0')) throw new ArchiveEntryException(entryName, "NUL in path");
                parts.Add(c);
            }
            return parts;
        }

        private static void Check(int rc, string op, TarEntry entry)
        {
            if (rc < 0) throw new ArchiveEntryException(entry.Name, new LinuxException(op, FsNative.Errno).Message);
        }

        public void Dispose()
        {
            InvalidateCache();
            Libc.close(_rootFd);
        }
    }
}
