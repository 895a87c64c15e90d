using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Skiff.Content;
using Skiff.Images;

namespace Skiff.Distribution;

/// <summary>
/// <c>docker pull</c>: resolves a reference to a manifest (choosing the platform's entry of an index), fetches the config,
/// and downloads the missing layers concurrently (at most <see cref="MaxConcurrentDownloads"/> at once). Each layer is
/// streamed: the HTTP body is hashed (compressed digest) and counted for progress while it is decompressed, and the tar is
/// extracted and its diff ID hashed in the same pass, and the compressed bytes are written to the content store (the
/// layer's only copy of its tar: the uncompressed tar is not stored); nothing is buffered in memory. A layer is
/// committed only after both digests matched and its parent layer was committed, so a crash or failure at any point
/// leaves only temporary data that opening the store removes.
/// </summary>
public sealed class Puller(ImageStore store, HttpClient http)
{
    public int MaxConcurrentDownloads { get; init; } = 3;

    /// <summary>Pulls <paramref name="reference"/> (a tag defaults to latest) for <c>os/arch[/variant]</c>.</summary>
    /// <exception cref="DistributionException">Registry errors, missing manifest or platform.</exception>
    /// <exception cref="ImageStoreException">Invalid or malicious layer or config (nothing of it is kept).</exception>
    public async Task<Image> PullAsync(ImageReference reference, RegistryCredentials? credentials, string os, string architecture, string? variant,
        ProgressSink progress, CancellationToken ct)
    {
        reference = reference.WithDefaultTag();
        var client = new RegistryClient(http, reference.Domain, credentials);
        string tagOrDigest = reference.Digest ?? reference.Tag!;
        var top = await client.GetManifestAsync(reference.Path, tagOrDigest, ct).ConfigureAwait(false);
        progress(new ProgressEvent("Pulling from " + reference.Path, tagOrDigest));
        var doc = top;
        if (top.Index is { } index)
        {
            var entry = ManifestParser.SelectPlatform(index, os, architecture, variant);
            doc = await client.GetManifestAsync(reference.Path, entry.Digest, ct).ConfigureAwait(false);
            if (doc.Manifest is null) throw new DistributionException($"manifest {entry.Digest} of the index is not an image manifest");
        }
        var manifest = doc.Manifest!;
        foreach (var l in manifest.Layers)
            if (!MediaTypes.IsLayer(l.MediaType))
                throw new DistributionException($"unsupported layer media type '{l.MediaType}' in {reference.Familiar}");

        byte[] configBytes = await client.GetSmallBlobAsync(reference.Path, Digest.Parse(manifest.Config.Digest), ct).ConfigureAwait(false);
        ImageConfig config;
        try
        {
            config = JsonSerializer.Deserialize(configBytes, ImageJsonContext.Default.ImageConfig) ?? throw new DistributionException("empty image config");
        }
        catch (JsonException ex)
        {
            throw new DistributionException($"invalid image config of {reference.Familiar}: {ex.Message}", ex);
        }
        var diffIds = config.RootFs.DiffIds;
        if (diffIds.Count != manifest.Layers.Count)
            throw new DistributionException($"invalid image {reference.Familiar}: the manifest has {manifest.Layers.Count} layers, the config {diffIds.Count} diff IDs");
        foreach (var d in diffIds)
            if (!Digest.TryParse(d, out _)) throw new DistributionException($"invalid diff ID '{d}' in the image config");
        var chains = ImageStore.ChainIds(diffIds);

        using var transfer = store.BeginTransfer();
        var present = Enumerable.Range(0, chains.Count).Select(i => store.HasLayer(chains[i], diffIds[i])).ToArray();
        bool allPresent = present.All(p => p);
        // An image that is here already (its config and every layer) gets no layer lines, as with dockerd.
        bool imageHere = allPresent && store.Exists(Digest.Compute(configBytes).ToString());
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var done = new TaskCompletionSource[manifest.Layers.Count];
        var tasks = new List<Task>();
        using var slots = new SemaphoreSlim(MaxConcurrentDownloads);
        int queued = 0;
        for (int i = 0; i < manifest.Layers.Count; i++)
        {
            done[i] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var desc = manifest.Layers[i];
            string shortId = Digest.Parse(desc.Digest).Hex[..12];
            store.AddLayerSource(diffIds[i], new LayerSource { Digest = desc.Digest, MediaType = desc.MediaType, Size = desc.Size, Registry = reference.Domain, Repository = reference.Path });
            if (present[i])
            {
                if (!imageHere) progress(new ProgressEvent("Already exists", shortId) { HasDetail = true });
                done[i].SetResult();
                continue;
            }
            progress(new ProgressEvent("Pulling fs layer", shortId) { HasDetail = true });
            queued++;
            int index2 = i;
            tasks.Add(Task.Run(() => PullLayerAsync(client, reference.Path, desc, shortId, index2 == 0 ? null : chains[index2 - 1], diffIds[index2],
                index2 == 0 ? Task.CompletedTask : done[index2 - 1].Task, done[index2], slots, progress, failed), CancellationToken.None));
        }
        if (queued > MaxConcurrentDownloads)
            foreach (var (desc, i) in manifest.Layers.Select((d, i) => (d, i)).Where(x => !done[x.i].Task.IsCompleted).Skip(MaxConcurrentDownloads))
                progress(new ProgressEvent("Waiting", Digest.Parse(desc.Digest).Hex[..12]) { HasDetail = true });
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch
        {
            // The first failure is the interesting one (the others were cancelled because of it).
            var first = tasks.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!).FirstOrDefault(e => e is not OperationCanceledException);
            if (first is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
            throw;
        }

        var (image, upToDate) = store.RegisterPulled(configBytes, reference.Digest is null ? reference : null,
            ImageReference.Parse(reference.Repository + "@" + top.Digest));
        progress(new ProgressEvent("Digest: " + top.Digest));
        progress(new ProgressEvent((upToDate && allPresent ? "Status: Image is up to date for " : "Status: Downloaded newer image for ") + reference.Familiar));
        return image;
    }

