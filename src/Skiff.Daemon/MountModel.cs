namespace Skiff.Daemon;

/// <summary>One <c>--mount</c> (HostConfig.Mounts entry) as the user gave it.</summary>
public sealed class MountSpec
{
    /// <summary>"bind", "volume" or "tmpfs".</summary>
    public string Type { get; set; } = "volume";
    public string Source { get; set; } = "";
    public string Target { get; set; } = "";
    public bool ReadOnly { get; set; }
    public string BindPropagation { get; set; } = "";
    public bool BindCreateMountpoint { get; set; }
    /// <summary>Bind only the source itself, not the mounts below it (<c>bind-recursive=disabled</c>).</summary>
    public bool BindNonRecursive { get; set; }
    public bool VolumeNoCopy { get; set; }
    public Dictionary<string, string> VolumeLabels { get; set; } = [];
    public string VolumeDriver { get; set; } = "";
    public Dictionary<string, string> VolumeDriverOptions { get; set; } = [];
    public long TmpfsSize { get; set; }
    /// <summary>The tmpfs root's permission bits; 0 when not given.</summary>
    public int TmpfsMode { get; set; }
}

/// <summary>
/// A mount of a container resolved at create (Docker's MountPoint): what inspect shows under
/// <c>Mounts</c> and what the OCI spec gets. Volumes are referenced by name; their data is at Source.
/// </summary>
public sealed class MountPoint
{
    /// <summary>"volume", "bind" or "tmpfs".</summary>
    public string Type { get; set; } = "volume";
    /// <summary>The volume's name (volumes only).</summary>
    public string Name { get; set; } = "";
    /// <summary>The host path: a volume's <c>_data</c>, a bind's source; empty for tmpfs.</summary>
    public string Source { get; set; } = "";
    public string Destination { get; set; } = "";
    public string Driver { get; set; } = "";
    /// <summary>The mode text as given (<c>ro</c>, <c>z</c>, <c>rw,rshared</c>...), as Docker reports it.</summary>
    public string Mode { get; set; } = "";
    public bool RW { get; set; } = true;
    public string Propagation { get; set; } = "";
    /// <summary>A bind of the source alone, without the mounts below it.</summary>
    public bool NonRecursive { get; set; }
    /// <summary>Copy the image's content at Destination into the volume when it is empty (Docker's copy-up).</summary>
    public bool CopyData { get; set; }
    /// <summary>tmpfs mount options (<c>size=</c>, <c>mode=</c>) for a <c>--mount type=tmpfs</c>.</summary>
    public List<string> TmpfsOptions { get; set; } = [];
}
