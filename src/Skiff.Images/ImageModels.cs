namespace Skiff.Images;

/// <summary>An image as the daemon sees it (a snapshot; it does not change when the store does).</summary>
public sealed class Image
{
    /// <summary><c>sha256:&lt;hex&gt;</c>, the digest of the config bytes.</summary>
    public required string Id { get; init; }
    /// <summary>The 12-character short ID shown by <c>docker images</c>.</summary>
    public string ShortId => Id[7..19];
    /// <summary>Familiar <c>repo:tag</c> names, sorted.</summary>
    public required IReadOnlyList<string> RepoTags { get; init; }
    /// <summary>Familiar <c>repo@sha256:...</c> names, sorted.</summary>
    public required IReadOnlyList<string> RepoDigests { get; init; }
    /// <summary>Image this one was committed from, or null.</summary>
    public string? Parent { get; init; }
    public required ImageConfig Config { get; init; }
    /// <summary>The exact config JSON (what the ID hashes).</summary>
    public required byte[] ConfigBytes { get; init; }
    public DateTime Created => Config.Created ?? DateTime.UnixEpoch;
    /// <summary>Sum of the layers' file data (Docker's Size; also its VirtualSize).</summary>
    public long Size { get; init; }
    /// <summary>Layer diff IDs, bottom first (<c>rootfs.diff_ids</c>).</summary>
    public required IReadOnlyList<string> DiffIds { get; init; }
    /// <summary>Layer chain IDs, bottom first.</summary>
    public required IReadOnlyList<string> ChainIds { get; init; }
}

/// <summary>Options of <see cref="ImageStore.Import"/>.</summary>
public sealed class ImportOptions
{
    /// <summary>Repository[:tag] to tag the new image with (tag defaults to latest), or null.</summary>
    public string? Reference { get; init; }
    /// <summary>Commit message: the image's and its history entry's comment; "Imported from &lt;Source&gt;" when empty.</summary>
    public string? Message { get; init; }
    /// <summary>Where the data came from, for the default comment ("-" for a request body, or a URL).</summary>
    public string Source { get; init; } = "-";
    /// <summary>Dockerfile-like instructions (see <see cref="ConfigChanges"/>).</summary>
    public IReadOnlyList<string> Changes { get; init; } = [];
    /// <summary>Overrides of the platform (default: the host's, linux/amd64 or linux/arm64).</summary>
    public string? Architecture { get; init; }
    public string? Os { get; init; }
}

/// <summary>Options of <see cref="ImageStore.Commit"/>.</summary>
public sealed class CommitOptions
{
    /// <summary>The container's overlay upper dir (its writable layer). The container should be paused or stopped.</summary>
    public required string UpperDir { get; init; }
    /// <summary>The image the container was created from.</summary>
    public required string ParentImageId { get; init; }
    /// <summary>The new image's container config (normally the container's config); null keeps the parent's.</summary>
    public ContainerConfig? Config { get; init; }
    /// <summary>Dockerfile-like instructions applied on top of <see cref="Config"/>.</summary>
    public IReadOnlyList<string> Changes { get; init; } = [];
    public string? Author { get; init; }
    public string? Comment { get; init; }
    /// <summary>History <c>created_by</c>, e.g. the container's command.</summary>
    public string? CreatedBy { get; init; }
    /// <summary>Repository[:tag] for the new image, or null.</summary>
    public string? Reference { get; init; }
}

/// <summary>One line of <c>docker rmi</c> output: exactly one of the two is set.</summary>
public sealed record ImageDeleteEntry(string? Untagged, string? Deleted);

/// <summary>One line of <c>docker history</c>, newest first.</summary>
public sealed record ImageHistoryItem(string Id, DateTime Created, string CreatedBy, IReadOnlyList<string> Tags, long Size, string Comment);
