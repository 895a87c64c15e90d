using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Skiff.Content;
using Skiff.Images;

namespace Skiff.Distribution;

/// <summary>
/// <c>docker push</c>: uploads an image's layers (at most <see cref="MaxConcurrentUploads"/> at once), its config and a
/// manifest, then records the manifest digest as a RepoDigest.
/// <para>
/// A layer is not uploaded when the target already has it: every compressed digest the store knows for the layer
/// (<see cref="ImageStore.LayerSources"/>, from earlier pulls and pushes) is checked with HEAD, and a blob known in another
/// repository of the same registry is mounted from there. Otherwise a compressed blob a pull cached is uploaded as it
/// is, or else the layer's stored tar is gzip-compressed while it is uploaded in one chunked PATCH (hashed on the way, so
/// nothing is buffered or written to disk) and committed with the digest that produced.
/// </para>
/// </summary>
public sealed class Pusher(ImageStore store, HttpClient http)
{
    public int MaxConcurrentUploads { get; init; } = 5;

    /// <summary>Pushes one tag, or every tag of the repository when <paramref name="target"/> has none.</summary>
    public async Task<IReadOnlyList<PushResult>> PushAsync(ImageReference target, RegistryCredentials? credentials, ProgressSink progress, CancellationToken ct)
    {
        if (target.Digest is not null) throw new DistributionException("cannot push a digest reference") { Kind = DistributionErrorKind.InvalidArgument };
        var tags = target.Tag is null
            ? store.TagsOf(target.Repository).Select(t => t.Reference).ToList()
            : [target];
        if (tags.Count == 0 || (target.Tag is not null && store.TryFind(target.ToString()) is null))
            throw new DistributionException($"An image does not exist locally with the tag: {target.FamiliarRepository}") { Kind = DistributionErrorKind.NotFound };
        progress(new ProgressEvent($"The push refers to repository [{target.Repository}]"));
        var client = new RegistryClient(http, target.Domain, credentials);
        var results = new List<PushResult>();
        foreach (var tag in tags)
            results.Add(await PushOneAsync(client, tag, progress, ct).ConfigureAwait(false));
        return results;
    }

    private async Task<PushResult> PushOneAsync(RegistryClient client, ImageReference tag, ProgressSink progress, CancellationToken ct)
    {
        var image = store.Find(tag.ToString());
        string repo = tag.Path;
        var layers = new Descriptor[image.DiffIds.Count];
        var order = Enumerable.Range(0, image.DiffIds.Count).Reverse().ToList();
        foreach (var i in order) progress(new ProgressEvent("Preparing", Digest.Parse(image.DiffIds[i]).Hex[..12]) { HasDetail = true });
        foreach (var i in order.Skip(MaxConcurrentUploads)) progress(new ProgressEvent("Waiting", Digest.Parse(image.DiffIds[i]).Hex[..12]) { HasDetail = true });
        using var slots = new SemaphoreSlim(MaxConcurrentUploads);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var tasks = order.Select(i => Task.Run(async () =>
        {
            await slots.WaitAsync(failed.Token).ConfigureAwait(false);
            try
            {
                layers[i] = await PushLayerAsync(client, tag, image.DiffIds[i], image.ChainIds[i], progress, failed.Token).ConfigureAwait(false);
            }
            catch
            {
                failed.Cancel();
                throw;
            }
            finally
            {
                slots.Release();
            }
        }, CancellationToken.None)).ToList();
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch
        {
            var first = tasks.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!).FirstOrDefault(e => e is not OperationCanceledException);
            if (first is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
            throw;
        }

        bool oci = layers.Any(l => l.MediaType.StartsWith("application/vnd.oci.", StringComparison.Ordinal));
        var configDigest = Digest.Parse(image.Id);
        if (!await client.BlobExistsAsync(repo, configDigest, ct).ConfigureAwait(false))
        {
            var location = await client.StartUploadAsync(repo, ct).ConfigureAwait(false);
            await client.UploadMonolithicAsync(repo, location, new ByteArrayContent(image.ConfigBytes), configDigest, ct).ConfigureAwait(false);
        }
        var manifest = new ImageManifest
        {
            SchemaVersion = 2,
            MediaType = oci ? MediaTypes.OciManifest : MediaTypes.DockerManifest,
            Config = new Descriptor { MediaType = oci ? MediaTypes.OciConfig : MediaTypes.DockerConfig, Digest = image.Id, Size = image.ConfigBytes.Length },
            Layers = layers.Select(l => new Descriptor
            {
                MediaType = oci && l.MediaType == MediaTypes.DockerLayerGzip ? MediaTypes.OciLayerGzip : l.MediaType,
                Digest = l.Digest,
                Size = l.Size,
            }).ToList(),
        };
        byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(manifest, DistributionJson.Default.ImageManifest);
        var digest = await client.PutManifestAsync(repo, tag.Tag!, bytes, manifest.MediaType, ct).ConfigureAwait(false);
        store.AddRepoDigest(image.Id, ImageReference.Parse(tag.Repository + "@" + digest));
        var result = new PushResult(tag.Tag!, digest.ToString(), bytes.Length);
        progress(new ProgressEvent($"{tag.Tag}: digest: {digest} size: {bytes.Length}"));
        progress(new ProgressEvent("") { Aux = result, HasDetail = true });
        return result;
    }

