using Skiff.Linux;
using Skiff.Runtime.Spec;

namespace Skiff.Daemon;

/// <summary>A host device made available in a container (<c>--device host[:container][:permissions]</c>).</summary>
public sealed class DeviceMapping
{
    public string PathOnHost { get; set; } = "";
    public string PathInContainer { get; set; } = "";
    /// <summary>Device cgroup access: any of r, w, m ("rwm" when empty).</summary>
    public string CgroupPermissions { get; set; } = "";
}

public sealed partial class Daemon
{
    /// <summary>
    /// The device nodes and device cgroup rules for <c>--device</c>, read from the host at start (as dockerd does, so a
    /// device that appears later is picked up at the next start). A directory brings every device under it, at the
    /// same relative paths; a symlink is followed. A missing host path fails with dockerd's message.
    /// </summary>
    internal static (List<OciDevice> Nodes, List<OciDeviceRule> Rules) GatherDevices(IEnumerable<DeviceMapping> mappings)
    {
        var nodes = new List<OciDevice>();
        var rules = new List<OciDeviceRule>();
        foreach (var m in mappings)
        {
            string inContainer = string.IsNullOrEmpty(m.PathInContainer) ? m.PathOnHost : m.PathInContainer;
            string access = string.IsNullOrEmpty(m.CgroupPermissions) ? "rwm" : m.CgroupPermissions;
            if (access.Any(ch => ch is not ('r' or 'w' or 'm')))
                throw DaemonException.Invalid($"invalid device mode: {m.CgroupPermissions}");
            if (!TryStatDevice(m.PathOnHost, out var st, out int errno))
                throw DaemonException.Invalid($"error gathering device information while adding custom device \"{m.PathOnHost}\": {ErrnoText(errno)}");
            if ((st.Mode & 0xF000) == 0x4000)
            {
                foreach (var file in Directory.EnumerateFiles(m.PathOnHost, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true }))
                {
                    if (!TryStatDevice(file, out var fst, out _) || DeviceType(fst.Mode) is not { } t) continue;
                    string rel = Path.GetRelativePath(m.PathOnHost, file);
                    Add(Path.Combine(inContainer, rel), t, fst, access);
                }
                continue;
            }
            if (DeviceType(st.Mode) is not { } type)
                throw DaemonException.Invalid($"error gathering device information while adding custom device \"{m.PathOnHost}\": not a device node");
            Add(inContainer, type, st, access);
        }
        return (nodes, rules);

        void Add(string path, string type, Libc.Statx st, string access)
        {
            nodes.Add(new OciDevice { Path = path, Type = type, Major = st.RdevMajor, Minor = st.RdevMinor, FileMode = (uint)(st.Mode & 0x1FF), Uid = st.Uid, Gid = st.Gid });
            rules.Add(new OciDeviceRule { Allow = true, Type = type, Major = st.RdevMajor, Minor = st.RdevMinor, Access = access });
        }
    }

    private static string? DeviceType(ushort mode) => (mode & 0xF000) switch
    {
        0x2000 => "c",
        0x6000 => "b",
        _ => null,
    };

    private static unsafe bool TryStatDevice(string path, out Libc.Statx st, out int errno)
    {
        Libc.Statx s;
        if (Libc.statx(Libc.AT_FDCWD, path, 0, Libc.STATX_BASIC_STATS, &s) < 0)
        {
            errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            st = default;
            return false;
        }
        st = s;
        errno = 0;
        return true;
    }

    private static string ErrnoText(int errno)
    {
        var text = System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno);
        return text.Length > 0 ? char.ToLowerInvariant(text[0]) + text[1..] : text;
    }
}
