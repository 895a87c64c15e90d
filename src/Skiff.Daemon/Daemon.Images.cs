namespace Skiff.Daemon;

public sealed partial class Daemon
{
    /// <summary>
    /// Removes an image reference (Docker's rmi): refused while a container uses the image unless
    /// forced (a running container's image is never deleted).
    /// </summary>
    public IReadOnlyList<ImageDeleteItem> RemoveImage(string reference, bool force, bool noPrune)
    {
        _ = noPrune;
        var image = Images.Get(reference);
        var users = Containers.All.Where(c => c.Record.ImageId == image.Id).ToList();
        if (users.Count > 0)
        {
            var running = users.FirstOrDefault(c => c.Record.State.Running);
            if (running is not null || !force)
            {
                var c = running ?? users[0];
                var what = running is not null ? "running" : "stopped";
                throw DaemonException.Conflict($"conflict: unable to remove repository reference \"{reference}\" (must force) - container {c.Id[..12]} is using its referenced image {image.Id.Replace("sha256:", "")[..12]}"
                    + (running is not null ? $" ({what})" : ""));
            }
        }
        return Images.Remove(reference, force, id => Containers.All.Any(c => c.Record.ImageId == id));
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
