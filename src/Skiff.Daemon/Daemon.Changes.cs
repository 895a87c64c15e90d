namespace Skiff.Daemon;

public sealed partial class Daemon
{
    /// <summary>
    /// docker diff: what the container's writable layer changed relative to its image (overlay
    /// whiteouts are deletions), sorted by path. Works whether or not the container runs.
    /// </summary>
    public IReadOnlyList<FileChange> Changes(string idOrName)
    {
        var c = Containers.Get(idOrName);
        return HideRuntimeMountPoints(Images.Changes(c.Record.ImageId, Path.Combine(c.Directory, "upper")));
    }

    /// <summary>
    /// Mount points the runtime creates in the writable layer for every container (Docker keeps them
    /// in a hidden "-init" layer, so its diff never shows them).
    /// </summary>
    private static readonly HashSet<string> RuntimeMountPoints =
        ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/etc/mtab", "/dev", "/dev/pts", "/dev/shm", "/dev/console", "/proc", "/sys", "/.dockerenv"];

    /// <summary>
    /// Drops added runtime mount points, and the "changed" parent directories that only changed
    /// because of them, so that a fresh container's diff is empty as in Docker.
    /// </summary>
    private static List<FileChange> HideRuntimeMountPoints(IReadOnlyList<FileChange> changes)
    {
        var hidden = changes.Where(ch => ch.Kind == 1 && RuntimeMountPoints.Contains(ch.Path)).Select(ch => ch.Path).ToHashSet();
        var kept = changes.Where(ch => !hidden.Contains(ch.Path)).ToList();
        return kept.Where(ch =>
        {
            if (ch.Kind != 0) return true;
            var prefix = ch.Path.TrimEnd('/') + "/";
            var onlyHidden = hidden.Any(h => h.StartsWith(prefix, StringComparison.Ordinal));
            return !onlyHidden || kept.Any(o => o.Path.StartsWith(prefix, StringComparison.Ordinal));
        }).ToList();
    }

    /// <summary>
    /// docker export: the container's merged filesystem (its writable layer over the image's layers,
    /// computed without mounting) as a tar written to <paramref name="output"/>.
    /// </summary>
    public async Task ExportAsync(string idOrName, Stream output)
    {
        var c = Containers.Get(idOrName);
        await Task.Run(() => Images.ExportRootfs(c.Record.ImageId, Path.Combine(c.Directory, "upper"), output)).ConfigureAwait(false);
        PublishContainer(c, "export");
    }
}

public sealed partial class Daemon
{
    /// <summary>
    /// docker ps -s: the bytes of the container's writable layer (regular files and symlinks of its
    /// upper dir, hard links counted once) and that plus its image's size (SizeRootFs).
    /// </summary>
    public (long SizeRw, long SizeRootFs) Size(Container c)
    {
        long rw = 0;
        var seen = new HashSet<(ulong, ulong)>();
        var upper = Path.Combine(c.Directory, "upper");
        if (System.IO.Directory.Exists(upper))
        {
            var pending = new Stack<string>();
            pending.Push(upper);
            while (pending.Count > 0)
            {
                var dir = pending.Pop();
                IEnumerable<string> entries;
                try { entries = System.IO.Directory.EnumerateFileSystemEntries(dir); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
                foreach (var entry in entries)
                {
                    if (!TryLstat(entry, out var st)) continue;
                    var type = st.Mode & Linux.Libc.S_IFMT;
                    if (type == Linux.Libc.S_IFDIR) { pending.Push(entry); continue; }
                    if (type is not (Linux.Libc.S_IFREG or Linux.Libc.S_IFLNK)) continue;
                    if (st.Nlink > 1 && !seen.Add((st.Ino, ((ulong)st.DevMajor << 32) | st.DevMinor))) continue;
                    rw += (long)st.Size;
                }
            }
        }
        long image = 0;
        try { image = Images.Get(c.Record.ImageId).Size; }
        catch (DaemonException) { }
        return (rw, rw + image);
    }
}
