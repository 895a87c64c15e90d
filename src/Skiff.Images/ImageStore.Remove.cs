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
    /// <c>docker rmi</c>. By name: untags it, and deletes the image when that was its last reference. By ID: deletes the image
    /// with all its tags. Deleting also removes untagged, childless parents (committed chains) and every layer and blob no
    /// other image needs.
    /// </summary>
    /// <param name="containerUsing">Returns the ID of a container that uses the given image ID, or null. An image in use is
    /// never deleted: without <paramref name="force"/> that is a conflict; with it, only its tags are removed (the layers stay
    /// for the container).</param>
    /// <param name="runningContainerUsing">Returns the ID of a running container that uses the image, or null: by ID, such an
    /// image is a conflict even with <paramref name="force"/>, as in dockerd.</param>
    /// <exception cref="ImageNotFoundException"/>
    /// <exception cref="ImageConflictException">In use, has child images, or (by ID, without force) has several references.
    /// By ID the checks come in dockerd's order: child images, a running container, several references, a stopped container.</exception>
    public IReadOnlyList<ImageDeleteEntry> Remove(string referenceOrId, bool force, Func<string, string?> containerUsing, Func<string, string?>? runningContainerUsing = null)
    {
        lock (_lock)
        {
            string id = ResolveId(referenceOrId);
            var result = new List<ImageDeleteEntry>();
            var byName = ImageReference.TryParse(referenceOrId, out var named, out _) ? named.WithDefaultTag().ToString() : null;
            if (byName is not null && !_refs.ContainsKey(byName)) byName = null;

            if (byName is not null)
            {
                // Digest references (repo@sha256:...) do not keep an image alive once its last tag is gone, as in Docker.
                var others = RefsOf(id).Where(r => r != byName && ImageReference.Parse(r).Tag is not null).ToList();
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
                if (runningContainerUsing?.Invoke(id) is { } running)
                    throw new ImageConflictException($"conflict: unable to delete {Short(id)} (cannot be forced) - image is being used by running container {Short(running)}");
                if (!force && !IsSingleReference(refs))
                    throw new ImageConflictException($"conflict: unable to delete {Short(id)} (must be forced) - image is referenced in multiple repositories");
                if (containerUsing(id) is { } c)
                {
                    if (!force)
                        throw new ImageConflictException($"conflict: unable to delete {Short(id)} (must be forced) - image is being used by stopped container {Short(c)}");
                    foreach (var r in refs) { _refs.Remove(r); result.Add(new ImageDeleteEntry(Familiar(r), null)); }
                    SaveRepositories();
                    return result;
                }
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
    /// dockerd's isSingleReference: at most one tag, and any digest references are of that tag's repository (removing the
    /// image by ID then needs no force).
    /// </summary>
    private static bool IsSingleReference(List<string> refs)
    {
        if (refs.Count <= 1) return true;
        var parsed = refs.Select(ImageReference.Parse).ToList();
        var tags = parsed.Where(r => r.Digest is null).ToList();
        if (tags.Count > 1) return false;
        var digestRepos = parsed.Where(r => r.Digest is not null).Select(r => r.Repository).Distinct().ToList();
        string single = (tags.FirstOrDefault() ?? parsed[0]).Repository;
        return digestRepos.Count == 1 && digestRepos[0] == single;
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
                    if (!all && refs.Any(r => ImageReference.Parse(r).Tag is not null)) continue;
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
        var compressed = new List<string>();
        foreach (var chain in keepChains)
            if (Snapshots.Get(chain) is { } l)
            {
                keepBlobs.Add(l.DiffId);
                if (l.CompressedBlob is { } c) compressed.Add(c);
            }
        Snapshots.RemoveUnreferenced(keepChains);
        CollectDistributionMetadata(keepBlobs);
        KeepCompressedBlobs(keepBlobs);
        keepBlobs.UnionWith(compressed);
        foreach (var blob in Content.List().ToList())
            if (!keepBlobs.Contains(blob.ToString())) Content.Delete(blob);
    }
}
