using System.Formats.Tar;

namespace Skiff.Cli;

/// <summary>
/// <c>skiff build --output type=local</c>: unpacks an image filesystem tar into a directory on the client. Nothing is ever
/// written outside the directory: names are cleaned (a leading '/' and <c>..</c> cannot climb out), every parent on the
/// way is checked to be a real directory (never a symlink an earlier entry made), links are created as links and never
/// followed, hard links are copies of an earlier regular file of the same tar. Device nodes and fifos are left out
/// (an image's /dev holds none that matter outside a container).
/// </summary>
internal static class OutputDirectory
{
    public static async Task ExtractAsync(Stream tar, string dest)
    {
        Directory.CreateDirectory(dest);
        using var reader = new TarReader(tar, leaveOpen: true);
        TarEntry? entry;
        while ((entry = await reader.GetNextEntryAsync(copyData: false).ConfigureAwait(false)) is not null)
        {
            string rel = Clean(entry.Name);
            if (rel.Length == 0) continue;
            string target = Path.Combine(dest, rel);
            EnsureParents(dest, rel);
            switch (entry.EntryType)
            {
                case TarEntryType.Directory:
                    if (IsLink(target) || File.Exists(target)) File.Delete(target);
                    Directory.CreateDirectory(target);
                    SetMode(target, entry);
                    break;
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    RemoveNonDirectory(target);
                    await using (var f = new FileStream(target, FileMode.CreateNew, FileAccess.Write))
                        if (entry.DataStream is { } data) await data.CopyToAsync(f).ConfigureAwait(false);
                    SetMode(target, entry);
                    File.SetLastWriteTimeUtc(target, entry.ModificationTime.UtcDateTime);
                    break;
                case TarEntryType.SymbolicLink:
                    RemoveNonDirectory(target);
                    File.CreateSymbolicLink(target, entry.LinkName);
                    break;
                case TarEntryType.HardLink:
                {
                    string source = Path.Combine(dest, Clean(entry.LinkName));
                    EnsureParents(dest, Clean(entry.LinkName));
                    if (IsLink(source) || !File.Exists(source)) throw new CliException($"output: hard link {entry.Name} to {entry.LinkName}: not a regular file of the image", 1);
                    RemoveNonDirectory(target);
                    File.Copy(source, target);
                    break;
                }
            }
        }
    }

    /// <summary>A tar name as a relative path below the root: '/'-separated, no empty, "." or ".." components.</summary>
    private static string Clean(string name)
    {
        var parts = new List<string>();
        foreach (var p in name.Split('/'))
        {
            if (p.Length == 0 || p == ".") continue;
            if (p == "..") { if (parts.Count > 0) parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(p);
        }
        return string.Join('/', parts);
    }

    private static void EnsureParents(string dest, string rel)
    {
        string current = dest;
        var parts = rel.Split('/');
        for (int i = 0; i < parts.Length - 1; i++)
        {
            current = Path.Combine(current, parts[i]);
            if (IsLink(current)) throw new CliException($"output: {rel} lies below the symbolic link {parts[i]}: refusing to write through it", 1);
            if (File.Exists(current)) File.Delete(current);
            Directory.CreateDirectory(current);
        }
    }

    private static bool IsLink(string path) => new FileInfo(path).LinkTarget is not null;

    private static void RemoveNonDirectory(string target)
    {
        if (IsLink(target) || File.Exists(target)) File.Delete(target);
        else if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
    }

    private static void SetMode(string path, TarEntry entry) => File.SetUnixFileMode(path, entry.Mode);
}
