using System.Diagnostics;
using System.Globalization;
using Skiff.Archive;

namespace Skiff.Daemon;

/// <summary>
/// dockerd's <c>--userns-remap</c> setting turned into an id mapping, as dockerd does it:
/// <list type="bullet">
/// <item><c>default</c>: the user and group <c>dockremap</c>, added with <c>useradd --system</c> when missing, with a
/// 65536-id subordinate range in <c>/etc/subuid</c> and <c>/etc/subgid</c> added (by <c>usermod -v/-w</c>, after every
/// range already given out) when it has none.</item>
/// <item><c>user[:group]</c> or <c>uid[:gid]</c>: that existing user's ranges from <c>/etc/subuid</c> and its group's (the
/// user's name when no group is given) from <c>/etc/subgid</c>.</item>
/// </list>
/// Ranges become container ids in file order: the first range starts at container id 0, the next one follows it.
/// </summary>
public static class UsernsRemap
{
    /// <summary>The user (and group) <c>--userns-remap=default</c> means.</summary>
    public const string DefaultUser = "dockremap";
    private const long DefaultRangeStart = 100000, DefaultRangeLength = 65536;

    /// <summary>Resolves <paramref name="setting"/> (the flag's value) to the mapping and the <c>user:group</c> it belongs to.</summary>
    /// <exception cref="ArgumentException">Unknown user or group, or no subordinate ranges for them.</exception>
    public static (IdMap Map, string Owner) Resolve(string setting, string etc = "/etc")
    {
        string passwd = Path.Combine(etc, "passwd"), group = Path.Combine(etc, "group");
        string subuid = Path.Combine(etc, "subuid"), subgid = Path.Combine(etc, "subgid");
        string userName, groupName;
        if (setting == "default")
        {
            userName = groupName = DefaultUser;
            EnsureDefaultUser(passwd, subuid, subgid);
        }
        else
        {
            var parts = setting.Split(':');
            if (parts.Length > 2 || parts[0].Length == 0 || (parts.Length == 2 && parts[1].Length == 0))
                throw new ArgumentException($"invalid --userns-remap value: {setting}");
            userName = LookupName(passwd, parts[0]) ?? throw new ArgumentException($"user \"{parts[0]}\" not found: --userns-remap needs an existing user");
            groupName = parts.Length == 2
                ? LookupName(group, parts[1]) ?? throw new ArgumentException($"group \"{parts[1]}\" not found")
                : userName;
        }
        var uids = Ranges(subuid, userName, LookupId(passwd, userName));
        var gids = Ranges(subgid, groupName, LookupId(group, groupName));
        if (uids.Count == 0) throw new ArgumentException($"no subuid ranges found for user \"{userName}\" in {subuid}");
        if (gids.Count == 0) throw new ArgumentException($"no subgid ranges found for group \"{groupName}\" in {subgid}");
        return (new IdMap(ToMapping(uids), ToMapping(gids)), userName + ":" + groupName);
    }

    /// <summary>The per-mapping data root, as dockerd names it: <c>&lt;data-root&gt;/&lt;root uid&gt;.&lt;root gid&gt;</c>.</summary>
    public static string DataRoot(string dataRoot, IdMap map) =>
        Path.Combine(dataRoot, string.Create(CultureInfo.InvariantCulture, $"{map.RootUid}.{map.RootGid}"));

    /// <summary>
    /// Creates the per-mapping data root. The parent is made traversable (0711) and the per-mapping directory is owned by
    /// root and the remapped root's group with 0710, as dockerd does, so that a container's root may reach the files bind-mounted
    /// from there (hosts, resolv.conf, volumes) but not list them.
    /// </summary>
    public static void PrepareDataRoot(string dataRoot, string remappedRoot, IdMap map)
    {
        Directory.CreateDirectory(remappedRoot);
        File.SetUnixFileMode(dataRoot, (UnixFileMode)0x1C9);
        Linux.LinuxException.ThrowIfError(Linux.Libc.chown(remappedRoot, 0, (uint)map.RootGid), "chown", remappedRoot);
        File.SetUnixFileMode(remappedRoot, (UnixFileMode)0x1C8);
    }

