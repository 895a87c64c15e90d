using Skiff.Linux;

namespace Skiff.Runtime.Init;

/// <summary>
/// PATH lookup done inside the container (after pivot_root and the user switch, so permissions are the
/// process's own), with the error texts Docker users know from Go's <c>exec.LookPath</c>.
/// </summary>
internal static class ExecutableLookup
{
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    public static string Find(string name, IEnumerable<string> env)
    {
        if (name.Contains('/'))
        {
            string? err = Check(name);
            if (err is not null) throw new ContainerException($"exec: \"{name}\": {err}");
            return name;
        }
        string path = env.LastOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?[5..] ?? DefaultPath;
        foreach (string dir in path.Split(':'))
        {
            string candidate = Path.Combine(dir.Length == 0 ? "." : dir, name);
            if (Check(candidate) is null) return candidate;
        }
        throw new ContainerException($"exec: \"{name}\": executable file not found in $PATH");
    }

    /// <summary>Null when <paramref name="path"/> is an executable regular file, else the error text.</summary>
    private static string? Check(string path)
    {
        FileSystemInfo info = new FileInfo(path);
        if (!info.Exists)
        {
            if (Directory.Exists(path)) return "is a directory";
            return $"stat {path}: no such file or directory";
        }
        if (info.LinkTarget is not null) info = info.ResolveLinkTarget(true) ?? info;
        if (info is DirectoryInfo || Directory.Exists(path)) return "is a directory";
        if (Libc.access(path, Libc.X_OK) != 0) return "permission denied";
        return null;
    }
}
