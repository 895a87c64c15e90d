using System.Text.Json;
using System.Text.Json.Serialization;
using Skiff.Archive;
using Skiff.Content;
using Skiff.Snapshots;

namespace Skiff.Images;

/// <summary>
/// Where a layer (by diff ID) is known to exist in compressed form in a registry: what a push needs to skip an upload
/// (HEAD the digest) or mount the blob from another repository of the same registry, as Docker's
/// <c>v2metadata-by-diffid</c>. Stored as <c>distribution/&lt;diffid-hex&gt;.json</c>; removed with the layer. When a
/// pull cached the compressed blob itself in the content store, a push uploads it as is (no recompression); it is
/// kept as long as the layer is.
/// </summary>
public sealed record LayerSource
{
    /// <summary>Digest of the compressed blob in the registry.</summary>
    public string Digest { get; set; } = "";
    public string MediaType { get; set; } = "";
    public long Size { get; set; }
    /// <summary>Registry host (reference domain, e.g. <c>127.0.0.1:5000</c> or <c>docker.io</c>).</summary>
    public string Registry { get; set; } = "";
    /// <summary>Repository path inside the registry, e.g. <c>library/busybox</c>.</summary>
    public string Repository { get; set; } = "";
}

public sealed partial class ImageStore
{
    private string DistributionDir => Path.Combine(DataRoot, "distribution");

    /// <summary>
    /// Holds off garbage collection while a pull creates layers before its image exists; dispose when the image is
    /// registered (or the pull failed: the orphans are collected then).
    /// </summary>
    public IDisposable BeginTransfer() => BeginOperation();

    /// <summary>True when the layer with this chain ID is extracted and its tar can be reproduced (for save and push).</summary>
    public bool HasLayer(string chainId, string diffId) =>
        Snapshots.Get(chainId) is { } layer && layer.DiffId == diffId && HasLayerTar(layer);

    /// <summary>
    /// Extracts one pulled layer (gzip, zstd or plain, detected by magic) read once from <paramref name="compressed"/>,
    /// verifies its diff ID, and commits it under its chain ID. <paramref name="beforeCommit"/> runs once the stream is
    /// consumed: the caller verifies the compressed digest there, stores the compressed bytes as the content blob
    /// <paramref name="compressedDigest"/> (the layer's only copy of its tar: <see cref="OpenLayerTar(string)"/> decompresses
    /// it) and waits until the parent layer is committed. Call inside <see cref="BeginTransfer"/>.
    /// </summary>
    /// <exception cref="InvalidImageArgumentException">Malformed or malicious layer (paths climbing out of the root, through
    /// symlinks, or absolute), or one that does not match its diff ID; nothing is left behind.</exception>
    public void AddLayer(Stream compressed, string? parentChain, string diffId, Digest compressedDigest, Action beforeCommit) =>
        ImportCompressedLayer(compressed, parentChain, diffId, compressedDigest, beforeCommit, PulledLayer);

    private static readonly ExtractOptions PulledLayer = new() { RejectAbsoluteNames = true };

    /// <summary>
    /// Registers a pulled image: its config (verified by the caller against the manifest), the tag it was pulled by and
    /// the repository digest (<c>repo@sha256:manifest</c>) it now shows in RepoDigests. Returns the image and whether the
    /// tag already pointed at it ("Image is up to date").
    /// </summary>
    public (Image Image, bool UpToDate) RegisterPulled(byte[] configBytes, ImageReference? tag, ImageReference? repoDigest)
    {
        var config = ParseConfig(configBytes);
        foreach (var chain in ChainIds(config.RootFs.DiffIds))
            if (Snapshots.Get(chain) is null) throw new InvalidImageArgumentException($"layer {chain} of the image is missing");
        string id = Digest.Compute(configBytes).ToString();
        bool upToDate;
        lock (_lock)
        {
            upToDate = tag is not null && _refs.TryGetValue(tag.WithDefaultTag().ToString(), out var old) && old == id;
        }
        var image = Register(configBytes, parent: null, tag, repoDigest);
        return (image, upToDate);
    }

    /// <summary>Records <c>repo@sha256:...</c> (a manifest digest in a registry) as a reference of the image.</summary>
    public void AddRepoDigest(string imageId, ImageReference repoDigest)
    {
        if (repoDigest.Digest is null) throw new InvalidImageArgumentException("a repository digest needs a digest");
        var key = ImageReference.Parse(repoDigest.Repository + "@" + repoDigest.Digest).ToString();
        lock (_lock)
        {
            if (!_images.ContainsKey(imageId)) throw new ImageNotFoundException(imageId);
            if (_refs.TryGetValue(key, out var cur) && cur == imageId) return;
            _refs[key] = imageId;
            SaveRepositories();
        }
    }

    /// <summary>Full normalised tag references (<c>docker.io/library/x:tag</c>) of the given repository and their image IDs.</summary>
    public IReadOnlyList<(ImageReference Reference, string ImageId)> TagsOf(string repository)
    {
        lock (_lock)
            return _refs.Select(kv => (Ref: ImageReference.Parse(kv.Key), Id: kv.Value))
                .Where(x => x.Ref.Tag is not null && x.Ref.Repository == repository)
                .OrderBy(x => x.Ref.Tag, StringComparer.Ordinal)
                .Select(x => (x.Ref, x.Id)).ToList();
    }

    /// <summary>Known registry locations of a layer, most recent first.</summary>
    public IReadOnlyList<LayerSource> LayerSources(string diffId)
    {
        lock (_lock) return ReadLayerSources(diffId);
    }

