namespace Skiff.Runtime;

/// <summary>What the runtime persists in <c>StateRoot/ID/state.json</c> so that another process can operate on the container.</summary>
public sealed class ContainerState
{
    public string Id { get; set; } = "";
    public int Pid { get; set; }
    /// <summary>Field 22 of /proc/PID/stat at creation, to tell our init from a recycled pid.</summary>
    public ulong PidStartTime { get; set; }
    public string Bundle { get; set; } = "";
    public string Rootfs { get; set; } = "";
    public string CgroupPath { get; set; } = "";
    public DateTime Created { get; set; }
    public Dictionary<string, string>? Annotations { get; set; }
}

/// <summary>The OCI lifecycle states.</summary>
public enum ContainerStatus { Creating, Created, Running, Paused, Stopped }
