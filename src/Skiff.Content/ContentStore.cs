using System.Collections.Concurrent;
using System.Security.Cryptography;
using Skiff.Linux;

namespace Skiff.Content;

/// <summary>A stored blob: its digest and length.</summary>
public sealed record ContentInfo(Digest Digest, long Size);

/// <summary>Outcome of <see cref="ContentStore.Verify"/>.</summary>
public sealed record VerifyReport(int Checked, IReadOnlyList<Digest> CorruptRemoved, IReadOnlyList<string> StaleIngestsRemoved);

/// <summary>
/// Content-addressed blob store: <c>&lt;root&gt;/blobs/sha256/&lt;hex&gt;</c>, partial writes in
/// <c>&lt;root&gt;/ingest/&lt;random&gt;</c>.
/// <para>
/// Crash safety: a blob becomes visible only by an atomic rename of a fully written, fsynced ingest
/// file whose hash was computed while it was written (and compared with the expected digest when
/// one is given); the blob directory is fsynced after the rename. A crash therefore leaves at worst
/// an orphan file in <c>ingest/</c>, which <see cref="Verify"/> removes. Blobs are immutable once
/// committed. Thread-safe: concurrent ingests of the same content are fine (the second rename
/// finds the blob present and discards its copy).
/// </para>
/// </summary>
public sealed class ContentStore
{
    private readonly ConcurrentDictionary<string, byte> _activeIngests = new();

    /// <param name="root">The store's directory, e.g. <c>&lt;data-root&gt;/content</c>; created if missing.</param>
    public ContentStore(string root)
    {
        Root = Path.GetFullPath(root);
        BlobDirectory = Path.Combine(Root, "blobs", "sha256");
        IngestDirectory = Path.Combine(Root, "ingest");
        Directory.CreateDirectory(BlobDirectory);
        Directory.CreateDirectory(IngestDirectory);
    }

    public string Root { get; }
    internal string BlobDirectory { get; }
    internal string IngestDirectory { get; }

    /// <summary>Path of the blob file (it may not exist). Callers must treat it as read-only.</summary>
    public string BlobPath(Digest digest) => Path.Combine(BlobDirectory, digest.Hex);

    public bool Exists(Digest digest) => File.Exists(BlobPath(digest));

    /// <exception cref="ContentNotFoundException"/>
    public long Size(Digest digest)
    {
        var fi = new FileInfo(BlobPath(digest));
        return fi.Exists ? fi.Length : throw new ContentNotFoundException(digest);
    }