    private List<LayerSource> ReadLayerSources(string diffId)
    {
        string path = Path.Combine(DistributionDir, Digest.Parse(diffId).Hex + ".json");
        if (!File.Exists(path)) return [];
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), DistributionJsonContext.Default.ListLayerSource) ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    /// <summary>
    /// Adds the compressed blobs of the kept layers (cached by pulls, see <see cref="LayerSource"/>) to the blobs to keep.
    /// Call under the lock, from garbage collection.
    /// </summary>
    private void KeepCompressedBlobs(HashSet<string> keepBlobs)
    {
        foreach (var diffId in keepBlobs.ToList())
            foreach (var s in ReadLayerSources(diffId))
                keepBlobs.Add(s.Digest);
    }

    /// <summary>Remembers that the layer exists as <paramref name="source"/> (kept to the 10 most recent locations).</summary>
    public void AddLayerSource(string diffId, LayerSource source)
    {
        var known = LayerSources(diffId);
        if (known.Count > 0 && known[0] == source) return;
        var list = known.Where(s => !(s.Digest == source.Digest && s.Registry == source.Registry && s.Repository == source.Repository)).ToList();
        list.Insert(0, source);
        if (list.Count > 10) list.RemoveRange(10, list.Count - 10);
        lock (_lock)
        {
            Directory.CreateDirectory(DistributionDir);
            // A hint (where a push can skip or mount the blob from), read leniently: not worth an fsync on a pull's path.
            WriteAtomically(Path.Combine(DistributionDir, Digest.Parse(diffId).Hex + ".json"),
                JsonSerializer.SerializeToUtf8Bytes(list, DistributionJsonContext.Default.ListLayerSource), durable: false);
        }
    }

    /// <summary>Drops registry locations of layers no image keeps. Call under the lock, from garbage collection.</summary>
    private void CollectDistributionMetadata(HashSet<string> keepBlobs)
    {
        if (!Directory.Exists(DistributionDir)) return;
        foreach (var file in Directory.EnumerateFiles(DistributionDir))
        {
            string name = Path.GetFileName(file);
            bool keep = name.EndsWith(".json", StringComparison.Ordinal) && keepBlobs.Contains("sha256:" + name[..^5]);
            if (!keep) File.Delete(file);
        }
    }

    /// <summary>
    /// A read-only consistency check of a data root (for tests and after crashes; the store need not be open): every
    /// blob's content matches its name, every image's config blob exists and each of its layers has its metadata, diff
    /// directory and its tar (stored, or the compressed blob it names), and every tag or digest reference points at an existing image. Returns the
    /// problems found (empty: consistent). Leftover ingests and <c>.tmp-</c> layers are not problems: opening the store
    /// removes them.
    /// </summary>
    public static IReadOnlyList<string> Check(string dataRoot)
    {
        var problems = new List<string>();
        var content = Path.Combine(dataRoot, "content", "blobs", "sha256");
        var blobs = new HashSet<string>(StringComparer.Ordinal);
        if (Directory.Exists(content))
            foreach (var file in Directory.EnumerateFiles(content))
            {
                string hex = Path.GetFileName(file);
                using var s = File.OpenRead(file);
                var actual = Digest.Compute(s);
                if (actual.Hex != hex) problems.Add($"blob {hex} has content {actual}");
                else blobs.Add("sha256:" + hex);
            }
        var snapshots = new Snapshotter(dataRoot);
        var images = new HashSet<string>(StringComparer.Ordinal);
        string imagesDir = Path.Combine(dataRoot, "images");
        if (Directory.Exists(imagesDir))
            foreach (var file in Directory.EnumerateFiles(imagesDir, "*.json"))
            {
                if (Path.GetFileName(file) is "repositories.json") continue;
                ImageRecord? record;
                try { record = JsonSerializer.Deserialize(File.ReadAllBytes(file), StoreJsonContext.Default.ImageRecord); }
                catch (JsonException ex) { problems.Add($"image record {file}: {ex.Message}"); continue; }
                if (record is null) { problems.Add($"image record {file} is empty"); continue; }
                images.Add(record.Id);
                if (!blobs.Contains(record.Id)) { problems.Add($"image {record.Id}: config blob missing"); continue; }
                var config = ParseConfig(File.ReadAllBytes(Path.Combine(content, record.Id[7..])));
                var chains = ChainIds(config.RootFs.DiffIds);
                for (int i = 0; i < chains.Count; i++)
                {
                    var layer = snapshots.Get(chains[i]);
                    if (layer is null) problems.Add($"image {record.Id}: layer {chains[i]} has no metadata");
                    else if (!Directory.Exists(layer.DiffPath)) problems.Add($"image {record.Id}: layer {chains[i]} has no diff directory");
                    else if (layer.DiffId != config.RootFs.DiffIds[i]) problems.Add($"image {record.Id}: layer {chains[i]} records diff ID {layer.DiffId}");
                    bool tar = blobs.Contains(config.RootFs.DiffIds[i]) || (layer?.CompressedBlob is { } c && layer.TarSize > 0 && blobs.Contains(c));
                    if (!tar) problems.Add($"image {record.Id}: layer tar {config.RootFs.DiffIds[i]} missing (neither stored nor compressed)");
                }
            }
        string repos = Path.Combine(imagesDir, "repositories.json");
        if (File.Exists(repos))
        {
            var file = JsonSerializer.Deserialize(File.ReadAllBytes(repos), StoreJsonContext.Default.RepositoriesFile);
            foreach (var (_, map) in file?.Repositories ?? [])
                foreach (var (r, id) in map)
                    if (!images.Contains(id)) problems.Add($"reference {r} points at missing image {id}");
        }
        return problems;
    }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<LayerSource>))]
internal sealed partial class DistributionJsonContext : JsonSerializerContext;
