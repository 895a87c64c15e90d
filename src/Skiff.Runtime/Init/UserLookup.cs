namespace Skiff.Runtime.Init;

/// <summary>The identity a container process runs as.</summary>
internal sealed record ExecUser(uint Uid, uint Gid, uint[] Groups, string Home);

/// <summary>
/// Resolves Docker's <c>-u</c> syntax (<c>name</c>, <c>name:group</c>, <c>uid</c>, <c>uid:gid</c>) against the
/// container's own /etc/passwd and /etc/group, after pivot_root, so names mean what the image says.
/// Numeric ids need neither file.
/// </summary>
internal static class UserLookup
{
    private sealed record PasswdEntry(string Name, uint Uid, uint Gid, string Home);
    private sealed record GroupEntry(string Name, uint Gid, string[] Members);

    /// <param name="userSpec">Docker's <c>-u</c>, or "" for Docker's default user; null for a plain OCI process, whose
    /// groups are exactly <paramref name="additionalGids"/>. Docker's supplementary groups are the user's memberships in
    /// /etc/group, else the primary group, then <paramref name="groupAdd"/> (<c>--group-add</c>: names or ids).</param>
    public static ExecUser Resolve(string? userSpec, uint defaultUid, uint defaultGid, IEnumerable<uint>? additionalGids,
        string passwdPath = "/etc/passwd", string groupPath = "/etc/group", string? groupAdd = null)
    {
        var passwd = ReadPasswd(passwdPath);
        var groups = ReadGroups(groupPath);
        uint uid = defaultUid, gid = defaultGid;
        string? userName = null;
        string home = "/";

        string? userPart = null, groupPart = null;
        if (!string.IsNullOrEmpty(userSpec))
        {
            int colon = userSpec.IndexOf(':');
            userPart = colon < 0 ? userSpec : userSpec[..colon];
            groupPart = colon < 0 ? null : userSpec[(colon + 1)..];
        }

        if (!string.IsNullOrEmpty(userPart))
        {
            PasswdEntry? entry = uint.TryParse(userPart, out uint numeric)
                ? passwd.FirstOrDefault(p => p.Uid == numeric)
                : passwd.FirstOrDefault(p => p.Name == userPart);
            if (entry is null && !uint.TryParse(userPart, out _))
                throw new ContainerException($"unable to find user {userPart}: no matching entries in passwd file");
            uid = entry?.Uid ?? numeric;
            gid = entry?.Gid ?? 0;
            userName = entry?.Name;
            if (entry is not null) home = entry.Home;
        }
        else
        {
            PasswdEntry? entry = passwd.FirstOrDefault(p => p.Uid == uid);
            userName = entry?.Name;
            if (entry is not null) home = entry.Home;
        }

        if (!string.IsNullOrEmpty(groupPart))
        {
            if (uint.TryParse(groupPart, out uint g)) gid = g;
            else gid = groups.FirstOrDefault(e => e.Name == groupPart)?.Gid
                ?? throw new ContainerException($"unable to find group {groupPart}: no matching entries in group file");
        }

        var supplementary = new List<uint>();
        if (userSpec is not null)
        {
            if (userName is not null)
                foreach (GroupEntry e in groups)
                    if (Array.IndexOf(e.Members, userName) >= 0 && !supplementary.Contains(e.Gid)) supplementary.Add(e.Gid);
            if (supplementary.Count == 0) supplementary.Add(gid);
            foreach (string g in (groupAdd ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                uint extra = uint.TryParse(g, out uint n) ? n
                    : groups.FirstOrDefault(e => e.Name == g)?.Gid ?? throw new ContainerException($"Unable to find group {g}: no matching entries in group file");
                if (!supplementary.Contains(extra)) supplementary.Add(extra);
            }
        }
        foreach (uint extra in additionalGids ?? []) if (!supplementary.Contains(extra)) supplementary.Add(extra);
        if (string.IsNullOrEmpty(home)) home = "/";
        return new ExecUser(uid, gid, [.. supplementary], home);
    }

    private static List<PasswdEntry> ReadPasswd(string path)
    {
        var result = new List<PasswdEntry>();
        foreach (string[] f in ReadColonFile(path))
            if (f.Length >= 6 && uint.TryParse(f[2], out uint uid) && uint.TryParse(f[3], out uint gid))
                result.Add(new PasswdEntry(f[0], uid, gid, f[5]));
        return result;
    }

    private static List<GroupEntry> ReadGroups(string path)
    {
        var result = new List<GroupEntry>();
        foreach (string[] f in ReadColonFile(path))
            if (f.Length >= 3 && uint.TryParse(f[2], out uint gid))
                result.Add(new GroupEntry(f[0], gid, f.Length > 3 ? f[3].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : []));
        return result;
    }

    private static IEnumerable<string[]> ReadColonFile(string path)
    {
        string[] lines;
        try { lines = File.ReadAllLines(path); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { yield break; }
        foreach (string line in lines)
        {
            string l = line.Trim();
            if (l.Length == 0 || l[0] == '#') continue;
            yield return l.Split(':');
        }
    }
}
