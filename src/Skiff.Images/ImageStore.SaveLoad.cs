using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Skiff.Archive;
using Skiff.Content;
using Skiff.Snapshots;

namespace Skiff.Images;

public sealed partial class ImageStore
{
    /// <summary>
    /// <c>docker save</c>: writes a docker-archive tar (<c>manifest.json</c>, <c>repositories</c>, <c>blobs/sha256/*</c> with
    /// the config and uncompressed layer tars) of the given images; names keep their tags, IDs export untagged. Like Docker
    /// 25+, the same tar is also an OCI image layout (<c>oci-layout</c>, <c>index.json</c>, one OCI manifest blob per image
    /// with uncompressed layers), so OCI tools read it too.
    /// </summary>
    public void Save(IReadOnlyList<string> referencesOrIds, Stream output)
    {
        var manifest = new List<ArchiveManifestEntry>();
        var repositories = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        var blobs = new List<Digest>();
        var layerChains = new Dictionary<Digest, string>();
        lock (_lock)
        {
            foreach (var r in referencesOrIds)
            {
                string id = ResolveId(r);
                var image = Build(id);
                var tags = new List<string>();
                if (ImageReference.TryParse(r, out var named, out _) && _refs.TryGetValue(named.WithDefaultTag().ToString(), out var tid) && tid == id && named.Digest is null)
                    tags.Add(named.WithDefaultTag().Familiar);
                var entry = manifest.FirstOrDefault(m => m.Config == "blobs/sha256/" + id[7..]);
                if (entry is null)
                {
                    entry = new ArchiveManifestEntry { Config = "blobs/sha256/" + id[7..], Layers = image.DiffIds.Select(d => "blobs/sha256/" + d[7..]).ToList() };
                    manifest.Add(entry);
                    blobs.Add(Digest.Parse(id));
                    blobs.AddRange(image.DiffIds.Select(Digest.Parse));
                    for (int i = 0; i < image.DiffIds.Count; i++) layerChains.TryAdd(Digest.Parse(image.DiffIds[i]), image.ChainIds[i]);
                }
                foreach (var t in tags)
                {
                    (entry.RepoTags ??= []).Add(t);
                    var parsed = ImageReference.Parse(t);
                    if (!repositories.TryGetValue(parsed.FamiliarRepository, out var map)) repositories[parsed.FamiliarRepository] = map = new(StringComparer.Ordinal);
                    map[parsed.Tag!] = Snapshotter.Hex(image.ChainIds.Count > 0 ? image.ChainIds[^1] : id);
                }
            }
        }
        using var writer = new TarWriter(output, leaveOpen: true);
        var epoch = DateTimeOffset.UnixEpoch;
        writer.WriteEntry(new TarEntry("blobs", TarEntryType.Directory) { Mode = 0x1ED, ModificationTime = epoch });
        writer.WriteEntry(new TarEntry("blobs/sha256", TarEntryType.Directory) { Mode = 0x1ED, ModificationTime = epoch });
        var sizes = new Dictionary<Digest, long>();
        foreach (var blob in blobs.Distinct())
        {
            // A layer's tar is its stored blob or, for pulled layers, the decompressed compressed blob (verified as read).
            var (s, size) = layerChains.TryGetValue(blob, out var chain) ? OpenLayerTar(chain) : (Content.OpenRead(blob), Content.Size(blob));
            using (s)
            {
                writer.WriteEntry(new TarEntry("blobs/sha256/" + blob.Hex, TarEntryType.RegularFile) { Mode = 0x1A4, Size = size, ModificationTime = epoch }, s);
                s.ReadByte();
            }
            sizes[blob] = size;
        }
        var index = new OciIndexOut();
        foreach (var entry in manifest)
        {
            var configDigest = Digest.FromHex(entry.Config["blobs/sha256/".Length..]);
            var m = new OciManifestOut
            {
                Config = new OciDescriptorDoc { MediaType = "application/vnd.oci.image.config.v1+json", Digest = configDigest.ToString(), Size = sizes[configDigest] },
                Layers = entry.Layers.Select(l => Digest.FromHex(l["blobs/sha256/".Length..]))
                    .Select(d => new OciDescriptorDoc { MediaType = "application/vnd.oci.image.layer.v1.tar", Digest = d.ToString(), Size = sizes[d] }).ToList(),
            };
            byte[] mb = JsonSerializer.SerializeToUtf8Bytes(m, StoreJsonContext.Default.OciManifestOut);
            var md = Digest.Compute(mb);
            writer.WriteEntry(new TarEntry("blobs/sha256/" + md.Hex, TarEntryType.RegularFile) { Mode = 0x1A4, Size = mb.Length, ModificationTime = epoch }, new MemoryStream(mb));
            foreach (string? tag in entry.RepoTags is { Count: > 0 } tagged ? tagged.Cast<string?>() : [null])
            {
                var d = new OciDescriptorDoc { MediaType = "application/vnd.oci.image.manifest.v1+json", Digest = md.ToString(), Size = mb.Length };
                if (tag is not null)
                {
                    var r = ImageReference.Parse(tag);
                    d.Annotations = new() { ["io.containerd.image.name"] = r.ToString(), ["org.opencontainers.image.ref.name"] = r.Tag! };
                }
                index.Manifests.Add(d);
            }
        }
        byte[] layoutBytes = """{"imageLayoutVersion":"1.0.0"}"""u8.ToArray();
        writer.WriteEntry(new TarEntry("oci-layout", TarEntryType.RegularFile) { Mode = 0x1A4, Size = layoutBytes.Length, ModificationTime = epoch }, new MemoryStream(layoutBytes));
        byte[] indexBytes = JsonSerializer.SerializeToUtf8Bytes(index, StoreJsonContext.Default.OciIndexOut);
        writer.WriteEntry(new TarEntry("index.json", TarEntryType.RegularFile) { Mode = 0x1A4, Size = indexBytes.Length, ModificationTime = epoch }, new MemoryStream(indexBytes));
        byte[] manifestBytes = JsonSerializer.SerializeToUtf8Bytes(manifest, StoreJsonContext.Default.ListArchiveManifestEntry);
        writer.WriteEntry(new TarEntry("manifest.json", TarEntryType.RegularFile) { Mode = 0x1A4, Size = manifestBytes.Length, ModificationTime = epoch }, new MemoryStream(manifestBytes));
        if (repositories.Count > 0)
        {
            byte[] repoBytes = JsonSerializer.SerializeToUtf8Bytes(repositories, StoreJsonContext.Default.DictionaryStringDictionaryStringString);
            writer.WriteEntry(new TarEntry("repositories", TarEntryType.RegularFile) { Mode = 0x1A4, Size = repoBytes.Length, ModificationTime = epoch }, new MemoryStream(repoBytes));
        }
        writer.Finish();
    }

