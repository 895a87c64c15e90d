using Skiff.Linux;

namespace Skiff.Archive;

/// <summary>One path of a merged overlay view: its metadata and the layer file that provides it.</summary>
/// <param name="Path">Relative, '/'-separated path in the merged view ("" is the root).</param>
/// <param name="HostPath">The file in the topmost layer that provides it.</param>
/// <param name="LinkName">Symlink target, as stored; "" for other types.</param>
public sealed record OverlayNode(string Path, string HostPath, TarEntryType Type, uint Mode, int Uid, int Gid, long Size,
    DateTimeOffset ModificationTime, string LinkName);

/// <summary>
/// Point lookups in the merged view of a stack of layer directories (topmost first), with overlayfs rules (see
/// <see cref="OverlayTree"/>), without mounting. Symlinks are never followed: a path whose parent is a symlink in the
/// merged view is reported as missing, so callers resolve links themselves (inside the root). Used by builds to read
/// an image's files (<c>COPY --from</c>, <c>--chown</c> names, existing destination directories).
/// </summary>
public static class OverlayView
{
    /// <summary>The node at <paramref name="relPath"/>, or null when it does not exist or a parent is not a directory.</summary>
    public static OverlayNode? Lookup(IReadOnlyList<string> layersTopFirst, string relPath) => Walk(layersTopFirst, relPath).Node;

    /// <summary>The children of a directory of the merged view, sorted by name; empty when it is not a directory.</summary>
    public static IReadOnlyList<OverlayNode> List(IReadOnlyList<string> layersTopFirst, string relDir)
    {
        relDir = relDir.Trim('/');
        var (node, dirLayers) = Walk(layersTopFirst, relDir);
        if (node is null || node.Type != TarEntryType.Directory) return [];
        var seen = new SortedDictionary<string, OverlayNode?>(StringComparer.Ordinal);
        foreach (int i in dirLayers)
        {
            string dir = relDir.Length == 0 ? layersTopFirst[i] : Path.Combine(layersTopFirst[i], relDir);
            foreach (var child in Directory.EnumerateFileSystemEntries(dir))
            {
                string name = Path.GetFileName(child);
                if (seen.ContainsKey(name)) continue;
                if (!FsNative.TryStat(Libc.AT_FDCWD, child, out var st)) continue;
                seen[name] = IsWhiteout(st) ? null : Node(relDir.Length == 0 ? name : relDir + "/" + name, child, st);
            }
        }
        return seen.Values.OfType<OverlayNode>().ToList();
    }

    /// <summary>Walks <paramref name="relPath"/> down the layers; returns its node and, for a directory, the layers that merge into it.</summary>
    private static (OverlayNode? Node, List<int> DirLayers) Walk(IReadOnlyList<string> layersTopFirst, string relPath)
    {
        var parts = relPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var dirLayers = RootLayers(layersTopFirst);
        if (dirLayers.Count == 0) return (null, []);
        if (parts.Length == 0)
        {
            FsNative.TryStat(Libc.AT_FDCWD, layersTopFirst[dirLayers[0]], out var rootSt);
            return (Node("", layersTopFirst[dirLayers[0]], rootSt), dirLayers);
        }
        string rel = "";
        for (int k = 0; k < parts.Length; k++)
        {
            rel = k == 0 ? parts[0] : rel + "/" + parts[k];
            string? top = null;
            Libc.Statx topSt = default;
            var next = new List<int>();
            foreach (int i in dirLayers)
            {
                string p = Path.Combine(layersTopFirst[i], rel);
                if (!FsNative.TryStat(Libc.AT_FDCWD, p, out var st)) continue;
                if (IsWhiteout(st)) break;
                bool isDir = FsNative.FileType(st) == Libc.S_IFDIR;
                if (top is null) { top = p; topSt = st; }
                else if (!isDir) break;
                if (!isDir) break;
                next.Add(i);
                if (IsOpaque(p)) break;
            }
            if (top is null) return (null, []);
            if (k == parts.Length - 1) return (Node(rel, top, topSt), next);
            if (FsNative.FileType(topSt) != Libc.S_IFDIR) return (null, []);
            dirLayers = next;
        }
        return (null, []);
    }

    private static List<int> RootLayers(IReadOnlyList<string> layers)
    {
        var result = new List<int>();
        for (int i = 0; i < layers.Count; i++)
        {
            if (!FsNative.TryStat(Libc.AT_FDCWD, layers[i], out var st)) continue;
            if (FsNative.FileType(st) != Libc.S_IFDIR) break;
            result.Add(i);
            if (IsOpaque(layers[i])) break;
        }
        return result;
    }

    private static OverlayNode Node(string rel, string host, in Libc.Statx st)
    {
        var type = FsNative.FileType(st) switch
        {
            Libc.S_IFDIR => TarEntryType.Directory,
            Libc.S_IFLNK => TarEntryType.SymbolicLink,
            Libc.S_IFCHR => TarEntryType.CharacterDevice,
            Libc.S_IFBLK => TarEntryType.BlockDevice,
            Libc.S_IFIFO => TarEntryType.Fifo,
            _ => TarEntryType.RegularFile,
        };
        return new OverlayNode(rel, host, type, st.Mode & 0xFFFu, (int)st.Uid, (int)st.Gid,
            type == TarEntryType.RegularFile ? (long)st.Size : 0, FsNative.FromStatx(st.Mtime),
            type == TarEntryType.SymbolicLink ? FsNative.ReadLink(Libc.AT_FDCWD, host) : "");
    }

    private static bool IsWhiteout(in Libc.Statx st) =>
        FsNative.FileType(st) == Libc.S_IFCHR && st.RdevMajor == 0 && st.RdevMinor == 0;

    private static bool IsOpaque(string dir) => FsNative.GetXattr(dir, "trusted.overlay.opaque") is [(byte)'y'];
}
