namespace Skiff.Daemon;

public sealed partial class Daemon
{
    /// <summary>Gives a container a new name (Docker's rename); the old name becomes free.</summary>
    public async Task RenameAsync(string idOrName, string newName)
    {
        var c = Containers.Get(idOrName);
        if (string.IsNullOrEmpty(newName)) throw DaemonException.Invalid("Neither old nor new names may be empty");
        // dockerd's wording: the name is allocated with its slash, and both refusals say so.
        const string prefix = "Error when allocating new name: ";
        string name;
        try { name = Names.Normalize(newName.StartsWith('/') ? newName : "/" + newName); }
        catch (DaemonException e) { throw new DaemonException(e.Kind, prefix + e.Message); }
        await c.Lock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (name == c.Name) throw DaemonException.Invalid("Renaming a container with the same name as its current name");
            var oldName = c.Name;
            try { Containers.Rename(c, name); }
            catch (DaemonException e) { throw new DaemonException(e.Kind, prefix + e.Message); }
            c.Save();
            PublishContainer(c, "rename", ("oldName", "/" + oldName));
        }
        finally
        {
            c.Lock.Release();
        }
    }

    /// <summary>
    /// Removes every stopped container matching <paramref name="filter"/> (Docker's container prune);
    /// returns their IDs and the bytes their writable layers held.
    /// </summary>
    public async Task<(IReadOnlyList<string> Removed, long SpaceReclaimed)> PruneContainersAsync(Func<ContainerRecord, bool> filter)
    {
        var removed = new List<string>();
        long reclaimed = 0;
        foreach (var c in Containers.All.ToList())
        {
            var s = c.Record.State.Status;
            if (s is not (ContainerStatus.Exited or ContainerStatus.Created or ContainerStatus.Dead) || !filter(c.Record)) continue;
            try
            {
                var size = DirectorySize(Path.Combine(c.Directory, "upper"));
                await RemoveAsync(c.Id, force: false, removeVolumes: false).ConfigureAwait(false);
                removed.Add(c.Id);
                reclaimed += size;
            }
            catch (DaemonException)
            {
                // Started or removed meanwhile: not ours to prune any more.
            }
        }
        return (removed, reclaimed);
    }

    private static long DirectorySize(string dir)
    {
        if (!Directory.Exists(dir)) return 0;
        long total = 0;
        foreach (var f in new DirectoryInfo(dir).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true }))
            if (!f.Attributes.HasFlag(FileAttributes.ReparsePoint)) total += f.Length;
        return total;
    }
}
