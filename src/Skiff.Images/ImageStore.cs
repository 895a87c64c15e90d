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
/// <item><c>content/blobs/sha256/&lt;hex&gt;</c>: image configs (keyed by image ID), uncompressed tars of layers made here
/// (import, load, commit, build; keyed by diff ID) and compressed blobs of pulled layers (keyed by their registry digest,
/// named in the layer's metadata), so that <see cref="Save"/> and pushes reproduce the exact diff IDs.</item>
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
/// extraction runs outside it. Exactly one instance may own a data root at a time (the constructor's crash recovery
/// deletes other instances' work in progress); the daemon guarantees that with its own pid/lock file.
/// </para>
/// <para>One verb per file: ImageStore.Query (find, list, history, container layers, tag), .Import, .Commit, .Remove
/// (rmi, prune, garbage collection), .SaveLoad; this file holds state, persistence and shared internals.</para>
/// </summary>
public sealed partial class ImageStore
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
    /// <param name="ids">The daemon's <c>--userns-remap</c> mapping: layers are extracted with ownership shifted to host ids
    /// and archived back with container ids (commit, export), so the tars and diff IDs are those of an unmapped store.</param>
    public ImageStore(string dataRoot, IdMap? ids = null)
    {
        Ids = ids;
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
    /// <summary>The user namespace remapping layers are stored under, or null (ids as in the tars).</summary>
    public IdMap? Ids { get; }
    public ContentStore Content { get; }
    public Snapshotter Snapshots { get; }

    /// <summary>
    /// Extracts one layer stream into a new snapshot while storing its uncompressed bytes as a blob. Callers hold an
    /// operation (<see cref="BeginOperation"/>) until the image that uses the layer is registered.
    /// </summary>
    /// <param name="beforeCommit">Runs after the whole stream was read and before anything becomes visible (a pull checks the
    /// compressed digest there and waits for the parent layer); an exception discards the layer.</param>
    private LayerInfo ImportLayer(Stream source, string? parentChain, string? expectedDiffId, Action? beforeCommit = null, ExtractOptions? options = null)
    {
        using var plain = Compression.OpenDecompressed(source, out _, leaveOpen: true);
        using var pending = Snapshots.BeginLayer();
        ContentInfo blob;
        ExtractResult result;
        using (var writer = Content.BeginIngest())
        {
            var tee = new TeeStream(plain, writer);
            result = Extract(tee, pending.DiffPath, options);
            tee.CopyTo(Stream.Null);
            if (writer.Length == 0) throw new InvalidImageArgumentException("empty archive: no tar data");
            beforeCommit?.Invoke();
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

    /// <summary>
    /// As <see cref="ImportLayer"/> for a layer whose compressed blob the caller keeps in the content store
    /// (<paramref name="compressedBlob"/>, committed by <paramref name="beforeCommit"/> at the latest): the uncompressed tar
    /// is only hashed and counted, not stored; the layer records the blob and the tar's length, and <see cref="OpenLayerTar"/>
    /// reproduces the tar by decompressing the blob.
    /// </summary>
    private LayerInfo ImportCompressedLayer(Stream source, string? parentChain, string expectedDiffId, Digest compressedBlob, Action beforeCommit, ExtractOptions options)
    {
        using var plain = Compression.OpenDecompressed(source, out _, leaveOpen: true);
        using var pending = Snapshots.BeginLayer();
        // Decompressing and hashing the tar is a stage of its own (a task reading ahead), extracting it another: with the
        // caller's download stage that is three, so a pull keeps both cores busy.
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long tarLength = 0;
        using var tar = new ReadAheadStream(plain, chunk =>
        {
            hash.AppendData(chunk);
            tarLength += chunk.Length;
        }, chunkSize: 256 << 10, depth: 8, synchronous: true);
        var result = Extract(tar, pending.DiffPath, options);
        tar.DrainToEnd();
        if (tarLength == 0) throw new InvalidImageArgumentException("empty archive: no tar data");
        beforeCommit();
        var actual = Skiff.Content.Digest.FromHash(hash.GetCurrentHash());
        if (actual.ToString() != expectedDiffId)
            throw new InvalidImageArgumentException($"layer does not match its diff ID: expected {expectedDiffId}, got {actual}");
        if (!Content.Exists(compressedBlob)) throw new InvalidOperationException($"compressed layer blob {compressedBlob} was not stored");
        string chain = parentChain is null ? expectedDiffId : ChainId(parentChain, expectedDiffId);
        return pending.Commit(chain, parentChain, expectedDiffId, result.FileBytes, new LayerTar(compressedBlob.ToString(), tarLength));
    }

    /// <summary>
    /// The uncompressed tar of a committed layer (whose diff ID is <see cref="LayerInfo.DiffId"/>) and its length: the stored
    /// tar blob, or the decompressed <see cref="LayerInfo.CompressedBlob"/>. The stream verifies the length and the diff ID
    /// as it is read and throws <see cref="InvalidDataException"/> at the end when the stored data was damaged.
    /// </summary>
    /// <exception cref="ImageNotFoundException">The layer or its data is missing.</exception>
    public (Stream Tar, long Size) OpenLayerTar(string chainId)
    {
        var layer = Snapshots.Get(chainId) ?? throw new ImageNotFoundException($"layer {chainId}");
        return OpenLayerTar(layer);
    }

    /// <summary>Length of a committed layer's uncompressed tar.</summary>
    /// <exception cref="ImageNotFoundException">The layer or its data is missing.</exception>
    public long LayerTarSize(string chainId)
    {
        var layer = Snapshots.Get(chainId) ?? throw new ImageNotFoundException($"layer {chainId}");
        var diffId = Digest.Parse(layer.DiffId);
        if (Content.Exists(diffId)) return Content.Size(diffId);
        return HasLayerTar(layer) ? layer.TarSize : throw new ImageNotFoundException($"data of layer {layer.DiffId}");
    }

    private (Stream Tar, long Size) OpenLayerTar(LayerInfo layer)
    {
        var diffId = Digest.Parse(layer.DiffId);
        if (Content.Exists(diffId)) return (new VerifyingReadStream(Content.OpenRead(diffId), diffId, Content.Size(diffId)), Content.Size(diffId));
        if (layer.CompressedBlob is { } c && layer.TarSize > 0 && Content.Exists(Digest.Parse(c)))
            return (new VerifyingReadStream(Compression.OpenDecompressed(Content.OpenRead(Digest.Parse(c)), out _), diffId, layer.TarSize), layer.TarSize);
        throw new ImageNotFoundException($"data of layer {layer.DiffId}");
    }

    /// <summary>True when the layer's tar can be produced: stored as a blob, or as the compressed blob its metadata names.</summary>
    private bool HasLayerTar(LayerInfo layer) =>
        Content.Exists(Digest.Parse(layer.DiffId)) || (layer.CompressedBlob is { } c && layer.TarSize > 0 && Content.Exists(Digest.Parse(c)));

    private ExtractResult Extract(Stream tar, string dir, ExtractOptions? options = null, bool layer = true)
    {
        try
        {
            if (layer && Ids is not null) options = (options ?? new ExtractOptions()).WithIds(Ids);
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

    /// <param name="repoDigest">Also recorded (<c>repo@sha256:manifest</c>), in the same write of the references.</param>
    private Image Register(byte[] configBytes, string? parent, ImageReference? reference, ImageReference? repoDigest = null)
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
            bool changed = false;
            if (reference is not null)
            {
                string key = reference.WithDefaultTag().ToString();
                changed = !(_refs.TryGetValue(key, out var cur) && cur == id);
                _refs[key] = id;
            }
            if (repoDigest?.Digest is not null)
            {
                string key = ImageReference.Parse(repoDigest.Repository + "@" + repoDigest.Digest).ToString();
                changed |= !(_refs.TryGetValue(key, out var cur) && cur == id);
                _refs[key] = id;
            }
            if (changed) SaveRepositories();
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

    /// <summary>Replaces a file by a rename (atomic against a process crash); <paramref name="durable"/> adds an fsync first.</summary>
    private static void WriteAtomically(string path, byte[] data, bool durable = true)
    {
        string dir = Path.GetDirectoryName(path)!;
        string tmp = Path.Combine(dir, "." + Path.GetFileName(path) + "." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)) + ".tmp");
        using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
        {
            fs.Write(data);
            fs.Flush(flushToDisk: durable);
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

    /// <summary>Hashes (sha256) and counts everything read through it.</summary>
    private class HashingReadStream(Stream source, bool ownsSource = false) : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long _length;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = source.Read(buffer);
            if (n > 0)
            {
                _hash.AppendData(buffer[..n]);
                _length += n;
            }
            return n;
        }

        public Digest Digest() => Skiff.Content.Digest.FromHash(_hash.GetCurrentHash());

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _hash.Dispose();
                if (ownsSource) source.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// Reads a stored layer tar, checking at its end that it had exactly the expected length and digest (the data may have
    /// been damaged on disk since it was verified: a power loss, a disk error).
    /// </summary>
    private sealed class VerifyingReadStream(Stream source, Digest expected, long expectedLength) : HashingReadStream(source, ownsSource: true)
    {
        public override long Length => expectedLength;

        public override int Read(Span<byte> buffer)
        {
            int n = base.Read(buffer);
            long read = Position;
            if (n > 0)
            {
                if (read > expectedLength) throw new InvalidDataException($"stored layer {expected} is longer than {expectedLength} bytes");
            }
            else if (buffer.Length > 0)
            {
                if (read != expectedLength) throw new InvalidDataException($"stored layer {expected} has {read} bytes, expected {expectedLength}");
                var actual = Digest();
                if (actual != expected) throw new InvalidDataException($"stored layer {expected} is damaged: its content hashes to {actual}");
            }
            return n;
        }
    }
}
