namespace Skiff.Daemon;

/// <summary>A docker commit request: the new image's reference, metadata, Dockerfile-like changes, and an optional config.</summary>
public sealed class CommitRequest
{
    public string? Reference { get; init; }
    public string? Author { get; init; }
    public string? Comment { get; init; }
    public IReadOnlyList<string> Changes { get; init; } = [];
    /// <summary>Pause a running container while its layer is read (Docker's default).</summary>
    public bool Pause { get; init; } = true;
    /// <summary>Replaces the container's config as the new image's config when set.</summary>
    public ContainerConfig? Config { get; init; }
}

public sealed partial class Daemon
{
    /// <summary>
    /// docker commit: turns the container's writable layer into a new image on top of its image, with
    /// the container's config (or <see cref="CommitRequest.Config"/>) and the changes applied. A running
    /// container is paused meanwhile unless asked not to, so the layer is read in a consistent state.
    /// Returns the new image's ID.
    /// </summary>
    public async Task<string> CommitAsync(string idOrName, CommitRequest request)
    {
        var c = Containers.Get(idOrName);
        var paused = false;
        if (request.Pause && c.Record.State.Status == ContainerStatus.Running)
        {
            await PauseAsync(c.Id).ConfigureAwait(false);
            paused = true;
        }
        string id;
        try
        {
            var config = request.Config ?? c.Record.Config;
            var createdBy = string.Join(' ', new[] { c.Record.Path }.Concat(c.Record.Args));
            id = await Task.Run(() => Images.Commit(c.Record.ImageId, Path.Combine(c.Directory, "upper"), config, request.Changes,
                request.Reference, request.Author, request.Comment, createdBy)).ConfigureAwait(false);
        }
        finally
        {
            if (paused) await UnpauseAsync(c.Id).ConfigureAwait(false);
        }
        PublishContainer(c, "commit", ("comment", request.Comment ?? ""), ("imageID", id), ("imageRef", request.Reference ?? ""));
        return id;
    }
}
