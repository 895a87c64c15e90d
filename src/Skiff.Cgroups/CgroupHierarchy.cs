namespace Skiff.Cgroups;

/// <summary>
/// Where the cgroup filesystems are mounted. <see cref="Detect"/> reads <c>/proc/self/mountinfo</c>;
/// <see cref="V1"/>/<see cref="V2"/> take a root directory so tests can use a temp tree.
/// </summary>
public sealed class CgroupHierarchy
{
    /// <summary>The v1 controllers a container is placed in, when mounted ("systemd" is the name=systemd hierarchy, which runc joins too).</summary>
    public static readonly string[] V1Controllers = ["memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "freezer", "devices", "systemd"];

    private CgroupHierarchy(bool isV2, string? unifiedRoot, IReadOnlyDictionary<string, string> v1Roots)
    {
        IsV2 = isV2;
        UnifiedRoot = unifiedRoot;
        V1Roots = v1Roots;
    }

    public bool IsV2 { get; }
    /// <summary>Mount point of the unified hierarchy (v2 only).</summary>
    public string? UnifiedRoot { get; }
    /// <summary>Controller name to the mount point of its v1 hierarchy.</summary>
    public IReadOnlyDictionary<string, string> V1Roots { get; }

    /// <summary>A v1 layout under <paramref name="root"/>: each existing subdirectory named like a controller is its hierarchy.</summary>
    public static CgroupHierarchy V1(string root)
    {
        var roots = new Dictionary<string, string>();
        foreach (string c in V1Controllers)
        {
            string dir = System.IO.Path.Combine(root, c);
            if (Directory.Exists(dir)) roots[c] = dir;
        }
        return new CgroupHierarchy(false, null, roots);
    }

    public static CgroupHierarchy V2(string root) => new(true, root, new Dictionary<string, string>());

    private static CgroupHierarchy? s_detected;

    /// <summary>The host's layout: v2 when <c>/sys/fs/cgroup</c> is cgroup2, otherwise the v1 controller mounts.</summary>
    public static CgroupHierarchy Detect()
    {
        if (s_detected is not null) return s_detected;
        var roots = new Dictionary<string, string>();
        string? unified = null;
        foreach (string line in File.ReadLines("/proc/self/mountinfo"))
        {
            int sep = line.IndexOf(" - ", StringComparison.Ordinal);
            if (sep < 0) continue;
            string[] pre = line[..sep].Split(' ');
            string[] post = line[(sep + 3)..].Split(' ');
            if (pre.Length < 5 || post.Length < 3) continue;
            string mountPoint = pre[4];
            if (post[0] == "cgroup2" && mountPoint == "/sys/fs/cgroup") unified = mountPoint;
            else if (post[0] == "cgroup")
                foreach (string opt in post[2].Split(','))
                {
                    string name = opt == "name=systemd" ? "systemd" : opt;
                    if (Array.IndexOf(V1Controllers, name) >= 0 && !roots.ContainsKey(name)) roots[name] = mountPoint;
                }
        }
        return s_detected = unified is not null ? new CgroupHierarchy(true, unified, roots) : new CgroupHierarchy(false, null, roots);
    }

    /// <summary>Opens (without creating) the cgroup at <paramref name="path"/> in this hierarchy.</summary>
    public ICgroup Open(string path)
    {
        if (!path.StartsWith('/')) path = "/" + path;
        return IsV2 ? new CgroupV2(this, path) : new CgroupV1(this, path);
    }

    /// <summary>
    /// One write(2) of <paramref name="value"/>: cgroup files take a value per write, and the plain syscalls
    /// avoid FileStream's setup on the container start path. Regular files (test trees) are created/truncated.
    /// </summary>
    internal static void Write(string file, string value)
    {
        int fd = Skiff.Linux.Libc.open(file, Skiff.Linux.Libc.O_WRONLY | Skiff.Linux.Libc.O_CREAT | Skiff.Linux.Libc.O_TRUNC | Skiff.Linux.Libc.O_CLOEXEC, 0x1A4);
        if (fd < 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            throw new IOException($"open {file}: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }
        try
        {
            byte[] bytes = System.Text.Encoding.ASCII.GetBytes(value);
            try { Skiff.Linux.Libc.WriteAll(fd, bytes); }
            catch (Skiff.Linux.LinuxException e) { throw new IOException($"write {file} ({value}): {e.Message}", e); }
        }
        finally { Skiff.Linux.Libc.close(fd); }
    }

    internal static string? ReadTrimmed(string file)
    {
        try { return File.ReadAllText(file).Trim(); }
        catch (FileNotFoundException) { return null; }
        catch (DirectoryNotFoundException) { return null; }
    }

    internal static ulong ReadULong(string file)
    {
        string? s = ReadTrimmed(file);
        if (s is null || s == "max") return s is null ? 0 : ulong.MaxValue;
        return ulong.TryParse(s, out ulong v) ? v : 0;
    }

    internal static Dictionary<string, ulong> ReadKeyValues(string file)
    {
        var result = new Dictionary<string, ulong>();
        string? text = ReadTrimmed(file);
        if (text is null) return result;
        foreach (string line in text.Split('\n'))
        {
            int sp = line.IndexOf(' ');
            if (sp > 0 && ulong.TryParse(line.AsSpan(sp + 1).Trim(), out ulong v)) result[line[..sp]] = v;
        }
        return result;
    }

    internal static IReadOnlyList<int> ReadPids(string file)
    {
        string? text = ReadTrimmed(file);
        if (string.IsNullOrEmpty(text)) return [];
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
    }

    /// <summary>rmdir with retries: a cgroup stays busy for a moment after its last task exits.</summary>
    internal static void RemoveDir(string dir)
    {
        for (int attempt = 0; ; attempt++)
        {
            try { Directory.Delete(dir); return; }
            catch (DirectoryNotFoundException) { return; }
            catch (IOException) when (attempt < 50) { Thread.Sleep(10); }
        }
    }
}