    /// <summary>Opens a blob for reading.</summary>
    /// <exception cref="ContentNotFoundException"/>
    public Stream OpenRead(Digest digest)
    {
        try
        {
            return new FileStream(BlobPath(digest), FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        }
        catch (FileNotFoundException)
        {
            throw new ContentNotFoundException(digest);
        }
    }

    public byte[] ReadAllBytes(Digest digest)
    {
        using var s = OpenRead(digest);
        var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    /// <summary>Deletes a blob; false when it was not there.</summary>
    public bool Delete(Digest digest)
    {
        string p = BlobPath(digest);
        if (!File.Exists(p)) return false;
        File.Delete(p);
        return true;
    }

    /// <summary>Digests of all committed blobs.</summary>
    public IEnumerable<Digest> List()
    {
        foreach (var f in Directory.EnumerateFiles(BlobDirectory))
            if (Digest.TryFromHex(Path.GetFileName(f), out var d)) yield return d;
    }

    /// <summary>Streams <paramref name="source"/> to its end into the store.</summary>
    /// <exception cref="DigestMismatchException">The data does not hash to <paramref name="expected"/>; nothing is committed.</exception>
    public ContentInfo Ingest(Stream source, Digest? expected = null)
    {
        using var w = BeginIngest();
        source.CopyTo(w, 256 * 1024);
        return w.Commit(expected);
    }

    /// <summary>Stores a small blob held in memory (image configs, manifests).</summary>
    public ContentInfo Ingest(ReadOnlySpan<byte> data, Digest? expected = null)
    {
        using var w = BeginIngest();
        w.Write(data);
        return w.Commit(expected);
    }

    /// <summary>
    /// Starts an ingest that the caller writes into (e.g. teeing a layer while extracting it). Dispose
    /// without <see cref="ContentWriter.Commit"/> discards the partial data.
    /// </summary>
    public ContentWriter BeginIngest()
    {
        string name = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        _activeIngests[name] = 0;
        return new ContentWriter(this, name, Path.Combine(IngestDirectory, name));
    }

    internal void EndIngest(string name) => _activeIngests.TryRemove(name, out _);

    internal void SyncBlobDirectory() => SyncDirectory(BlobDirectory);

    internal static void SyncDirectory(string dir)
    {
        int fd = Libc.openat(Libc.AT_FDCWD, dir, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (fd < 0) return;
        Libc.fsync(fd);
        Libc.close(fd);
    }

    /// <summary>
    /// Consistency check after a crash or on demand: rehashes every blob and removes those whose
    /// content no longer matches their name, and removes ingest files that no ingest of this store
    /// instance is writing (leftovers of a process that died mid-write).
    /// </summary>
    public VerifyReport Verify()
    {
        var corrupt = new List<Digest>();
        var stale = new List<string>();
        int checkedCount = 0;
        foreach (var file in Directory.EnumerateFiles(BlobDirectory).ToList())
        {
            string name = Path.GetFileName(file);
            if (!Digest.TryFromHex(name, out var d))
            {
                File.Delete(file);
                continue;
            }
            checkedCount++;
            Digest actual;
            using (var s = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan))
                actual = Digest.Compute(s);
            if (actual != d)
            {
                File.Delete(file);
                corrupt.Add(d);
            }
        }
        stale.AddRange(RemoveStaleIngests());
        return new VerifyReport(checkedCount, corrupt, stale);
    }

    /// <summary>
    /// The cheap half of <see cref="Verify"/>, meant for every startup: removes ingest files that no ingest of this
    /// store instance is writing. Returns their names.
    /// </summary>
    public IReadOnlyList<string> RemoveStaleIngests()
    {
        var stale = new List<string>();
        foreach (var file in Directory.EnumerateFiles(IngestDirectory).ToList())
        {
            string name = Path.GetFileName(file);
            if (_activeIngests.ContainsKey(name)) continue;
            File.Delete(file);
            stale.Add(name);
        }
        return stale;
    }
}

/// <summary>
/// Write side of one ingest: hashes while writing to <c>ingest/&lt;random&gt;</c>; <see cref="Commit"/>
/// fsyncs, verifies and renames into place.
/// </summary>
public sealed class ContentWriter : Stream
{
    private readonly ContentStore _store;
    private readonly string _name;
    private readonly string _path;
    private readonly FileStream _file;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _length;
    private bool _done;

    internal ContentWriter(ContentStore store, string name, string path)
    {
        _store = store;
        _name = name;
        _path = path;
        _file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 256 * 1024);
    }

    /// <summary>Path of the partial file (for diagnostics and crash tests).</summary>
    public string IngestPath => _path;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => !_done;
    public override long Length => _length;
    public override long Position { get => _length; set => throw new NotSupportedException(); }
    public override void Flush() => _file.Flush();
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_done, this);
        _hash.AppendData(buffer);
        _file.Write(buffer);
        _length += buffer.Length;
    }

    /// <summary>The digest of everything written so far (does not end the ingest).</summary>
    public Digest CurrentDigest()
    {
        Span<byte> h = stackalloc byte[32];
        _hash.GetCurrentHash(h);
        return Digest.FromHash(h);
    }

    /// <summary>Makes the data a durable blob and returns it. The writer is finished afterwards.</summary>
    /// <exception cref="DigestMismatchException">Nothing is committed and the partial data is removed.</exception>
    public ContentInfo Commit(Digest? expected = null) => Commit(expected, durable: true);

    /// <summary>
    /// As <see cref="Commit(Digest?)"/>; with <paramref name="durable"/> false the data is not fsynced (for caches whose
    /// every reader verifies the digest again, e.g. compressed layers a registry checks on upload): a power loss may leave
    /// such a blob damaged, which <see cref="ContentStore.Verify"/> finds. A process crash cannot.
    /// </summary>
    public ContentInfo Commit(Digest? expected, bool durable)
    {
        ObjectDisposedException.ThrowIf(_done, this);
        _done = true;
        try
        {
            if (durable) _file.Flush(flushToDisk: true);
            else _file.Flush();
            _file.Dispose();
            var digest = Digest.FromHash(_hash.GetHashAndReset());
            if (expected is { } e && e != digest) throw new DigestMismatchException(e, digest);
            string final = _store.BlobPath(digest);
            if (File.Exists(final))
            {
                File.Delete(_path);
            }
            else
            {
                File.Move(_path, final, overwrite: true);
                // The name of a blob whose data was not fsynced is not worth an fsync of the directory either.
                if (durable) _store.SyncBlobDirectory();
            }
            return new ContentInfo(digest, _length);
        }
        catch
        {
            try { File.Delete(_path); } catch (IOException) { }
            throw;
        }
        finally
        {
            _store.EndIngest(_name);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_done)
        {
            _done = true;
            _file.Dispose();
            try { File.Delete(_path); } catch (IOException) { }
            _store.EndIngest(_name);
        }
        if (disposing) _hash.Dispose();
        base.Dispose(disposing);
    }
}
