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
            DirectoryArchiver.WriteTree(options.UpperDir, writer, new ArchiveOptions { OverlayDiff = true, Ids = Ids });
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
}