    /// <summary>
    /// Refuses (as dockerd does for its graph root) a data or exec root with an ancestor the remapped root cannot
    /// traverse: a container start would fail later, when its init (the remapped root) reaches for its bind-mount
    /// sources, its rootfs mount point or its exec fifo.
    /// </summary>
    /// <exception cref="ArgumentException">An ancestor lacks the search permission for the remapped root.</exception>
    public static unsafe void CheckTraversable(string path, IdMap map)
    {
        for (var dir = Path.GetDirectoryName(Path.GetFullPath(path)); dir is not null && dir != "/"; dir = Path.GetDirectoryName(dir))
        {
            Linux.Libc.Statx st;
            if (Linux.Libc.statx(Linux.Libc.AT_FDCWD, dir, 0, Linux.Libc.STATX_BASIC_STATS, &st) < 0) continue;
            uint bit = st.Uid == (uint)map.RootUid ? 0x40u : st.Gid == (uint)map.RootGid ? 0x8u : 0x1u;
            if ((st.Mode & bit) == 0)
                throw new ArgumentException($"a subdirectory in your path {path} ({dir}) restricts access to the remapped root uid/gid; please fix by allowing 'o+x' permissions on existing directories");
        }
    }

    private static void EnsureDefaultUser(string passwd, string subuid, string subgid)
    {
        if (LookupName(passwd, DefaultUser) is null)
            Run("useradd", "--system", "-s", "/bin/false", DefaultUser);
        bool needUids = Ranges(subuid, DefaultUser, null).Count == 0, needGids = Ranges(subgid, DefaultUser, null).Count == 0;
        if (!needUids && !needGids) return;
        // After every range already given out in either file, so the new one overlaps no other user's.
        long start = Math.Max(DefaultRangeStart, Math.Max(EndOfAll(subuid), EndOfAll(subgid)));
        string range = string.Create(CultureInfo.InvariantCulture, $"{start}-{start + DefaultRangeLength - 1}");
        var args = new List<string>();
        if (needUids) args.AddRange(["-v", range]);
        if (needGids) args.AddRange(["-w", range]);
        args.Add(DefaultUser);
        // usermod edits these files but does not create them (a fresh Debian has none).
        foreach (var f in new[] { subuid, subgid })
        {
            if (File.Exists(f)) continue;
            File.WriteAllBytes(f, []);
            File.SetUnixFileMode(f, (UnixFileMode)0x1A4);
        }
        Run("usermod", [.. args]);
    }

    private static void Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new ArgumentException($"cannot run {file}");
        string err = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new ArgumentException($"{file} {string.Join(' ', args)} failed: {err.Trim()}");
    }

    /// <summary>The name of the passwd/group entry whose name or numeric id is <paramref name="nameOrId"/>, or null.</summary>
    private static string? LookupName(string file, string nameOrId)
    {
        foreach (var f in Entries(file))
            if (f[0] == nameOrId || (f.Length > 2 && f[2] == nameOrId)) return f[0];
        return null;
    }

    private static string? LookupId(string file, string name) => Entries(file).FirstOrDefault(f => f[0] == name && f.Length > 2)?[2];

    private static IEnumerable<string[]> Entries(string file)
    {
        if (!File.Exists(file)) yield break;
        foreach (var line in File.ReadLines(file))
        {
            if (line.Length == 0 || line.StartsWith('#')) continue;
            yield return line.Split(':');
        }
    }

    /// <summary>The <c>name:start:count</c> ranges of /etc/subuid or /etc/subgid for a name (or its numeric id), in file order.</summary>
    private static List<(long Start, long Length)> Ranges(string file, string name, string? id)
    {
        var ranges = new List<(long, long)>();
        foreach (var f in Entries(file))
        {
            if (f.Length != 3 || (f[0] != name && f[0] != id)) continue;
            if (long.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out var start) &&
                long.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var length) && length > 0)
                ranges.Add((start, length));
        }
        return ranges;
    }

    private static long EndOfAll(string file)
    {
        long end = 0;
        foreach (var f in Entries(file))
        {
            if (f.Length == 3 && long.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out var s) &&
                long.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
                end = Math.Max(end, s + n);
        }
        return end;
    }

    private static List<IdRange> ToMapping(List<(long Start, long Length)> ranges)
    {
        var map = new List<IdRange>();
        long next = 0;
        foreach (var (start, length) in ranges)
        {
            map.Add(new IdRange(next, start, length));
            next += length;
        }
        return map;
    }
}
