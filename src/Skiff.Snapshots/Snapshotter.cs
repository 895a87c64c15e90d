using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Skiff.Snapshots;

/// <summary>
/// Overlayfs snapshots: read-only layer directories shared by all images, and per-container
/// writable layers.
/// <para>Lifecycle of a read-only layer:</para>
/// <list type="number">
/// <item><see cref="BeginLayer"/> creates an empty private directory <c>layers/.tmp-&lt;random&gt;/diff</c>;
/// the caller fills it (extracts a layer tar with overlay whiteouts).</item>
/// <item><see cref="PendingLayer.Commit"/> writes <c>meta.json</c>, then atomically renames the temp dir to
/// <c>layers/&lt;chain-hex&gt;</c> and creates the short link <c>l/&lt;short-id&gt;</c>. Only then is the
/// layer visible; a crash before the rename leaves a <c>.tmp-*</c> dir that <see cref="Recover"/> removes.
/// If the chain ID already exists the new copy is discarded: layers are stored once.</item>
/// <item>A committed layer is immutable. It is used as a <c>lowerdir</c> of any number of container mounts.</item>
/// <item><see cref="Remove"/> / <see cref="RemoveUnreferenced"/> rename the layer to <c>layers/.trash-*</c> (atomic, so it
/// disappears whole) and then delete it. The caller (the image store) decides reachability: it must keep
/// every chain ID of every image, and an image may not be removed while a container uses it.</item>
/// </list>
/// <para>Lifecycle of a writable snapshot (one per container, in a directory the caller owns):</para>
/// <list type="number">
/// <item><see cref="PrepareWritable"/> creates <c>upper/</c> and <c>work/</c> (keeping an existing upper dir, so a
/// restarted container keeps its changes) and returns the overlay mount options.</item>
/// <item>The runtime mounts <c>overlay</c> with those options on the container's rootfs (inside the container's mount
/// namespace); the container's changes land in <c>upper/</c>.</item>
/// <item>While it exists the upper dir can be turned into a layer diff (commit, <c>docker diff</c>) by the archive writer
/// in overlay mode; it must not be mounted by anybody else.</item>
/// <item><see cref="RemoveWritable"/> deletes <c>upper/</c> and <c>work/</c> after the overlay has been unmounted.</item>
/// </list>
/// <para>
/// Mount options: <c>lowerdir=</c> lists the topmost layer first. Paths are absolute because the mount is done by
/// another process whose working directory is unknown. When the absolute diff paths would make the option string
/// reach the 4096-byte page limit of mount(2), the short links <c>&lt;data-root&gt;/l/&lt;12 chars&gt;</c> are used instead
/// (about 30 bytes per layer with the default data root, so well over 100 layers fit).
/// </para>
/// Thread-safety: concurrent commits of different layers are safe; committing the same chain ID concurrently is
/// safe (one rename wins). Removal must not race with a commit or a prepare that uses the same layer.
/// </summary>
public sealed class Snapshotter
{
    private const int PageLimit = 4095;

    /// <param name="dataRoot">The daemon's data root; layers live in <c>&lt;dataRoot&gt;/layers</c>, short links in <c>&lt;dataRoot&gt;/l</c>.</param>
    public Snapshotter(string dataRoot)
    {
        DataRoot = Path.GetFullPath(dataRoot);
        LayersDirectory = Path.Combine(DataRoot, "layers");
        LinksDirectory = Path.Combine(DataRoot, "l");
        Directory.CreateDirectory(LayersDirectory);
        Directory.CreateDirectory(LinksDirectory);
        // Each layer is a hierarchy of its own: spread over ext4's block groups, a pull right after an rmi does not
        // wade through the inodes the rmi just freed (half of a many-files pull's CPU time here, bench/pull.sh).
        Skiff.Linux.Libc.TrySetTopDirectory(LayersDirectory);
    }

    public string DataRoot { get; }
    public string LayersDirectory { get; }
    public string LinksDirectory { get; }

