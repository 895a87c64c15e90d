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
        OverlayTree.WriteMerged(layers, output, new ArchiveOptions { Ids = Ids });
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
}
