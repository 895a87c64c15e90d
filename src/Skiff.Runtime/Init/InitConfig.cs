using System.Text.Json.Serialization;
using Skiff.Runtime.Spec;

namespace Skiff.Runtime.Init;

/// <summary>
/// What the parent sends the second stage over the sync socket once the child sits in its cgroups
/// (encoded by <see cref="InitConfigCodec"/>).
/// </summary>
internal sealed class InitConfig
{
    /// <summary>"create" (the container's init) or "exec" (an extra process in a running container).</summary>
    public string Mode { get; set; } = "create";
    public OciSpec Spec { get; set; } = new();
    public string BundlePath { get; set; } = "";
    /// <summary>Create only: the exec fifo the init blocks on until Start.</summary>
    public string? FifoPath { get; set; }
    /// <summary>Controller name to host directory of the container's cgroup (v2: key ""), for the /sys/fs/cgroup mount.</summary>
    public Dictionary<string, string>? CgroupDirs { get; set; }
    public bool CgroupV2 { get; set; }
    /// <summary>Exec only: host pid of the container's init, whose mount and cgroup namespaces the process joins.</summary>
    public int NamespacePid { get; set; }
    /// <summary>
    /// The spec's seccomp profile compiled by the parent (8-byte BPF instructions); the spec itself travels
    /// without its seccomp section, which is most of its size.
    /// </summary>
    public byte[]? SeccompFilter { get; set; }
    /// <summary>Docker's <c>-u</c> syntax, resolved inside the container; overrides process.user.</summary>
    public string? User { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ContainerState))]
internal sealed partial class RuntimeJsonContext : JsonSerializerContext;