    private async Task PullLayerAsync(RegistryClient client, string repository, Descriptor desc, string shortId, string? parentChain, string diffId,
        Task parentDone, TaskCompletionSource done, SemaphoreSlim slots, ProgressSink progress, CancellationTokenSource failed)
    {
        bool holding = false;
        try
        {
            await slots.WaitAsync(failed.Token).ConfigureAwait(false);
            holding = true;
            var digest = Digest.Parse(desc.Digest);
            using var response = await client.GetBlobAsync(repository, digest, failed.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsStreamAsync(failed.Token).ConfigureAwait(false);
            // Another layer's failure ends a read blocked on this body.
            using var abort = failed.Token.Register(response.Dispose);
            long total = desc.Size > 0 ? desc.Size : response.Content.Headers.ContentLength ?? 0;
            // The compressed bytes are kept (unless already there): they are the layer's only stored tar (save decompresses
            // them) and a later push uploads them as they are.
            using var cache = store.Content.Exists(digest) ? null : store.Content.BeginIngest();
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long received = 0, lastReport = -1000;
            var clock = Stopwatch.StartNew();
            // Two stages on two threads: the read-ahead task receives, counts, hashes and stores the compressed bytes while
            // this thread decompresses, hashes and extracts the chunks before them.
            using var body2 = new ReadAheadStream(body, chunk =>
            {
                received += chunk.Length;
                if (total > 0 && received > total) throw new DistributionException($"layer {desc.Digest} is larger than the {total} bytes its manifest announces");
                hash.AppendData(chunk);
                cache?.Write(chunk);
                long now = clock.ElapsedMilliseconds;
                if (now - lastReport >= 100)
                {
                    lastReport = now;
                    progress(new ProgressEvent("Downloading", shortId, received, total) { HasDetail = true });
                }
            }, ownsSource: true, synchronous: true, cancel: failed.Token);
            store.AddLayer(body2, parentChain, diffId, digest, beforeCommit: () =>
            {
                body2.DrainToEnd();
                progress(new ProgressEvent("Downloading", shortId, received, total) { HasDetail = true });
                failed.Token.ThrowIfCancellationRequested();
                if (received != desc.Size && desc.Size > 0)
                    throw new DistributionException($"layer {desc.Digest}: got {received} bytes, the manifest says {desc.Size}");
                progress(new ProgressEvent("Verifying Checksum", shortId) { HasDetail = true });
                if (Digest.FromHash(hash.GetCurrentHash()) != digest)
                    throw new DistributionException($"filesystem layer verification failed for digest {desc.Digest}");
                cache?.Commit(digest, durable: false);
                progress(new ProgressEvent("Download complete", shortId) { HasDetail = true });
                slots.Release();
                holding = false;
                progress(new ProgressEvent("Extracting", shortId, received, received) { HasDetail = true });
                parentDone.GetAwaiter().GetResult();
            });
            progress(new ProgressEvent("Pull complete", shortId) { HasDetail = true });
            done.SetResult();
        }
        catch (Exception ex)
        {
            bool cancelledBefore = failed.IsCancellationRequested;
            failed.Cancel();
            done.TrySetException(ex);
            // A read that failed because another layer's failure disposed this response is not the error to report.
            if (cancelledBefore && ex is ObjectDisposedException or IOException or HttpRequestException)
                throw new OperationCanceledException("cancelled", ex);
            throw;
        }
        finally
        {
            if (holding) slots.Release();
        }
    }
}
