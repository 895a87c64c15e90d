using System.Text.Json;
using Skiff.Content;

namespace Skiff.Images;

/// <summary>Options of <see cref="ImageStore.Derive"/>.</summary>
public sealed class DeriveOptions
{
    /// <summary>The image to build on, or null for <c>FROM scratch</c> (no layers, the host's platform).</summary>
    public string? ParentImageId { get; init; }
    /// <summary>The new image's container config.</summary>
    public required ContainerConfig Config { get; init; }
    /// <summary>
    /// Writes the new layer as an uncompressed OCI layer tar (whiteouts as <c>.wh.</c> entries) to the given stream;
    /// null makes a config-only image whose history entry is marked <c>empty_layer</c>.
    /// </summary>
    public Action<Stream>? WriteLayer { get; init; }
    /// <summary>History <c>created_by</c> (e.g. <c>/bin/sh -c #(nop)  ENV A=b</c>).</summary>
    public required string CreatedBy { get; init; }
    public string? Comment { get; init; }
    /// <summary>The image's <c>author</c> (a build's MAINTAINER), or null.</summary>
    public string? Author { get; init; }
    /// <summary>Repository[:tag] for the new image, or null.</summary>
    public string? Reference { get; init; }
}

public sealed partial class ImageStore
{
    /// <summary>
    /// One build step: a new image on top of <see cref="DeriveOptions.ParentImageId"/> (or of nothing) with the given config,
    /// one history entry, and optionally one new layer. The layer tar is stored as a blob (its digest is the diff ID) and
    /// extracted safely into a snapshot, so what a build writes goes through the same checks as a pulled layer. The
    /// parent is recorded, so intermediate images stay alive while a child uses them.
    /// </summary>
    /// <exception cref="ImageNotFoundException">The parent image is gone.</exception>
    /// <exception cref="InvalidImageArgumentException">Bad reference, or a layer the extractor refuses.</exception>
    public Image Derive(DeriveOptions options)
    {
        var reference = options.Reference is null ? null : ParseTagTarget(options.Reference);
        Image? parent = options.ParentImageId is null ? null : Find(options.ParentImageId);
        var config = parent is null
            ? new ImageConfig { Architecture = HostArchitecture(), Os = "linux" }
            : JsonSerializer.Deserialize(parent.ConfigBytes, ImageJsonContext.Default.ImageConfig)!;

        using var op = BeginOperation();
        var now = DateTime.UtcNow;
        if (options.WriteLayer is not null)
        {
            Digest diffId;
            using (var writer = Content.BeginIngest())
            {
                options.WriteLayer(writer);
                diffId = writer.Commit().Digest;
            }
            string? parentChain = parent is { ChainIds.Count: > 0 } ? parent.ChainIds[^1] : null;
            string chain = parentChain is null ? diffId.ToString() : ChainId(parentChain, diffId.ToString());
            if (Snapshots.Get(chain) is null) ExtractBlob(diffId, chain, parentChain);
            config.RootFs.DiffIds.Add(diffId.ToString());
        }
        config.Created = now;
        config.Config = options.Config;
        config.Author = options.Author;
        config.Comment = null;
        (config.History ??= []).Add(new HistoryEntry
        {
            Created = now,
            CreatedBy = options.CreatedBy,
            Comment = options.Comment,
            EmptyLayer = options.WriteLayer is null ? true : null,
        });
        return Register(JsonSerializer.SerializeToUtf8Bytes(config, ImageJsonContext.Default.ImageConfig), parent?.Id, reference);
    }

    /// <summary>Whether an image with this exact ID is stored.</summary>
    public bool Exists(string id)
    {
        lock (_lock) return _images.ContainsKey(id);
    }

    /// <summary>Whether the image has tags, or child images (whose parent it is).</summary>
    public (bool Tagged, bool HasChildren) Usage(string id)
    {
        lock (_lock) return (RefsOf(id).Any(), HasChildren(id));
    }
}
