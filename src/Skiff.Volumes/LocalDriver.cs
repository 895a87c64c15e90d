using Skiff.Linux;

namespace Skiff.Volumes;

/// <summary>
/// The local driver's options, as Docker's: <c>type</c>, <c>device</c> and <c>o</c> describe a
/// mount(8) made on <c>_data</c> while a container uses the volume (<c>type=tmpfs,device=tmpfs,o=size=64m</c>,
/// <c>type=none,o=bind,device=/path</c>); without them the volume is a plain directory.
/// </summary>
public static class LocalDriver
{
    public const string Name = "local";

    private static readonly Dictionary<string, (bool Clear, ulong Flag)> Flags = new(StringComparer.Ordinal)
    {
        ["ro"] = (false, Libc.MS_RDONLY), ["rw"] = (true, Libc.MS_RDONLY),
        ["nosuid"] = (false, Libc.MS_NOSUID), ["suid"] = (true, Libc.MS_NOSUID),
        ["nodev"] = (false, Libc.MS_NODEV), ["dev"] = (true, Libc.MS_NODEV),
        ["noexec"] = (false, Libc.MS_NOEXEC), ["exec"] = (true, Libc.MS_NOEXEC),
        ["sync"] = (false, Libc.MS_SYNCHRONOUS), ["async"] = (true, Libc.MS_SYNCHRONOUS),
        ["dirsync"] = (false, Libc.MS_DIRSYNC), ["noatime"] = (false, Libc.MS_NOATIME), ["atime"] = (true, Libc.MS_NOATIME),
        ["nodiratime"] = (false, Libc.MS_NODIRATIME), ["diratime"] = (true, Libc.MS_NODIRATIME),
        ["relatime"] = (false, Libc.MS_RELATIME), ["norelatime"] = (true, Libc.MS_RELATIME),
        ["strictatime"] = (false, Libc.MS_STRICTATIME), ["nostrictatime"] = (true, Libc.MS_STRICTATIME),
        ["bind"] = (false, Libc.MS_BIND), ["rbind"] = (false, Libc.MS_BIND | Libc.MS_REC),
        ["defaults"] = (false, 0),
    };

    /// <summary>Checks driver options the way Docker's local driver does.</summary>
    /// <exception cref="VolumeException">An unknown key, or a type/device without the other.</exception>
    public static void Validate(IReadOnlyDictionary<string, string> opts)
    {
        foreach (var key in opts.Keys)
            if (key is not ("type" or "device" or "o"))
                throw new VolumeException(VolumeErrorKind.InvalidArgument, $"invalid option key: \"{key}\"");
        bool hasType = opts.TryGetValue("type", out var type) && type.Length > 0;
        bool hasDevice = opts.TryGetValue("device", out var device) && device.Length > 0;
        if (opts.Count > 0 && !hasType && !hasDevice && !IsBind(opts))
            throw new VolumeException(VolumeErrorKind.InvalidArgument, "missing required option: \"device\"");
        if (hasType != hasDevice && !(hasDevice && IsBind(opts)))
            throw new VolumeException(VolumeErrorKind.InvalidArgument, hasType ? "missing required option: \"device\"" : "missing required option: \"type\"");
        if (IsBind(opts) && (!hasDevice || !device!.StartsWith('/')))
            throw new VolumeException(VolumeErrorKind.InvalidArgument, "invalid option: a bind device must be an absolute path");
        Parse(opts.GetValueOrDefault("o") ?? "");
    }

    /// <summary>True when the options ask for a mount on <c>_data</c>.</summary>
    public static bool NeedsMount(IReadOnlyDictionary<string, string> opts) =>
        opts.TryGetValue("device", out var d) && d.Length > 0;

    internal static bool IsBind(IReadOnlyDictionary<string, string> opts) =>
        (opts.GetValueOrDefault("o") ?? "").Split(',').Any(o => o is "bind" or "rbind");

    /// <summary>Splits <c>o=</c> into mount(2) flags and the file-system data string (<c>size=64m,uid=1000</c>).</summary>
    internal static (ulong Flags, string Data) Parse(string o)
    {
        ulong flags = 0;
        var data = new List<string>();
        foreach (var opt in o.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (Flags.TryGetValue(opt, out var f))
            {
                if (f.Clear) flags &= ~f.Flag;
                else flags |= f.Flag;
            }
            else
            {
                data.Add(opt);
            }
        }
        return (flags, string.Join(',', data));
    }

    /// <summary>Mounts the volume's device on <paramref name="target"/> (a bind is remounted for flags such as ro).</summary>
    internal static void Mount(IReadOnlyDictionary<string, string> opts, string target)
    {
        var (flags, data) = Parse(opts.GetValueOrDefault("o") ?? "");
        string device = opts["device"];
        string? type = opts.GetValueOrDefault("type");
        if ((flags & Libc.MS_BIND) != 0)
        {
            if (!Directory.Exists(device) && !File.Exists(device))
                throw new VolumeException(VolumeErrorKind.InvalidArgument, $"failed to mount local volume: mount {device}:{target}, flags: 0x{flags:x}: no such file or directory");
            Check(Libc.mount(device, target, null, flags & (Libc.MS_BIND | Libc.MS_REC), null), device, target, flags);
            ulong rest = flags & ~(Libc.MS_BIND | Libc.MS_REC);
            if (rest != 0) Check(Libc.mount(null, target, null, Libc.MS_BIND | Libc.MS_REMOUNT | rest, null), device, target, flags);
            return;
        }
        Check(Libc.mount(device, target, string.IsNullOrEmpty(type) || type == "none" ? null : type, flags, data.Length == 0 ? null : data), device, target, flags);
    }

    private static void Check(int rc, string device, string target, ulong flags)
    {
        if (rc == 0) return;
        int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        var e = new LinuxException("mount", errno, target);
        string reason = System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno).ToLowerInvariant();
        throw new VolumeException(VolumeErrorKind.InvalidArgument, $"failed to mount local volume: mount {device}:{target}, flags: 0x{flags:x}: {reason}", e);
    }
}
