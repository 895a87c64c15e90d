using Microsoft.Win32.SafeHandles;
using Skiff.Linux;

namespace Skiff.Archive;

/// <summary>Options for <see cref="DirectoryArchiver"/>.</summary>
public sealed class ArchiveOptions
{
    /// <summary>
    /// Treat the source as an overlayfs upper dir and produce an OCI layer diff: 0/0 character
    /// devices become <c>.wh.NAME</c> entries, directories with <c>trusted.overlay.opaque=y</c> get a
    /// <c>.wh..wh..opq</c> entry, and <c>trusted.overlay.*</c> xattrs are never exported.
    /// </summary>
    public bool OverlayDiff { get; init; }
    /// <summary>Prefix of every entry name (e.g. the base name for <c>docker cp</c>); none by default.</summary>
    public string Prefix { get; init; } = "";
    /// <summary>Export xattrs (all but <c>trusted.overlay.*</c>).</summary>
    public bool IncludeXattrs { get; init; } = true;
    /// <summary>
    /// The daemon's user namespace remapping (<c>--userns-remap</c>): the tree is stored with host ids and the archive
    /// gets the container ids they stand for (see <see cref="IdMap.ToContainer"/>).
    /// </summary>
    public IdMap? Ids { get; init; }
}

/// <summary>
/// Writes a directory tree as a tar stream without following symlinks: entries are sorted by name
/// (so a tree produces the same bytes every time, which keeps diff IDs stable), hard-linked files
/// become hard-link entries after their first occurrence, sockets are skipped. Used for layer diffs
/// of a container's upper dir (commit/diff), for <c>docker export</c> of a merged rootfs and for
/// <c>docker cp</c>.
/// </summary>
public static class DirectoryArchiver
{
    /// <summary>Writes the contents of <paramref name="directory"/> (not the directory itself) to <paramref name="output"/> and ends the archive.</summary>
    public static void WriteTree(string directory, Stream output, ArchiveOptions? options = null)
    {
        options ??= new ArchiveOptions();
        using var writer = new TarWriter(output, leaveOpen: true);
        var links = new Dictionary<(ulong, ulong), string>();
        string prefix = options.Prefix.Trim('/');
        if (prefix.Length > 0)
        {
            if (!FsNative.TryStat(Libc.AT_FDCWD, directory, out var rootSt)) throw new DirectoryNotFoundException(directory);
            WriteOne(writer, directory, prefix, rootSt, options, links);
            if (FsNative.FileType(rootSt) == Libc.S_IFDIR) WriteChildren(writer, directory, prefix + "/", options, links);
        }
        else
        {
            WriteChildren(writer, directory, "", options, links);
        }
        writer.Finish();
    }

    private static void WriteChildren(TarWriter writer, string dir, string namePrefix, ArchiveOptions options,
        Dictionary<(ulong, ulong), string> links)
    {
        var names = Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).ToList();
        names.Sort(StringComparer.Ordinal);
        foreach (var name in names)
        {
            string path = Path.Combine(dir, name!);
            if (!FsNative.TryStat(Libc.AT_FDCWD, path, out var st)) continue;
            string entryName = namePrefix + name;
            if (WriteOne(writer, path, entryName, st, options, links) && FsNative.FileType(st) == Libc.S_IFDIR)
                WriteChildren(writer, path, entryName + "/", options, links);
        }
    }

    /// <summary>Writes one path; returns false when it was skipped or turned into a whiteout.</summary>
    internal static bool WriteOne(TarWriter writer, string path, string name, in Libc.Statx st, ArchiveOptions options,
        Dictionary<(ulong, ulong), string> links)
    {
        uint type = FsNative.FileType(st);
        if (type == Libc.S_IFSOCK) return false;
        var entry = new TarEntry(name, TarEntryType.RegularFile)
        {
            Mode = st.Mode & 0xFFFu,
            Uid = (int)st.Uid,
            Gid = (int)st.Gid,
            ModificationTime = FsNative.FromStatx(st.Mtime),
        };
        if (options.Ids is { } ids) (entry.Uid, entry.Gid) = ids.ToContainer((int)st.Uid, (int)st.Gid);

        if (options.OverlayDiff && type == Libc.S_IFCHR && st.RdevMajor == 0 && st.RdevMinor == 0)
        {
            int slash = name.LastIndexOf('/');
            entry.Name = name[..(slash + 1)] + ".wh." + name[(slash + 1)..];
            entry.Mode = 0;
            // Overlayfs makes whiteouts with its mounter's credentials (the host's root), which a mapping need not cover.
            if (options.Ids is not null) entry.Uid = entry.Gid = 0;
            writer.WriteEntry(entry);
            return false;
        }

        if (options.IncludeXattrs)
        {
            foreach (var x in FsNative.ListXattrs(path))
            {
                if (x.StartsWith("trusted.overlay.", StringComparison.Ordinal)) continue;
                if (FsNative.GetXattr(path, x) is { } v) entry.Xattrs[x] = v;
            }
        }

        switch (type)
        {
            case Libc.S_IFDIR:
                entry.Type = TarEntryType.Directory;
                writer.WriteEntry(entry);
                if (options.OverlayDiff && FsNative.GetXattr(path, "trusted.overlay.opaque") is [(byte)'y'])
                {
                    writer.WriteEntry(new TarEntry(name + "/.wh..wh..opq", TarEntryType.RegularFile)
                    {
                        ModificationTime = entry.ModificationTime,
                    });
                }
                return true;
            case Libc.S_IFLNK:
                entry.Type = TarEntryType.SymbolicLink;
                entry.LinkName = FsNative.ReadLink(Libc.AT_FDCWD, path);
                writer.WriteEntry(entry);
                return false;
            case Libc.S_IFCHR:
            case Libc.S_IFBLK:
                entry.Type = type == Libc.S_IFCHR ? TarEntryType.CharacterDevice : TarEntryType.BlockDevice;
                entry.DevMajor = st.RdevMajor;
                entry.DevMinor = st.RdevMinor;
                writer.WriteEntry(entry);
                return false;
            case Libc.S_IFIFO:
                entry.Type = TarEntryType.Fifo;
                writer.WriteEntry(entry);
                return false;
            case Libc.S_IFREG:
                if (st.Nlink > 1)
                {
                    var key = (((ulong)st.DevMajor << 32) | st.DevMinor, st.Ino);
                    if (links.TryGetValue(key, out var first))
                    {
                        entry.Type = TarEntryType.HardLink;
                        entry.LinkName = first;
                        writer.WriteEntry(entry);
                        return false;
                    }
                    links[key] = name;
                }
                entry.Size = (long)st.Size;
                int fd = Libc.openat(Libc.AT_FDCWD, path, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                if (fd < 0) throw new LinuxException("open", FsNative.Errno, path);
                using (var fs = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Read, bufferSize: 0))
                {
                    writer.WriteEntry(entry, fs);
                }
                return false;
            default:
                return false;
        }
    }
}
