using System.Formats.Tar;
using Skiff.Build;

namespace Skiff.Client;

/// <summary>
/// The build context a client sends with <c>POST /build</c>, as the Docker CLI's classic build does: every entry of
/// the context directory not excluded by its <c>.dockerignore</c>, in sorted order, symlinks as links (never
/// followed). The Dockerfile and the .dockerignore are always sent; a Dockerfile outside the context is added under
/// the name the request gives it. The daemon applies .dockerignore again, with the same matcher.
/// </summary>
public static class BuildContextArchive
{
    /// <summary>Writes the context of <paramref name="dir"/> as an uncompressed tar to <paramref name="output"/>.</summary>
    public static void Write(string dir, string dockerfile, string? outsideDockerfile, Stream output)
    {
        string ignorePath = Path.Combine(dir, ".dockerignore");
        var ignore = File.Exists(ignorePath) ? DockerIgnore.Parse(File.ReadAllText(ignorePath)) : new DockerIgnore([]);
        using var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        void Walk(string path, string rel)
        {
            var names = Directory.EnumerateFileSystemEntries(path).Select(Path.GetFileName).OfType<string>().ToList();
            names.Sort(StringComparer.Ordinal);
            foreach (var name in names)
            {
                string full = Path.Combine(path, name);
                string r = rel.Length == 0 ? name : rel + "/" + name;
                bool keep = r == dockerfile || r == ".dockerignore";
                var info = new FileInfo(full);
                bool isDir = info.Attributes.HasFlag(FileAttributes.Directory) && info.LinkTarget is null;
                if (!keep && ignore.Excludes(r))
                {
                    // An excluded directory is still walked when a "!" pattern may re-include something in it.
                    if (isDir && ignore.HasExclusions) Walk(full, r);
                    continue;
                }
                WriteEntry(writer, full, r);
                if (isDir) Walk(full, r);
            }
        }
        Walk(dir, "");
        if (outsideDockerfile is not null) WriteEntry(writer, outsideDockerfile, dockerfile);
    }

    private static void WriteEntry(TarWriter writer, string full, string name)
    {
        var info = new FileInfo(full);
        if ((info.Attributes & FileAttributes.Directory) != 0 && info.LinkTarget is null) name += "/";
        writer.WriteEntry(full, name);
    }
}
