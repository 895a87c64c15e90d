namespace Skiff.Daemon;

public sealed partial class Daemon
{
    /// <summary>
    /// Removes an image reference (Docker's rmi) with dockerd's conflict rules: untagging one of several tags always works;
    /// the last tag of an image a container uses, or an image by ID, needs force; an image a running container uses is
    /// never deleted (by ID that is a conflict even when forced; forcing only removes its tags).
    /// </summary>
    public IReadOnlyList<ImageDeleteItem> RemoveImage(string reference, bool force, bool noPrune)
    {
        _ = noPrune;
        string? Using(string imageId, bool runningOnly)
        {
            var users = Containers.All.Where(c => c.Record.ImageId == imageId).ToList();
            return (users.FirstOrDefault(c => c.Record.State.Running) ?? (runningOnly ? null : users.FirstOrDefault()))?.Id;
        }
        return Images.Remove(reference, force, id => Using(id, runningOnly: false), id => Using(id, runningOnly: true));
    }
}

public sealed partial class Daemon
{
    /// <summary><c>docker image prune</c>: images no container (running or not) uses.</summary>
    public (IReadOnlyList<ImageDeleteItem> Deleted, long SpaceReclaimed) PruneImages(bool all) =>
        Images.Prune(all, id => Containers.All.Any(c => c.Record.ImageId == id));

    /// <summary>How many containers use each image ID (for <c>docker system df</c>).</summary>
    public IReadOnlyDictionary<string, int> ImageUsers() =>
        Containers.All.GroupBy(c => c.Record.ImageId).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
}
