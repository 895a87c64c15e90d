using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Skiff.Archive;
using Skiff.Content;
using Skiff.Snapshots;

namespace Skiff.Images;

/// <summary>
/// The image store of one data root.
/// <para>On-disk layout (see docs/architecture.md):</para>
/// <list type="bullet">
/// <item><c>content/blobs/sha256/&lt;hex&gt;</c>: image configs (keyed by image ID) and uncompressed layer tars (keyed by diff ID,
/// kept so that <see cref="Save"/> reproduces the exact diff IDs).</item>
/// <item><c>layers/&lt;chain-hex&gt;/diff</c> + <c>meta.json</c>, <c>l/&lt;short&gt;</c>: extracted layers (<see cref="Snapshotter"/>).</item>
/// <item><c>images/&lt;id-hex&gt;.json</c>: one record per image (parent, time added); <c>images/repositories.json</c>: tags,
/// as <c>{"Repositories": {"docker.io/library/busybox": {"docker.io/library/busybox:latest": "sha256:..."}}}</c>
/// (full normalised names), rewritten atomically (temp file, fsync, rename, fsync of the directory).</item>
/// </list>
/// <para>
/// Errors: every expected failure is an <see cref="ImageStoreException"/> whose <see cref="ImageStoreException.Kind"/> is
/// NotFound, Conflict or InvalidArgument. Blocking: methods do file I/O synchronously; <see cref="Import"/> and
/// <see cref="Load"/> read their stream synchronously (an ASP.NET request body needs
/// <c>IHttpBodyControlFeature.AllowSynchronousIO</c>, or call them from a worker thread with a stream that allows it).
/// Thread-safety: all methods may be called concurrently; metadata changes are serialised by one lock, layer
/// extraction runs outside it.
/// </para>
/// </summary>
public sealed class ImageStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ImageRecord> _images = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _refs = new(StringComparer.Ordinal);
    private int _operations;
    private bool _gcPending;
    private readonly Dictionary<string, (byte[] Bytes, long Size)> _cache = new(StringComparer.Ordinal);
    private readonly string _imagesDir;

    /// <summary>
    /// Opens (creating if needed) the store under <paramref name="dataRoot"/> and recovers from a crash: half-written
    /// layers and ingests are removed, image records whose config blob is missing are dropped, and layers and blobs that
    /// no image references (an import that died before registering its image) are deleted. Blobs are not rehashed
    /// here (that is <see cref="ContentStore.Verify"/>, an explicit, slow check).
    /// </summary>
    public ImageStore(string dataRoot)
    {
        DataRoot = Path.GetFullPath(dataRoot);
        Content = new ContentStore(Path.Combine(DataRoot, "content"));
        Snapshots = new Snapshotter(DataRoot);
        _imagesDir = Path.Combine(DataRoot, "images");
        Directory.CreateDirectory(_imagesDir);
        Snapshots.Recover();
        Content.RemoveStaleIngests();
        LoadState();
        lock (_lock) CollectGarbage();
    }

    public string DataRoot { get; }
    public ContentStore Content { get; }
    public Snapshotter Snapshots { get; }

    // ---------------------------------------------------------------- queries

    /// <summary>
    /// Resolves a reference the way Docker does: a full ID (<c>sha256:&lt;hex&gt;</c> or 64 hex), then a name
    /// (<c>busybox</c> = <c>docker.io/library/busybox:latest</c>, <c>name@sha256:...</c>), then an ID prefix.
    /// </summary>
    /// <exception cref="ImageNotFoundException"/>
    /// <exception cref="InvalidImageArgumentException">An ambiguous ID prefix.</exception>
    public Image Find(string referenceOrId)
    {
        lock (_lock) return Build(ResolveId(referenceOrId));
    }

    /// <summary>Like <see cref="Find"/> but null when nothing matches.</summary>
    public Image? TryFind(string referenceOrId)
    {
        try { return Find(referenceOrId); }
        catch (ImageNotFoundException) { return null; }
    }

    /// <summary>All images, newest first.</summary>
    public IReadOnlyList<Image> List()
    {
        lock (_lock) return _images.Keys.Select(Build).OrderByDescending(i => i.Created).ThenBy(i => i.Id, StringComparer.Ordinal).ToList();
    }

    /// <summary>Image history, newest first, with Docker's rules for IDs (<c>&lt;missing&gt;</c> for layers not built here).</summary>
    public IReadOnlyList<ImageHistoryItem> History(string referenceOrId)
    {
        lock (_lock)
        {
            var image = Build(ResolveId(referenceOrId));
            var history = image.Config.History ?? [];
            var sizes = new List<long>();
            foreach (var chain in image.ChainIds) sizes.Add(Snapshots.Get(chain)?.Size ?? 0);
            // Which image owns the last history entry of its range: walk the parent chain.
            var owners = new Dictionary<int, Image>();
            for (var img = image; img is not null;)
            {
                int count = img.Config.History?.Count ?? 0;
                if (count > 0) owners.TryAdd(count - 1, img);
                img = img.Parent is { } p && _images.ContainsKey(p) ? Build(p) : null;
            }
            var items = new List<ImageHistoryItem>();
            int layer = 0;
            for (int i = 0; i < history.Count; i++)
            {
                var h = history[i];
                long size = 0;
                if (h.EmptyLayer != true && layer < sizes.Count) size = sizes[layer++];
                var owner = owners.GetValueOrDefault(i);
                items.Add(new ImageHistoryItem(owner?.Id ?? "<missing>", h.Created ?? DateTime.UnixEpoch, h.CreatedBy ?? "",
                    owner?.RepoTags ?? [], size, h.Comment ?? ""));
            }
            items.Reverse();
            return items;
        }
    }

    /// <summary>The extracted layer directories of an image, topmost first (the order of overlay's lowerdir).</summary>
    public IReadOnlyList<string> LayerPaths(string imageId)
    {
        var image = Find(imageId);
        return image.ChainIds.Reverse().Select(Snapshots.DiffPath).ToList();
    }

    /// <summary>
    /// Creates the writable layer of a container in <paramref name="containerDir"/> (<c>upper/</c>, <c>work/</c>) over the
    /// layers of <paramref name="imageId"/> and returns the overlay mount options for the runtime.
    /// </summary>
    public WritableSnapshot PrepareContainer(string imageId, string containerDir)
    {
        var image = Find(imageId);
        try
        {
            return Snapshots.PrepareWritable(containerDir, image.ChainIds);
        }
        catch (SnapshotException ex)
        {
            throw new InvalidImageArgumentException(ex.Message, ex);
        }
    }

    /// <summary>
    /// <c>docker export</c> of a container that is not running (or whose rootfs is not mounted here): writes the merged
    /// view of <paramref name="upperDir"/> over the image's layers as a tar, computed without mounting.
    /// </summary>
    public void ExportRootfs(string imageId, string? upperDir, Stream output)
    {
        var layers = new List<string>();
        if (upperDir is not null) layers.Add(upperDir);
        layers.AddRange(LayerPaths(imageId));
        OverlayTree.WriteMerged(layers, output);
    }

    /// <summary>Deletes a container's writable layer (<c>upper/</c>, <c>work/</c> in <paramref name="containerDir"/>); its overlay must be unmounted.</summary>
    public void RemoveContainerLayer(string containerDir) => Snapshots.RemoveWritable(containerDir);

    /// <summary><c>docker diff</c>: what a container's upper dir changed relative to its image, sorted by path.</summary>
    public IReadOnlyList<LayerChange> Changes(string imageId, string upperDir) => OverlayTree.Changes(upperDir, LayerPaths(imageId));

    // ---------------------------------------------------------------- tags

    /// <summary>Tags the image found by <paramref name="source"/> as <paramref name="target"/> (tag defaults to latest), moving the tag if it pointed elsewhere.</summary>
    /// <exception cref="ImageNotFoundException"/>
    /// <exception cref="InvalidImageArgumentException">Invalid target, or a digest reference as target.</exception>
    public void Tag(string source, string target)
    {
        var reference = ImageReference.Parse(target);
        if (reference.Digest is not null) throw new InvalidImageArgumentException("refusing to create a tag with a digest reference");
        lock (_lock)
        {
            string id = ResolveId(source);
            _refs[reference.WithDefaultTag().ToString()] = id;
            SaveRepositories();
        }
    }

    // ---------------------------------------------------------------- import

    /// <summary>
    /// <c>docker import</c>: creates a one-layer image from a root filesystem tar (plain, gzip or zstd, detected by magic),
    /// read once as a stream. The layer is extracted safely (see <see cref="LayerExtractor"/>) while its uncompressed bytes
    /// are hashed into the diff ID and stored as a blob.
    /// </summary>
    /// <exception cref="InvalidImageArgumentException">Bad reference, bad change, malformed or malicious archive.</exception>
    public Image Import(Stream source, ImportOptions options)
    {
        var reference = options.Reference is null ? null : ParseTagTarget(options.Reference);
        var config = new ContainerConfig();
        ConfigChanges.Apply(config, options.Changes);
        using var op = BeginOperation();
        var layer = ImportLayer(source, parentChain: null, expectedDiffId: null);
        var now = DateTime.UtcNow;
        string comment = options.Message is { Length: > 0 } m ? m : "Imported from " + options.Source;
        var image = new ImageConfig
        {
            Architecture = options.Architecture ?? HostArchitecture(),
            Os = options.Os ?? "linux",
            Created = now,
            Comment = comment,
            Config = config,
            RootFs = new RootFs { DiffIds = [layer.DiffId] },
            History = [new HistoryEntry { Created = now, Comment = comment }],
        };
        return Register(JsonSerializer.SerializeToUtf8Bytes(image, ImageJsonContext.Default.ImageConfig), parent: null, reference);
    }

    // ---------------------------------------------------------------- commit

    /// <summary>
    /// <c>docker commit</c>: turns a container's upper dir into a new layer on top of its image and registers the new image
    /// (config = parent's config with <see cref="CommitOptions.Config"/> and the changes applied, history and diff IDs extended).
    /// </summary>
    /// <exception cref="ImageNotFoundException">The parent image is gone.</exception>
    /// <exception cref="InvalidImageArgumentException">Bad reference or change.</exception>
    public Image Commit(CommitOptions options)
    {
        var reference = options.Reference is null ? null : ParseTagTarget(options.Reference);
        var parent = Find(options.ParentImageId);
        var config = JsonSerializer.Deserialize(parent.ConfigBytes, ImageJsonContext.Default.ImageConfig)!;
        var containerConfig = (options.Config ?? config.Config ?? new ContainerConfig()).Clone();
        ConfigChanges.Apply(containerConfig, options.Changes);

        using var op = BeginOperation();
        Digest diffId;
        using (var writer = Content.BeginIngest())
        {
            DirectoryArchiver.WriteTree(options.UpperDir, writer, new ArchiveOptions { OverlayDiff = true });
            diffId = writer.Commit().Digest;
        }
        string? parentChain = parent.ChainIds.Count > 0 ? parent.ChainIds[^1] : null;
        string chain = parentChain is null ? diffId.ToString() : ChainId(parentChain, diffId.ToString());
        if (Snapshots.Get(chain) is null) ExtractBlob(diffId, chain, parentChain);

        var now = DateTime.UtcNow;
        config.Created = now;
        config.Author = options.Author;
        config.Comment = options.Comment;
        config.Config = containerConfig;
        config.RootFs.DiffIds.Add(diffId.ToString());
        (config.History ??= []).Add(new HistoryEntry
        {
            Created = now,
            CreatedBy = options.CreatedBy,
            Author = options.Author,
            Comment = options.Comment,
        });
        return Register(JsonSerializer.SerializeToUtf8Bytes(config, ImageJsonContext.Default.ImageConfig), parent.Id, reference);
    }

    private LayerInfo ExtractBlob(Digest diffId, string chain, string? parentChain)
    {
        using var pending = Snapshots.BeginLayer();
        ExtractResult result;
        using (var blob = Content.OpenRead(diffId))
            result = Extract(blob, pending.DiffPath);
        return pending.Commit(chain, parentChain, diffId.ToString(), result.FileBytes);
    }

    // ---------------------------------------------------------------- remove

    /// <summary>
    /// <c>docker rmi</c>. By name: untags it, and deletes the image when that was its last reference. By ID: deletes the image
    /// with all its tags. Deleting also removes untagged, childless parents (committed chains) and every layer and blob no
    /// other image needs.
    /// </summary>
    /// <param name="containerUsing">Returns the ID of a container that uses the given image ID, or null. An image in use is
    /// never deleted: without <paramref name="force"/> that is a conflict; with it, only its tags are removed (the layers stay
    /// for the container).</param>
    /// <exception cref="ImageNotFoundException"/>
    /// <exception cref="ImageConflictException">In use, has child images, or (by ID, without force) tagged in several repositories.</exception>
    public IReadOnlyList<ImageDeleteEntry> Remove(string referenceOrId, bool force, Func<string, string?> containerUsing)
    {
        lock (_lock)
        {
            string id = ResolveId(referenceOrId);
            var result = new List<ImageDeleteEntry>();
            var byName = ImageReference.TryParse(referenceOrId, out var named, out _) ? named.WithDefaultTag().ToString() : null;
            if (byName is not null && !_refs.ContainsKey(byName)) byName = null;

            if (byName is not null)
            {
                var others = RefsOf(id).Where(r => r != byName).ToList();
                if (others.Count > 0 || (containerUsing(id) is not null && force))
                {
                    _refs.Remove(byName);
                    SaveRepositories();
                    result.Add(new ImageDeleteEntry(Familiar(byName), null));
                    return result;
                }
                if (containerUsing(id) is { } c)
                    throw new ImageConflictException($"conflict: unable to remove repository reference \"{referenceOrId}\" (must force) - container {Short(c)} is using its referenced image {Short(id)}");
                if (HasChildren(id))
                {
                    _refs.Remove(byName);
                    SaveRepositories();
                    result.Add(new ImageDeleteEntry(Familiar(byName), null));
                    return result;
                }
            }
            else
            {
                var refs = RefsOf(id).ToList();
                if (HasChildren(id))
                    throw new ImageConflictException($"conflict: unable to delete {Short(id)} (cannot be forced) - image has dependent child images");
                if (containerUsing(id) is { } c)
                {
                    if (!force)
                        throw new ImageConflictException($"conflict: unable to delete {Short(id)} (must be forced) - image is being used by container {Short(c)}");
                    foreach (var r in refs) { _refs.Remove(r); result.Add(new ImageDeleteEntry(Familiar(r), null)); }
                    SaveRepositories();
                    return result;
                }
                if (!force && refs.Select(r => ImageReference.Parse(r).Repository).Distinct().Count() > 1)
                    throw new ImageConflictException($"conflict: unable to delete {Short(id)} (must be forced) - image is referenced in multiple repositories");
            }

            foreach (var r in RefsOf(id).ToList())
            {
                _refs.Remove(r);
                result.Add(new ImageDeleteEntry(Familiar(r), null));
            }
            SaveRepositories();
            DeleteImage(id, result, containerUsing);
            CollectGarbage();
            return result;
        }
    }

    /// <summary>
    /// <c>docker image prune</c>: deletes dangling images (no tags, no child images), or with <paramref name="all"/> every
    /// image no container uses, untagging as needed. Returns the entries and the bytes of layer data freed.
    /// </summary>
    public (IReadOnlyList<ImageDeleteEntry> Deleted, long SpaceReclaimed) Prune(bool all, Func<string, string?> containerUsing)
    {
        lock (_lock)
        {
            var result = new List<ImageDeleteEntry>();
            long before = Snapshots.List().Sum(l => l.Size);
            bool progress = true;
            while (progress)
            {
                progress = false;
                foreach (var id in _images.Keys.ToList())
                {
                    if (!_images.ContainsKey(id) || HasChildren(id) || containerUsing(id) is not null) continue;
                    var refs = RefsOf(id).ToList();
                    if (refs.Count > 0 && !all) continue;
                    foreach (var r in refs) { _refs.Remove(r); result.Add(new ImageDeleteEntry(Familiar(r), null)); }
                    if (refs.Count > 0) SaveRepositories();
                    DeleteImage(id, result, containerUsing);
                    progress = true;
                }
            }
            CollectGarbage();
            return (result, before - Snapshots.List().Sum(l => l.Size));
        }
    }

    private void DeleteImage(string id, List<ImageDeleteEntry> result, Func<string, string?> containerUsing)
    {
        var record = _images[id];
        _images.Remove(id);
        _cache.Remove(id);
        File.Delete(RecordPath(id));
        result.Add(new ImageDeleteEntry(null, id));
        if (record.Parent is { } parent && _images.ContainsKey(parent) && !RefsOf(parent).Any() && !HasChildren(parent) && containerUsing(parent) is null)
            DeleteImage(parent, result, containerUsing);
    }

    /// <summary>
    /// Removes layers and blobs that no image needs. While an import, commit or load is in flight (its layers and blobs
    /// exist before its image does) the collection is deferred to the end of the last such operation. Call under the lock.
    /// </summary>
    private void CollectGarbage()
    {
        if (_operations > 0)
        {
            _gcPending = true;
            return;
        }
        var keepChains = new HashSet<string>(StringComparer.Ordinal);
        var keepBlobs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in _images.Keys)
        {
            keepBlobs.Add(id);
            var cfg = ReadConfig(id);
            foreach (var d in cfg.RootFs.DiffIds) keepBlobs.Add(d);
            foreach (var c in ChainIds(cfg.RootFs.DiffIds)) keepChains.Add(c);
        }
        foreach (var chain in keepChains)
            if (Snapshots.Get(chain) is { } l) keepBlobs.Add(l.DiffId);
        Snapshots.RemoveUnreferenced(keepChains);
        foreach (var blob in Content.List().ToList())
            if (!keepBlobs.Contains(blob.ToString())) Content.Delete(blob);
    }

    // ---------------------------------------------------------------- save / load

    /// <summary>
    /// <c>docker save</c>: writes a docker-archive tar (<c>manifest.json</c>, <c>repositories</c>, <c>blobs/sha256/*</c> with
    /// the config and uncompressed layer tars) of the given images; names keep their tags, IDs export untagged.
    /// </summary>
    public void Save(IReadOnlyList<string> referencesOrIds, Stream output)
    {
        var manifest = new List<ArchiveManifestEntry>();
        var repositories = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        var blobs = new List<Digest>();
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
        foreach (var blob in blobs.Distinct())
        {
            using var s = Content.OpenRead(blob);
            writer.WriteEntry(new TarEntry("blobs/sha256/" + blob.Hex, TarEntryType.RegularFile) { Mode = 0x1A4, Size = Content.Size(blob), ModificationTime = epoch }, s);
        }
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
    /// </summary>
    /// <exception cref="InvalidImageArgumentException">Not a docker archive, or a layer that does not match its diff ID.</exception>
    public IReadOnlyList<string> Load(Stream input)
    {
        using var op = BeginOperation();
        string staging = Path.Combine(DataRoot, "tmp", "load-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        Directory.CreateDirectory(staging);
        try
        {
            using (var plain = Compression.OpenDecompressed(input, out _, leaveOpen: true))
                Extract(plain, staging, new ExtractOptions { Whiteouts = WhiteoutMode.None, PreserveOwnership = false, PreserveXattrs = false });
            string manifestPath = Path.Combine(staging, "manifest.json");
            if (!File.Exists(manifestPath)) throw new InvalidImageArgumentException("invalid docker archive: no manifest.json");
            List<ArchiveManifestEntry> manifest;
            try
            {
                manifest = JsonSerializer.Deserialize(File.ReadAllBytes(manifestPath), StoreJsonContext.Default.ListArchiveManifestEntry) ?? [];
            }
            catch (JsonException ex)
            {
                throw new InvalidImageArgumentException("invalid docker archive: bad manifest.json", ex);
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
                    if (Snapshots.Get(chain) is null || !Content.Exists(Digest.Parse(expected)))
                    {
                        using var layerStream = File.OpenRead(StagedPath(staging, entry.Layers[i]));
                        ImportLayer(layerStream, parentChain, expected);
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

    // ---------------------------------------------------------------- internals

    /// <summary>
    /// Extracts one layer stream into a new snapshot while storing its uncompressed bytes as a blob. Callers hold an
    /// operation (<see cref="BeginOperation"/>) until the image that uses the layer is registered.
    /// </summary>
    private LayerInfo ImportLayer(Stream source, string? parentChain, string? expectedDiffId)
    {
        using var plain = Compression.OpenDecompressed(source, out _, leaveOpen: true);
        using var pending = Snapshots.BeginLayer();
        ContentInfo blob;
        ExtractResult result;
        using (var writer = Content.BeginIngest())
        {
            var tee = new TeeStream(plain, writer);
            result = Extract(tee, pending.DiffPath);
            tee.CopyTo(Stream.Null);
            if (writer.Length == 0) throw new InvalidImageArgumentException("empty archive: no tar data");
            try
            {
                blob = writer.Commit(expectedDiffId is null ? null : Digest.Parse(expectedDiffId));
            }
            catch (DigestMismatchException ex)
            {
                throw new InvalidImageArgumentException($"layer does not match its diff ID: {ex.Message}", ex);
            }
        }
        string diffId = blob.Digest.ToString();
        string chain = parentChain is null ? diffId : ChainId(parentChain, diffId);
        return pending.Commit(chain, parentChain, diffId, result.FileBytes);
    }

    private static ExtractResult Extract(Stream tar, string dir, ExtractOptions? options = null)
    {
        try
        {
            return LayerExtractor.Extract(tar, dir, options);
        }
        catch (InvalidArchiveException ex)
        {
            throw new InvalidImageArgumentException(ex.Message, ex);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidImageArgumentException("invalid compressed data: " + ex.Message, ex);
        }
    }

    private Image Register(byte[] configBytes, string? parent, ImageReference? reference)
    {
        var info = Content.Ingest(configBytes);
        string id = info.Digest.ToString();
        lock (_lock)
        {
            if (!_images.ContainsKey(id))
            {
                var record = new ImageRecord { Id = id, Parent = parent, Added = DateTime.UtcNow };
                WriteAtomically(RecordPath(id), JsonSerializer.SerializeToUtf8Bytes(record, StoreJsonContext.Default.ImageRecord));
                _images[id] = record;
            }
            if (reference is not null)
            {
                _refs[reference.WithDefaultTag().ToString()] = id;
                SaveRepositories();
            }
            return Build(id);
        }
    }

    private static ImageReference ParseTagTarget(string s)
    {
        var r = ImageReference.Parse(s);
        if (r.Digest is not null) throw new InvalidImageArgumentException("refusing to create a tag with a digest reference");
        return r.WithDefaultTag();
    }

    /// <summary>Marks an operation that creates layers and blobs before its image record; see <see cref="CollectGarbage"/>.</summary>
    private Operation BeginOperation()
    {
        lock (_lock) _operations++;
        return new Operation(this);
    }

    private void EndOperation()
    {
        lock (_lock)
        {
            _operations--;
            if (_operations == 0 && _gcPending)
            {
                _gcPending = false;
                CollectGarbage();
            }
        }
    }

    private readonly struct Operation(ImageStore store) : IDisposable
    {
        public void Dispose() => store.EndOperation();
    }

    /// <summary>OCI chain ID: <c>ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln))</c>.</summary>
    public static string ChainId(string parentChain, string diffId) =>
        "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(parentChain + " " + diffId)));

    /// <summary>Chain IDs of a list of diff IDs, bottom first.</summary>
    public static IReadOnlyList<string> ChainIds(IReadOnlyList<string> diffIds)
    {
        var result = new List<string>(diffIds.Count);
        foreach (var d in diffIds) result.Add(result.Count == 0 ? d : ChainId(result[^1], d));
        return result;
    }

    private string ResolveId(string s)
    {
        string raw = s.Trim();
        if (raw.StartsWith("sha256:", StringComparison.Ordinal) && raw.Length == 71)
            return _images.ContainsKey(raw) ? raw : throw new ImageNotFoundException(s);
        if (raw.Length == 64 && Digest.TryFromHex(raw, out var full))
            return _images.ContainsKey(full.ToString()) ? full.ToString() : throw new ImageNotFoundException(s);
        if (ImageReference.TryParse(raw, out var reference, out _))
        {
            if (reference.Digest is not null)
            {
                // A digest reference: a repo digest we were told about, or the image ID itself.
                if (_refs.TryGetValue(reference.ToString(), out var byDigest)) return byDigest;
                if (_images.ContainsKey(reference.Digest) && RefsOf(reference.Digest).Any(r => ImageReference.Parse(r).Repository == reference.Repository))
                    return reference.Digest;
            }
            else if (_refs.TryGetValue(reference.WithDefaultTag().ToString(), out var id))
            {
                return id;
            }
        }
        string prefix = raw.StartsWith("sha256:", StringComparison.Ordinal) ? raw[7..] : raw;
        if (prefix.Length > 0 && prefix.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f'))
        {
            var matches = _images.Keys.Where(k => k.AsSpan(7).StartsWith(prefix, StringComparison.Ordinal)).Take(2).ToList();
            if (matches.Count == 1) return matches[0];
            if (matches.Count > 1) throw new InvalidImageArgumentException($"ambiguous image ID prefix '{s}'");
        }
        throw new ImageNotFoundException(ImageReference.TryParse(raw, out var r, out _) ? r.WithDefaultTag().Familiar : s);
    }

    private IEnumerable<string> RefsOf(string id) => _refs.Where(kv => kv.Value == id).Select(kv => kv.Key);

    private bool HasChildren(string id) => _images.Values.Any(r => r.Parent == id);

    private static string Familiar(string fullRef) => ImageReference.Parse(fullRef).Familiar;

    private static string Short(string id) => id.StartsWith("sha256:", StringComparison.Ordinal) ? id[7..19] : id.Length > 12 ? id[..12] : id;

    private ImageConfig ReadConfig(string id) => ParseConfig(Content.ReadAllBytes(Digest.Parse(id)));

    private static ImageConfig ParseConfig(byte[] bytes)
    {
        try
        {
            var c = JsonSerializer.Deserialize(bytes, ImageJsonContext.Default.ImageConfig) ?? throw new InvalidImageArgumentException("empty image config");
            foreach (var d in c.RootFs.DiffIds)
                if (!Digest.TryParse(d, out _)) throw new InvalidImageArgumentException($"invalid diff ID '{d}' in image config");
            return c;
        }
        catch (JsonException ex)
        {
            throw new InvalidImageArgumentException("invalid image config: " + ex.Message, ex);
        }
    }

    /// <summary>Builds the caller's snapshot of an image; config bytes and sizes are cached (both are immutable). Call under the lock.</summary>
    private Image Build(string id)
    {
        if (!_cache.TryGetValue(id, out var cached))
        {
            byte[] b = Content.ReadAllBytes(Digest.Parse(id));
            var c = ParseConfig(b);
            cached = (b, ChainIds(c.RootFs.DiffIds).Sum(chain => Snapshots.Get(chain)?.Size ?? 0));
            _cache[id] = cached;
        }
        byte[] bytes = cached.Bytes;
        var config = ParseConfig(bytes);
        var chains = ChainIds(config.RootFs.DiffIds);
        var refs = RefsOf(id).Select(ImageReference.Parse).ToList();
        return new Image
        {
            Id = id,
            RepoTags = refs.Where(r => r.Tag is not null).Select(r => r.Familiar).Order(StringComparer.Ordinal).ToList(),
            RepoDigests = refs.Where(r => r.Digest is not null).Select(r => r.Familiar).Order(StringComparer.Ordinal).ToList(),
            Parent = _images[id].Parent,
            Config = config,
            ConfigBytes = bytes,
            Size = cached.Size,
            DiffIds = config.RootFs.DiffIds,
            ChainIds = chains,
        };
    }

    private string RecordPath(string id) => Path.Combine(_imagesDir, id[7..] + ".json");

    private string RepositoriesPath => Path.Combine(_imagesDir, "repositories.json");

    private void LoadState()
    {
        foreach (var file in Directory.EnumerateFiles(_imagesDir, "*.json"))
        {
            if (Path.GetFileName(file) == "repositories.json") continue;
            var record = JsonSerializer.Deserialize(File.ReadAllBytes(file), StoreJsonContext.Default.ImageRecord);
            if (record is null || !Digest.TryParse(record.Id, out var d) || !Content.Exists(d))
            {
                File.Delete(file);
                continue;
            }
            _images[record.Id] = record;
        }
        if (File.Exists(RepositoriesPath))
        {
            var repos = JsonSerializer.Deserialize(File.ReadAllBytes(RepositoriesPath), StoreJsonContext.Default.RepositoriesFile);
            bool dropped = false;
            foreach (var (_, map) in repos?.Repositories ?? [])
                foreach (var (r, id) in map)
                {
                    if (_images.ContainsKey(id) && ImageReference.TryParse(r, out _, out _)) _refs[r] = id;
                    else dropped = true;
                }
            if (dropped) SaveRepositories();
        }
        foreach (var file in Directory.EnumerateFiles(_imagesDir, ".*.tmp")) File.Delete(file);
        string tmp = Path.Combine(DataRoot, "tmp");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
    }

    private void SaveRepositories()
    {
        var file = new RepositoriesFile();
        foreach (var (r, id) in _refs.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            string repo = ImageReference.Parse(r).Repository;
            if (!file.Repositories.TryGetValue(repo, out var map)) file.Repositories[repo] = map = new(StringComparer.Ordinal);
            map[r] = id;
        }
        WriteAtomically(RepositoriesPath, JsonSerializer.SerializeToUtf8Bytes(file, StoreJsonContext.Default.RepositoriesFile));
    }

    private static void WriteAtomically(string path, byte[] data)
    {
        string dir = Path.GetDirectoryName(path)!;
        string tmp = Path.Combine(dir, "." + Path.GetFileName(path) + "." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)) + ".tmp");
        using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
        {
            fs.Write(data);
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    private static string HostArchitecture() => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        Architecture.Arm => "arm",
        Architecture.X86 => "386",
        Architecture.S390x => "s390x",
        Architecture.Ppc64le => "ppc64le",
        Architecture.RiscV64 => "riscv64",
        var a => a.ToString().ToLowerInvariant(),
    };

    /// <summary>Copies everything read from the source into a second stream (the blob being ingested).</summary>
    private sealed class TeeStream(Stream source, Stream copy) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = source.Read(buffer);
            if (n > 0) copy.Write(buffer[..n]);
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
