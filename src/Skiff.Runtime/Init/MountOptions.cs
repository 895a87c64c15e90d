using Skiff.Linux;

namespace Skiff.Runtime.Init;

/// <summary>OCI mount options split into mount(2) flags, propagation flags and the fs-specific data string.</summary>
internal sealed record MountOptions(ulong Flags, ulong ClearFlags, ulong Propagation, string Data, bool IsBind, bool IsRecursiveBind)
{
    private static readonly Dictionary<string, (bool Clear, ulong Flag)> FlagTable = new()
    {
        ["ro"] = (false, Libc.MS_RDONLY), ["rw"] = (true, Libc.MS_RDONLY),
        ["nosuid"] = (false, Libc.MS_NOSUID), ["suid"] = (true, Libc.MS_NOSUID),
        ["nodev"] = (false, Libc.MS_NODEV), ["dev"] = (true, Libc.MS_NODEV),
        ["noexec"] = (false, Libc.MS_NOEXEC), ["exec"] = (true, Libc.MS_NOEXEC),
        ["sync"] = (false, Libc.MS_SYNCHRONOUS), ["async"] = (true, Libc.MS_SYNCHRONOUS),
        ["dirsync"] = (false, Libc.MS_DIRSYNC), ["remount"] = (false, Libc.MS_REMOUNT),
        ["mand"] = (false, Libc.MS_MANDLOCK), ["nomand"] = (true, Libc.MS_MANDLOCK),
        ["atime"] = (true, Libc.MS_NOATIME), ["noatime"] = (false, Libc.MS_NOATIME),
        ["diratime"] = (true, Libc.MS_NODIRATIME), ["nodiratime"] = (false, Libc.MS_NODIRATIME),
        ["relatime"] = (false, Libc.MS_RELATIME), ["norelatime"] = (true, Libc.MS_RELATIME),
        ["strictatime"] = (false, Libc.MS_STRICTATIME), ["nostrictatime"] = (true, Libc.MS_STRICTATIME),
        ["nosymfollow"] = (false, Libc.MS_NOSYMFOLLOW), ["symfollow"] = (true, Libc.MS_NOSYMFOLLOW),
    };

    private static readonly Dictionary<string, ulong> PropagationTable = new()
    {
        ["private"] = Libc.MS_PRIVATE, ["rprivate"] = Libc.MS_PRIVATE | Libc.MS_REC,
        ["shared"] = Libc.MS_SHARED, ["rshared"] = Libc.MS_SHARED | Libc.MS_REC,
        ["slave"] = Libc.MS_SLAVE, ["rslave"] = Libc.MS_SLAVE | Libc.MS_REC,
        ["unbindable"] = Libc.MS_UNBINDABLE, ["runbindable"] = Libc.MS_UNBINDABLE | Libc.MS_REC,
    };

    public static MountOptions Parse(IEnumerable<string>? options)
    {
        ulong flags = 0, clear = 0, propagation = 0;
        bool bind = false, rbind = false;
        var data = new List<string>();
        foreach (string o in options ?? [])
        {
            if (o == "bind") bind = true;
            else if (o == "rbind") { bind = true; rbind = true; }
            else if (FlagTable.TryGetValue(o, out var f))
            {
                if (f.Clear) { flags &= ~f.Flag; clear |= f.Flag; } else { flags |= f.Flag; clear &= ~f.Flag; }
            }
            else if (PropagationTable.TryGetValue(o, out ulong p)) propagation |= p;
            else data.Add(o);
        }
        return new MountOptions(flags, clear, propagation, string.Join(',', data), bind, rbind);
    }

    /// <summary>The propagation flags of an OCI <c>rootfsPropagation</c> value, or 0 when unknown/empty.</summary>
    public static ulong ParsePropagation(string? value) =>
        value is not null && PropagationTable.TryGetValue(value, out ulong p) ? p : 0;
}