    /// <summary>Accepts <c>sha256:&lt;hex&gt;</c> or bare hex and returns the 64-char hex.</summary>
    /// <exception cref="SnapshotException">Not a sha256 ID.</exception>
    public static string Hex(string id)
    {
        string hex = id.StartsWith("sha256:", StringComparison.Ordinal) ? id[7..] : id;
        if (hex.Length != 64 || !hex.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f'))
            throw new SnapshotException($"invalid layer ID '{id}'");
        return hex;
    }

    public bool Exists(string chainId) => File.Exists(Path.Combine(LayersDirectory, Hex(chainId), "meta.json"));

    /// <summary>The diff dir of a committed layer.</summary>
    public string DiffPath(string chainId) => Path.Combine(LayersDirectory, Hex(chainId), "diff");

    /// <summary>A committed layer, or null.</summary>
    public LayerInfo? Get(string chainId)
    {
        string dir = Path.Combine(LayersDirectory, Hex(chainId));
        string meta = Path.Combine(dir, "meta.json");
        if (!File.Exists(meta)) return null;
        var info = JsonSerializer.Deserialize(File.ReadAllBytes(meta), SnapshotJsonContext.Default.LayerInfo)
                   ?? throw new SnapshotException($"corrupt layer metadata {meta}");
        info.DiffPath = Path.Combine(dir, "diff");
        return info;
    }

    /// <summary>All committed layers.</summary>
    public IReadOnlyList<LayerInfo> List()
    {
        var result = new List<LayerInfo>();
        foreach (var dir in Directory.EnumerateDirectories(LayersDirectory))
        {
            string name = Path.GetFileName(dir);
            if (name.StartsWith('.')) continue;
            if (Get(name) is { } info) result.Add(info);
        }
        return result;
    }

    /// <summary>Starts a new layer in a private temp dir; see the lifecycle above.</summary>
    public PendingLayer BeginLayer()
    {
        string tmp = Path.Combine(LayersDirectory, ".tmp-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        Directory.CreateDirectory(Path.Combine(tmp, "diff"));
        return new PendingLayer(this, tmp);
    }

    internal LayerInfo CommitLayer(string tmp, string chainId, string? parent, string diffId, long size, LayerTar? tar)
    {
        string hex = Hex(chainId);
        if (parent is not null && !Exists(parent)) throw new SnapshotException($"parent layer {parent} does not exist");
        string final = Path.Combine(LayersDirectory, hex);
        if (Get(chainId) is { } existing)
        {
            Directory.Delete(tmp, recursive: true);
            return existing;
        }
        var info = new LayerInfo
        {
            ChainId = "sha256:" + hex,
            Parent = parent is null ? null : "sha256:" + Hex(parent),
            DiffId = "sha256:" + Hex(diffId),
            Size = size,
            ShortId = ShortId(hex),
            Created = DateTimeOffset.UtcNow,
            CompressedBlob = tar?.CompressedBlob,
            TarSize = tar?.Size ?? 0,
        };
        using (var fs = new FileStream(Path.Combine(tmp, "meta.json"), FileMode.Create))
        {
            JsonSerializer.Serialize(fs, info, SnapshotJsonContext.Default.LayerInfo);
            fs.Flush(flushToDisk: true);
        }
        try
        {
            Directory.Move(tmp, final);
        }
        catch (IOException) when (Get(chainId) is not null)
        {
            Directory.Delete(tmp, recursive: true);
            return Get(chainId)!;
        }
        EnsureLink(info.ShortId, hex);
        info.DiffPath = Path.Combine(final, "diff");
        return info;
    }

    /// <summary>Deterministic 12-char base32 name of a layer's short link.</summary>
    private static string ShortId(string hex)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        byte[] h = SHA256.HashData(Encoding.ASCII.GetBytes(hex));
        var sb = new StringBuilder(12);
        ulong bits = BitConverter.ToUInt64(h, 0);
        for (int i = 0; i < 12; i++) { sb.Append(alphabet[(int)(bits & 31)]); bits >>= 5; }
        return sb.ToString();
    }

    private void EnsureLink(string shortId, string hex)
    {
        string link = Path.Combine(LinksDirectory, shortId);
        string target = Path.Combine("..", "layers", hex, "diff");
        var fi = new FileInfo(link);
        if (fi.LinkTarget == target) return;
        if (fi.Exists || fi.LinkTarget is not null) File.Delete(link);
        File.CreateSymbolicLink(link, target);
    }

    /// <summary>Removes a committed layer; false if it did not exist.</summary>
    public bool Remove(string chainId)
    {
        var info = Get(chainId);
        if (info is null) return false;
        string hex = Hex(chainId);
        string trash = Path.Combine(LayersDirectory, ".trash-" + hex + "-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)));
        Directory.Move(Path.Combine(LayersDirectory, hex), trash);
        string link = Path.Combine(LinksDirectory, info.ShortId);
        if (new FileInfo(link).LinkTarget is not null) File.Delete(link);
        Directory.Delete(trash, recursive: true);
        return true;
    }

    /// <summary>Removes every committed layer whose chain ID is not in <paramref name="keep"/>; returns the removed IDs.</summary>
    public IReadOnlyList<string> RemoveUnreferenced(IEnumerable<string> keep)
    {
        var keepHex = keep.Select(Hex).ToHashSet(StringComparer.Ordinal);
        var removed = new List<string>();
        foreach (var layer in List())
        {
            if (keepHex.Contains(Hex(layer.ChainId))) continue;
            if (Remove(layer.ChainId)) removed.Add(layer.ChainId);
        }
        return removed;
    }

    /// <summary>Startup cleanup: deletes half-written (<c>.tmp-*</c>) and half-deleted (<c>.trash-*</c>) layers and repairs short links.</summary>
    public void Recover()
    {
        foreach (var dir in Directory.EnumerateDirectories(LayersDirectory))
        {
            string name = Path.GetFileName(dir);
            if (name.StartsWith(".tmp-", StringComparison.Ordinal) || name.StartsWith(".trash-", StringComparison.Ordinal))
                Directory.Delete(dir, recursive: true);
        }
        foreach (var layer in List()) EnsureLink(layer.ShortId, Hex(layer.ChainId));
        foreach (var link in Directory.EnumerateFileSystemEntries(LinksDirectory))
            if (!Directory.Exists(link)) File.Delete(link);
    }

    /// <summary>
    /// Creates (or reuses) the writable layer of a container in <paramref name="containerDir"/> and returns the
    /// overlay options that mount it over <paramref name="chainIds"/> (listed bottom layer first, as in an image's
    /// rootfs). An image without layers gets an empty lower dir.
    /// </summary>
    /// <exception cref="SnapshotException">A layer is missing, or the layers do not fit one mount.</exception>
    public WritableSnapshot PrepareWritable(string containerDir, IReadOnlyList<string> chainIds)
    {
        string upper = Path.Combine(Path.GetFullPath(containerDir), "upper");
        string work = Path.Combine(Path.GetFullPath(containerDir), "work");
        Directory.CreateDirectory(upper);
        Directory.CreateDirectory(work);
        return new WritableSnapshot(upper, work, MountOptions(chainIds, upper, work));
    }

    /// <summary>Overlay options for <paramref name="chainIds"/> (bottom first) with the given upper and work dirs.</summary>
    public string MountOptions(IReadOnlyList<string> chainIds, string upperDir, string workDir)
    {
        var layers = new List<LayerInfo>();
        for (int i = chainIds.Count - 1; i >= 0; i--)
            layers.Add(Get(chainIds[i]) ?? throw new SnapshotException($"layer {chainIds[i]} does not exist"));
        string tail = $",upperdir={upperDir},workdir={workDir}";
        if (layers.Count == 0)
        {
            string empty = Path.Combine(LayersDirectory, ".empty");
            Directory.CreateDirectory(empty);
            return "lowerdir=" + empty + tail;
        }
        string full = "lowerdir=" + string.Join(':', layers.Select(l => l.DiffPath)) + tail;
        if (full.Length <= PageLimit) return full;
        foreach (var l in layers) EnsureLink(l.ShortId, Hex(l.ChainId));
        string shortened = "lowerdir=" + string.Join(':', layers.Select(l => Path.Combine(LinksDirectory, l.ShortId))) + tail;
        if (shortened.Length <= PageLimit) return shortened;
        throw new SnapshotException($"{layers.Count} layers do not fit in one overlay mount");
    }

    /// <summary>Deletes a container's <c>upper/</c> and <c>work/</c>; the overlay must be unmounted.</summary>
    public void RemoveWritable(string containerDir)
    {
        foreach (var d in new[] { "upper", "work" })
        {
            string p = Path.Combine(containerDir, d);
            if (Directory.Exists(p)) Directory.Delete(p, recursive: true);
        }
    }
}

/// <summary>A layer being written; Dispose without <see cref="Commit"/> deletes it.</summary>
public sealed class PendingLayer : IDisposable
{
    private readonly Snapshotter _owner;
    private readonly string _tmp;
    private bool _done;

    internal PendingLayer(Snapshotter owner, string tmp)
    {
        _owner = owner;
        _tmp = tmp;
    }

    /// <summary>The directory to fill with the layer's contents.</summary>
    public string DiffPath => Path.Combine(_tmp, "diff");

    /// <summary>
    /// Makes the layer visible under its chain ID (or returns the existing one with that ID). <paramref name="tar"/> says
    /// how its tar is kept when that is not the uncompressed blob. <c>meta.json</c> is fsynced, the files extracted into
    /// the layer are not: the commit (a rename) is atomic against a process crash.
    /// </summary>
    public LayerInfo Commit(string chainId, string? parentChainId, string diffId, long size, LayerTar? tar = null)
    {
        ObjectDisposedException.ThrowIf(_done, this);
        _done = true;
        return _owner.CommitLayer(_tmp, chainId, parentChainId, diffId, size, tar);
    }

    public void Dispose()
    {
        if (_done) return;
        _done = true;
        if (Directory.Exists(_tmp)) Directory.Delete(_tmp, recursive: true);
    }
}
