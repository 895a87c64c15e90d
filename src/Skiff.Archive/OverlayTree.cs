using Skiff.Linux;

namespace Skiff.Archive;

/// <summary>Kinds of <c>docker diff</c> changes, with Docker's numeric values (0 modified, 1 added, 2 deleted).</summary>
public enum ChangeKind
{
    Modified = 0,
    Added = 1,
    Deleted = 2,
}

/// <summary>One <c>docker diff</c> line: an absolute path inside the container and what happened to it.</summary>
public sealed record LayerChange(string Path, ChangeKind Kind);

/// <summary>
/// Reads a stack of overlay layer directories (topmost first, e.g. a container's upper dir followed by its image's
/// layers) the way overlayfs presents them, without mounting anything: a 0/0 character device hides the same name
/// below, a directory with <c>trusted.overlay.opaque=y</c> hides everything below it, and a non-directory hides a
/// directory below. This serves <c>docker export</c>, <c>docker cp</c> and <c>docker diff</c> for containers that are
/// not running (a running container's rootfs is only mounted in its own mount namespace).
/// </summary>
public static class OverlayTree
{
    /// <summary>Writes the merged view of <paramref name="layersTopFirst"/> as a tar (entries sorted, symlinks not followed).</summary>
    public static void WriteMerged(IReadOnlyList<string> layersTopFirst, Stream output, ArchiveOptions? options = null)
    {
        options ??= new ArchiveOptions();
        if (options.OverlayDiff) throw new ArgumentException("a merged view has no whiteouts", nameof(options));
        using var writer = new TarWriter(output, leaveOpen: true);
        var links = new Dictionary<(ulong, ulong), string>();
        var rootLayers = new List<int>();
        for (int i = 0; i < layersTopFirst.Count; i++)
        {
            if (!FsNative.TryStat(Libc.AT_FDCWD, layersTopFirst[i], out var st)) continue;
            if (FsNative.FileType(st) != Libc.S_IFDIR) break;
            rootLayers.Add(i);
            if (IsOpaque(layersTopFirst[i])) break;
        }
        string prefix = options.Prefix.Trim('/');
        MergeDirectory(writer, layersTopFirst, "", rootLayers, prefix.Length > 0 ? prefix + "/" : "", options, links);
        writer.Finish();
    }

    private static void MergeDirectory(TarWriter writer, IReadOnlyList<string> layers, string rel, List<int> dirLayers,
        string namePrefix, ArchiveOptions options, Dictionary<(ulong, ulong), string> links)
    {
        var visible = new SortedDictionary<string, (int Layer, Libc.Statx St)?>(StringComparer.Ordinal);
        foreach (int i in dirLayers)
        {
            string dir = Path.Combine(layers[i], rel);
            foreach (var child in Directory.EnumerateFileSystemEntries(dir))
            {
                string name = Path.GetFileName(child);
                if (visible.ContainsKey(name)) continue;
                if (!FsNative.TryStat(Libc.AT_FDCWD, child, out var st)) continue;
                visible[name] = IsWhiteout(st) ? null : (i, st);
            }
        }
        foreach (var (name, found) in visible)
        {
            if (found is not { } f) continue;
            string childRel = rel.Length == 0 ? name : rel + "/" + name;
            string path = Path.Combine(layers[f.Layer], childRel);
            string entryName = namePrefix + childRel;
            DirectoryArchiver.WriteOne(writer, path, entryName, f.St, options, links);
            if (FsNative.FileType(f.St) != Libc.S_IFDIR) continue;
            var childLayers = new List<int>();
            foreach (int j in dirLayers)
            {
                if (j < f.Layer) continue;
                string p = Path.Combine(layers[j], childRel);
                if (!FsNative.TryStat(Libc.AT_FDCWD, p, out var st)) continue;
                if (FsNative.FileType(st) != Libc.S_IFDIR) break;
                childLayers.Add(j);
                if (IsOpaque(p)) break;
            }
            MergeDirectory(writer, layers, childRel, childLayers, namePrefix, options, links);
        }
    }

    /// <summary>
    /// <c>docker diff</c>: the changes recorded in <paramref name="upperDir"/> relative to the image layers
    /// <paramref name="lowerDirsTopFirst"/>, sorted by path. A path present below is Modified (C), absent below Added (A),
    /// a whiteout Deleted (D); the contents of an opaque directory that existed below are reported Deleted unless re-added.
    /// </summary>
    public static IReadOnlyList<LayerChange> Changes(string upperDir, IReadOnlyList<string> lowerDirsTopFirst)
    {
        var changes = new List<LayerChange>();
        CollectChanges(upperDir, "", lowerDirsTopFirst, changes);
        changes.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        return changes;
    }

    private static void CollectChanges(string upperDir, string rel, IReadOnlyList<string> lowers, List<LayerChange> changes)
    {
        string dir = rel.Length == 0 ? upperDir : Path.Combine(upperDir, rel);
        foreach (var child in Directory.EnumerateFileSystemEntries(dir))
        {
            string name = Path.GetFileName(child);
            string childRel = rel.Length == 0 ? name : rel + "/" + name;
            if (!FsNative.TryStat(Libc.AT_FDCWD, child, out var st)) continue;
            if (IsWhiteout(st))
            {
                if (ExistsBelow(childRel, lowers)) changes.Add(new LayerChange("/" + childRel, ChangeKind.Deleted));
                continue;
            }
            bool below = ExistsBelow(childRel, lowers);
            changes.Add(new LayerChange("/" + childRel, below ? ChangeKind.Modified : ChangeKind.Added));
            if (FsNative.FileType(st) != Libc.S_IFDIR) continue;
            if (below && IsOpaque(child))
            {
                var merged = new MemoryStream();
                WriteMerged(lowers.Select(l => Path.Combine(l, childRel)).ToList(), merged, new ArchiveOptions { IncludeXattrs = false });
                merged.Position = 0;
                using var reader = new TarReader(merged);
                while (reader.GetNextEntry() is { } e)
                {
                    if (e.Name.Contains('/')) continue;
                    if (!FsNative.TryStat(Libc.AT_FDCWD, Path.Combine(child, e.Name), out _))
                        changes.Add(new LayerChange("/" + childRel + "/" + e.Name, ChangeKind.Deleted));
                }
            }
            CollectChanges(upperDir, childRel, IsOpaque(child) ? [] : lowers, changes);
        }
    }

    /// <summary>Whether <paramref name="rel"/> is visible in the merged view of <paramref name="lowers"/>.</summary>
    private static bool ExistsBelow(string rel, IReadOnlyList<string> lowers)
    {
        var parts = rel.Split('/');
        foreach (var layer in lowers)
        {
            string p = layer;
            bool stop = false;
            for (int k = 0; k < parts.Length; k++)
            {
                p = Path.Combine(p, parts[k]);
                if (!FsNative.TryStat(Libc.AT_FDCWD, p, out var st)) break;
                if (IsWhiteout(st)) return false;
                if (k == parts.Length - 1) return true;
                if (FsNative.FileType(st) != Libc.S_IFDIR) return false;
                if (IsOpaque(p)) stop = true;
            }
            if (stop) return false;
        }
        return false;
    }

    private static bool IsWhiteout(in Libc.Statx st) =>
        FsNative.FileType(st) == Libc.S_IFCHR && st.RdevMajor == 0 && st.RdevMinor == 0;

    private static bool IsOpaque(string dir) => FsNative.GetXattr(dir, "trusted.overlay.opaque") is [(byte)'y'];
}
