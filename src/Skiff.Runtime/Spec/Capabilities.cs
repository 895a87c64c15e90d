namespace Skiff.Runtime.Spec;

/// <summary>Linux capability names (<c>CAP_*</c>) and their numbers.</summary>
public static class Capabilities
{
    public static readonly IReadOnlyList<string> All =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ];

    /// <summary>The number of a capability given as <c>CAP_X</c> or <c>X</c> (any case), or -1 when unknown.</summary>
    public static int Number(string name)
    {
        string n = name.ToUpperInvariant();
        if (!n.StartsWith("CAP_", StringComparison.Ordinal)) n = "CAP_" + n;
        for (int i = 0; i < All.Count; i++) if (All[i] == n) return i;
        return -1;
    }

    /// <summary>The bit mask of a list of capability names; names the table does not know are skipped, as runc does.</summary>
    public static ulong Mask(IEnumerable<string>? names)
    {
        ulong mask = 0;
        if (names is null) return 0;
        foreach (string name in names)
        {
            int n = Number(name);
            if (n >= 0) mask |= 1UL << n;
        }
        return mask;
    }

    /// <summary>Docker's default capability set for containers without <c>--privileged</c>.</summary>
    public static readonly IReadOnlyList<string> DockerDefault =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
        "CAP_AUDIT_WRITE",
    ];

    /// <summary>
    /// Docker's <c>--cap-add</c>/<c>--cap-drop</c> semantics over <paramref name="basis"/>: <c>ALL</c> in
    /// drop clears the basis first, <c>ALL</c> in add adds every capability, then the named adds and drops
    /// apply (a named drop wins over an add of the same capability). Names are normalised to CAP_X.
    /// </summary>
    public static List<string> Adjust(IEnumerable<string> basis, IEnumerable<string>? add, IEnumerable<string>? drop)
    {
        static string Norm(string s) { string u = s.ToUpperInvariant(); return u == "ALL" || u.StartsWith("CAP_", StringComparison.Ordinal) ? u : "CAP_" + u; }
        var addSet = (add ?? []).Select(Norm).ToHashSet();
        var dropSet = (drop ?? []).Select(Norm).ToHashSet();
        foreach (string c in addSet.Concat(dropSet))
            if (c != "ALL" && Number(c) < 0) throw new ArgumentException($"unknown capability: \"{c}\"");
        var result = dropSet.Contains("ALL") ? new List<string>() : basis.Select(Norm).Distinct().ToList();
        if (addSet.Contains("ALL")) result = [.. All];
        foreach (string c in addSet) if (c != "ALL" && !result.Contains(c)) result.Add(c);
        result.RemoveAll(c => dropSet.Contains(c));
        return result;
    }
}
