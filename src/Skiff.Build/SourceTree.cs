using System.Security.Cryptography;
using Skiff.Archive;

namespace Skiff.Build;

/// <summary>A file, directory or symlink that COPY/ADD can read.</summary>
public sealed class SourceNode
{
    /// <summary>Clean relative path inside its tree ("" is the root).</summary>
    public required string Path { get; init; }
    public required TarEntryType Type { get; init; }
    public uint Mode { get; init; }
    public int Uid { get; init; }
    public int Gid { get; init; }
    public long Size { get; init; }
    public DateTimeOffset ModificationTime { get; init; }
    public string LinkName { get; init; } = "";
    /// <summary>sha256 of the content (regular files), when the tree knows it without reading.</summary>
    public byte[]? Sha256 { get; set; }
    internal long Offset { get; init; }
    internal string? HostPath { get; init; }

    public string Name => Path.Length == 0 ? "" : Path[(Path.LastIndexOf('/') + 1)..];
}

/// <summary>
/// A read-only file tree that build steps copy from: the build context or an image's merged layers. Paths are
/// relative and '/'-separated; nothing here follows symlinks (see <see cref="SourceTrees.Resolve"/>).
/// </summary>
public interface ISourceTree
{
    /// <summary>The node at a clean relative path, without following symlinks; null when missing.</summary>
    SourceNode? Lookup(string path);
    /// <summary>Children of a directory, sorted by name.</summary>
    IReadOnlyList<SourceNode> Children(string dir);
    /// <summary>The content of a regular file.</summary>
    Stream Open(SourceNode node);
}

public static class SourceTrees
{
    private const int MaxSymlinks = 40;

    /// <summary>Lexical clean of a path relative to a root: '/' and '.' dropped, ".." never climbs above the root.</summary>
    public static string Clean(string path) => DockerIgnore.Clean(path);

    /// <summary>
    /// Resolves <paramref name="path"/> inside the tree's root, following symlinks met on the way as if the root were
    /// "/" (absolute targets start over at the root, ".." stops at it), so a link can never lead outside the tree.
    /// The final component is followed only when <paramref name="followFinal"/>. Returns the clean resolved path
    /// (which may not exist).
    /// </summary>
    public static string Resolve(ISourceTree tree, string path, bool followFinal)
    {
        var pending = new Stack<string>(Clean(path).Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse());
        var resolved = new List<string>();
        int hops = 0;
        while (pending.Count > 0)
        {
            string part = pending.Pop();
            if (part == ".") continue;
            if (part == "..") { if (resolved.Count > 0) resolved.RemoveAt(resolved.Count - 1); continue; }
            resolved.Add(part);
            bool last = pending.Count == 0;
            if (last && !followFinal) break;
            var node = tree.Lookup(string.Join('/', resolved));
            if (node is null || node.Type != TarEntryType.SymbolicLink) continue;
            if (++hops > MaxSymlinks) throw new BuildException($"too many levels of symbolic links: {path}");
            resolved.RemoveAt(resolved.Count - 1);
            if (node.LinkName.StartsWith('/')) resolved.Clear();
            foreach (var p in node.LinkName.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse()) pending.Push(p);
        }
        return string.Join('/', resolved);
    }

    /// <summary>sha256 of a regular file's content (cached on the node).</summary>
    public static byte[] Hash(ISourceTree tree, SourceNode node)
    {
        if (node.Sha256 is { } h) return h;
        using var s = tree.Open(node);
        node.Sha256 = SHA256.HashData(s);
        return node.Sha256;
    }
}

/// <summary>An image's root filesystem (its layers merged), read in place; with a remapping (<c>--userns-remap</c>) the
/// files' host ids are reported as the container ids they stand for.</summary>
public sealed class ImageTree(IReadOnlyList<string> layersTopFirst, IdMap? ids = null) : ISourceTree
{
    public SourceNode? Lookup(string path) => OverlayView.Lookup(layersTopFirst, path) is { } n ? Convert(n) : null;

    public IReadOnlyList<SourceNode> Children(string dir) => OverlayView.List(layersTopFirst, dir).Select(Convert).ToList();

    public Stream Open(SourceNode node) =>
        new FileStream(node.HostPath ?? throw new InvalidOperationException("not an image node"), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);

    private SourceNode Convert(OverlayNode n)
    {
        var (uid, gid) = ids is null ? (n.Uid, n.Gid) : ids.ToContainer(n.Uid, n.Gid);
        return new()
        {
            Path = n.Path, Type = n.Type, Mode = n.Mode, Uid = uid, Gid = gid, Size = n.Size,
            ModificationTime = n.ModificationTime, LinkName = n.LinkName, HostPath = n.HostPath,
        };
    }
}