    /// <summary>
    /// <c>docker load</c>: reads a docker-archive tar (Docker's legacy <c>&lt;id&gt;/layer.tar</c> layout or the
    /// <c>blobs/sha256</c> one; plain, gzip or zstd), verifies every layer against the config's diff IDs and registers the
    /// images with their RepoTags. Returns Docker's messages: "Loaded image: busybox:latest" / "Loaded image ID: sha256:...".
    /// <paramref name="progress"/>, when given, hears of each layer imported (not of layers the store already has), with
    /// the layer's short diff ID and the bytes of its file in the archive, as dockerd's "Loading layer" lines.
    /// </summary>
    /// <exception cref="InvalidImageArgumentException">Not a docker archive, or a layer that does not match its diff ID.</exception>
    public IReadOnlyList<string> Load(Stream input, LayerProgress? progress = null)
    {
        using var op = BeginOperation();
        string staging = Path.Combine(DataRoot, "tmp", "load-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        Directory.CreateDirectory(staging);
        try
        {
            using (var plain = Compression.OpenDecompressed(input, out _, leaveOpen: true))
                Extract(plain, staging, new ExtractOptions { Whiteouts = WhiteoutMode.None, PreserveOwnership = false, PreserveXattrs = false }, layer: false);
            string manifestPath = Path.Combine(staging, "manifest.json");
            List<ArchiveManifestEntry> manifest;
            if (!File.Exists(manifestPath))
            {
                if (!File.Exists(Path.Combine(staging, "index.json")))
                    throw new InvalidImageArgumentException("invalid archive: neither a docker archive (manifest.json) nor an OCI layout (index.json)");
                manifest = OciLayoutEntries(staging);
            }
            else
            {
                try
                {
                    manifest = JsonSerializer.Deserialize(File.ReadAllBytes(manifestPath), StoreJsonContext.Default.ListArchiveManifestEntry) ?? [];
                }
                catch (JsonException ex)
                {
                    throw new InvalidImageArgumentException("invalid docker archive: bad manifest.json", ex);
                }
            }
            var messages = new List<string>();
            foreach (var entry in manifest)
            {
                byte[] configBytes = File.ReadAllBytes(StagedPath(staging, entry.Config));
                var config = ParseConfig(configBytes);
                if (config.RootFs.DiffIds.Count != entry.Layers.Count)
                    throw new InvalidImageArgumentException("invalid docker archive: layer count does not match rootfs.diff_ids");
                var refs = (entry.RepoTags ?? []).Select(ParseTagTarget).ToList();
                string? parentChain = null;
                for (int i = 0; i < entry.Layers.Count; i++)
                {
                    string expected = config.RootFs.DiffIds[i];
                    string chain = parentChain is null ? expected : ChainId(parentChain, expected);
                    if (Snapshots.Get(chain) is not { } have || !HasLayerTar(have))
                    {
                        using var file = File.OpenRead(StagedPath(staging, entry.Layers[i]));
                        using var counted = progress is null ? null : new LayerProgressStream(file, Digest.Parse(expected).Hex[..12], file.Length, progress);
                        ImportLayer(counted ?? (Stream)file, parentChain, expected);
                        // The tar's trailing padding, so the last report is the whole file (dockerd reads to EOF too).
                        counted?.DrainToEnd();
                    }
                    parentChain = chain;
                }
                var image = Register(configBytes, parent: null, refs.FirstOrDefault());
                foreach (var r in refs.Skip(1)) Tag(image.Id, r.ToString());
                if (refs.Count == 0) messages.Add("Loaded image ID: " + image.Id);
                messages.AddRange(refs.Select(r => "Loaded image: " + r.Familiar));
            }
            return messages;
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    private static string StagedPath(string staging, string archivePath)
    {
        var parts = archivePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || parts.Any(p => p is ".." or "."))
            throw new InvalidImageArgumentException($"invalid docker archive: bad path '{archivePath}'");
        // The staging dir holds untrusted symlinks: every component must be a real directory or file.
        string p = staging;
        for (int i = 0; i < parts.Length; i++)
        {
            p = Path.Combine(p, parts[i]);
            var info = new FileInfo(p);
            bool last = i == parts.Length - 1;
            if (info.LinkTarget is not null || (last ? !info.Exists : !Directory.Exists(p)))
                throw new InvalidImageArgumentException($"invalid docker archive: '{archivePath}' is missing or not a regular file");
        }
        return p;
    }

    /// <summary>
    /// The images of an OCI image layout (<c>index.json</c>, <c>blobs/sha256/*</c>) as docker-archive entries: each index
    /// entry (a nested index picks the host's linux platform) gives its config and layer blobs (compressed or not: the
    /// layer import detects it). Names come from <c>io.containerd.image.name</c>, else from
    /// <c>org.opencontainers.image.ref.name</c> when that is a full reference (a bare tag, as skopeo writes, names nothing).
    /// </summary>
    private static List<ArchiveManifestEntry> OciLayoutEntries(string staging)
    {
        var result = new List<ArchiveManifestEntry>();
        OciIndexDoc index;
        try
        {
            index = JsonSerializer.Deserialize(File.ReadAllBytes(StagedPath(staging, "index.json")), StoreJsonContext.Default.OciIndexDoc) ?? new();
            foreach (var entry in index.Manifests)
            {
                var desc = entry;
                for (int depth = 0; desc.MediaType is "application/vnd.oci.image.index.v1+json" or "application/vnd.docker.distribution.manifest.list.v2+json"; depth++)
                {
                    if (depth > 4) throw new InvalidImageArgumentException("invalid OCI layout: nested indexes too deep");
                    var nested = JsonSerializer.Deserialize(File.ReadAllBytes(BlobPathIn(staging, desc.Digest)), StoreJsonContext.Default.OciIndexDoc) ?? new();
                    desc = nested.Manifests.FirstOrDefault(m => m.Platform is { } p && p.Os == "linux" && p.Architecture == HostArchitecture())
                        ?? throw new InvalidImageArgumentException($"invalid OCI layout: no linux/{HostArchitecture()} manifest in {desc.Digest}");
                }
                var m = JsonSerializer.Deserialize(File.ReadAllBytes(BlobPathIn(staging, desc.Digest)), StoreJsonContext.Default.OciManifestDoc)
                    ?? throw new InvalidImageArgumentException($"invalid OCI layout: empty manifest {desc.Digest}");
                var names = new List<string>();
                string? name = entry.Annotations?.GetValueOrDefault("io.containerd.image.name");
                string? refName = entry.Annotations?.GetValueOrDefault("org.opencontainers.image.ref.name");
                if (name is null && refName is not null && (refName.Contains('/') || refName.Contains(':'))) name = refName;
                if (name is not null && ImageReference.TryParse(name, out var r, out _) && r.Digest is null) names.Add(r.WithDefaultTag().Familiar);
                result.Add(new ArchiveManifestEntry
                {
                    Config = "blobs/sha256/" + Digest.Parse(m.Config.Digest).Hex,
                    Layers = m.Layers.Select(l => "blobs/sha256/" + Digest.Parse(l.Digest).Hex).ToList(),
                    RepoTags = names.Count == 0 ? null : names,
                });
            }
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            throw new InvalidImageArgumentException("invalid OCI layout: " + ex.Message, ex);
        }
        return result;
    }

    private static string BlobPathIn(string staging, string digest) => StagedPath(staging, "blobs/sha256/" + Digest.Parse(digest).Hex);
}