    private async Task<Descriptor> PushLayerAsync(RegistryClient client, ImageReference tag, string diffId, string chainId, ProgressSink progress, CancellationToken ct)
    {
        string shortId = Digest.Parse(diffId).Hex[..12];
        string repo = tag.Path;
        var sources = store.LayerSources(diffId);
        foreach (var s in sources.Where(s => s.Registry == tag.Domain && s.Repository == repo).Concat(sources.Where(s => s.Registry != tag.Domain)).Take(3))
        {
            if (await client.BlobExistsAsync(repo, Digest.Parse(s.Digest), ct).ConfigureAwait(false))
            {
                progress(new ProgressEvent("Layer already exists", shortId) { HasDetail = true });
                if (s.Registry != tag.Domain || s.Repository != repo) Remember(diffId, s, tag);
                return Describe(s);
            }
        }
        Uri? location = null;
        foreach (var s in sources.Where(s => s.Registry == tag.Domain && s.Repository != repo).Take(3))
        {
            location = await client.MountOrStartUploadAsync(repo, Digest.Parse(s.Digest), s.Repository, ct).ConfigureAwait(false);
            if (location is null)
            {
                progress(new ProgressEvent("Mounted from " + s.Repository, shortId) { HasDetail = true });
                Remember(diffId, s, tag);
                return Describe(s);
            }
            break;
        }
        location ??= await client.StartUploadAsync(repo, ct).ConfigureAwait(false);

        // A compressed blob cached by a pull is uploaded as it is, in one request with its known digest.
        if (sources.FirstOrDefault(s => store.Content.Exists(Digest.Parse(s.Digest))) is { } cached)
        {
            var digest = Digest.Parse(cached.Digest);
            long size = store.Content.Size(digest);
            var file = new FileUploadContent(() => store.Content.OpenRead(digest), size,
                cur => progress(new ProgressEvent("Pushing", shortId, cur, size) { HasDetail = true }));
            await client.UploadMonolithicAsync(repo, location, file, digest, ct).ConfigureAwait(false);
            progress(new ProgressEvent("Pushed", shortId) { HasDetail = true });
            Remember(diffId, cached, tag);
            return Describe(cached);
        }

        long total = store.LayerTarSize(chainId);
        var content = new GzipUploadContent(() => store.OpenLayerTar(chainId).Tar,
            cur => progress(new ProgressEvent("Pushing", shortId, cur, total) { HasDetail = true }));
        await client.UploadAsync(repo, location, content, () => content.Digest, ct).ConfigureAwait(false);
        progress(new ProgressEvent("Pushed", shortId) { HasDetail = true });
        var source = new LayerSource { Digest = content.Digest.ToString(), MediaType = MediaTypes.DockerLayerGzip, Size = content.CompressedLength, Registry = tag.Domain, Repository = repo };
        store.AddLayerSource(diffId, source);
        return Describe(source);
    }

    private void Remember(string diffId, LayerSource s, ImageReference tag) =>
        store.AddLayerSource(diffId, new LayerSource { Digest = s.Digest, MediaType = s.MediaType, Size = s.Size, Registry = tag.Domain, Repository = tag.Path });

    private static Descriptor Describe(LayerSource s) => new() { MediaType = s.MediaType, Digest = s.Digest, Size = s.Size };

    /// <summary>
    /// A chunked request body that gzip-compresses a layer tar while sending it; after the send, <see cref="Digest"/> and
    /// <see cref="CompressedLength"/> describe exactly the bytes sent. Progress counts uncompressed bytes, as Docker's does.
    /// </summary>
    private sealed class GzipUploadContent(Func<Stream> open, Action<long> report) : HttpContent
    {
        public Digest Digest { get; private set; }
        public long CompressedLength { get; private set; }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            await SerializeToStreamAsync(stream, context, CancellationToken.None).ConfigureAwait(false);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken ct)
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var hashing = new HashingWriteStream(stream, hash);
            await using (var source = open())
            await using (var gzip = new GZipStream(hashing, CompressionLevel.Fastest, leaveOpen: true))
                await CopyReportingAsync(source, gzip, report, ct).ConfigureAwait(false);
            await hashing.FlushAsync(ct).ConfigureAwait(false);
            Digest = Digest.FromHash(hash.GetHashAndReset());
            CompressedLength = hashing.Length;
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    /// <summary>Copies <paramref name="source"/> to <paramref name="destination"/>, reporting the bytes read so far at most every 100 ms and once at the end.</summary>
    private static async Task CopyReportingAsync(Stream source, Stream destination, Action<long> report, CancellationToken ct)
    {
        var buf = new byte[256 * 1024];
        long done = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long last = -1000;
        int n;
        while ((n = await source.ReadAsync(buf, ct).ConfigureAwait(false)) > 0)
        {
            await destination.WriteAsync(buf.AsMemory(0, n), ct).ConfigureAwait(false);
            done += n;
            if (clock.ElapsedMilliseconds - last >= 100) { last = clock.ElapsedMilliseconds; report(done); }
        }
        report(done);
    }

    /// <summary>A request body read from a stored blob of known length, reporting progress.</summary>
    private sealed class FileUploadContent(Func<Stream> open, long length, Action<long> report) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            await SerializeToStreamAsync(stream, context, CancellationToken.None).ConfigureAwait(false);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken ct)
        {
            await using var source = open();
            await CopyReportingAsync(source, stream, report, ct).ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long len)
        {
            len = length;
            return true;
        }
    }

    private sealed class HashingWriteStream(Stream inner, IncrementalHash hash) : Stream
    {
        private long _length;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            hash.AppendData(buffer);
            _length += buffer.Length;
            inner.Write(buffer);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            hash.AppendData(buffer.Span);
            _length += buffer.Length;
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
