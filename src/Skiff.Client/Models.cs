using System.Text.Json.Serialization;

namespace Skiff.Client.Models;

// Shapes of the Docker Engine API (v1.41-1.50) that the CLI sends or reads. Property names match
// the API's JSON exactly; nulls are omitted when writing so the daemon applies its defaults.

/// <summary>Serializes as <c>{}</c>: the value type of ExposedPorts and Volumes maps.</summary>
public sealed class EmptyObject;

/// <summary>Body of POST /containers/create: Config with HostConfig and NetworkingConfig inlined.</summary>
public sealed class ContainerCreateRequest
{
    public string? Hostname { get; set; }
    public string? Domainname { get; set; }
    public string? User { get; set; }
    public bool AttachStdin { get; set; }
    public bool AttachStdout { get; set; }
    public bool AttachStderr { get; set; }
    public Dictionary<string, EmptyObject>? ExposedPorts { get; set; }
    public bool Tty { get; set; }
    public bool OpenStdin { get; set; }
    public bool StdinOnce { get; set; }
    public List<string>? Env { get; set; }
    public List<string>? Cmd { get; set; }
    public HealthConfig? Healthcheck { get; set; }
    public string? Image { get; set; }
    public Dictionary<string, EmptyObject>? Volumes { get; set; }
    public string? WorkingDir { get; set; }
    public List<string>? Entrypoint { get; set; }
    public bool? NetworkDisabled { get; set; }
    public string? MacAddress { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    public string? StopSignal { get; set; }
    public int? StopTimeout { get; set; }
    public HostConfig? HostConfig { get; set; }
    public NetworkingConfig? NetworkingConfig { get; set; }
}

/// <summary>Config.Healthcheck; durations are nanoseconds.</summary>
public sealed class HealthConfig
{
    public List<string>? Test { get; set; }
    public long? Interval { get; set; }
    public long? Timeout { get; set; }
    public long? StartPeriod { get; set; }
    public long? StartInterval { get; set; }
    public int? Retries { get; set; }
}

/// <summary>HostConfig of a create request (and of POST /containers/{id}/update for the resource part).</summary>
public sealed class HostConfig
{
    public List<string>? Binds { get; set; }
    public string? ContainerIDFile { get; set; }
    /// <summary>Initial TTY size [height, width] (API 1.42+).</summary>
    public int[]? ConsoleSize { get; set; }
    public LogConfig? LogConfig { get; set; }
    public string? NetworkMode { get; set; }
    public Dictionary<string, List<PortBinding>>? PortBindings { get; set; }
    public RestartPolicy? RestartPolicy { get; set; }
    public bool? AutoRemove { get; set; }
    public string? VolumeDriver { get; set; }
    public List<string>? VolumesFrom { get; set; }
    public List<string>? CapAdd { get; set; }
    public List<string>? CapDrop { get; set; }
    public string? CgroupnsMode { get; set; }
    public string? CgroupParent { get; set; }
    public long? MemorySwappiness { get; set; }
    public List<string>? Dns { get; set; }
    public List<string>? DnsOptions { get; set; }
    public List<string>? DnsSearch { get; set; }
    public List<string>? ExtraHosts { get; set; }
    public List<string>? GroupAdd { get; set; }
    public string? IpcMode { get; set; }
    public List<string>? Links { get; set; }
    public int? OomScoreAdj { get; set; }
    public string? PidMode { get; set; }
    public bool? Privileged { get; set; }
    public bool? PublishAllPorts { get; set; }
    public bool? ReadonlyRootfs { get; set; }
    public List<string>? SecurityOpt { get; set; }
    public Dictionary<string, string>? Tmpfs { get; set; }
    public string? UTSMode { get; set; }
    public string? UsernsMode { get; set; }
    public long? ShmSize { get; set; }
    public Dictionary<string, string>? Sysctls { get; set; }
    public string? Runtime { get; set; }
    public bool? Init { get; set; }
    public long? CpuShares { get; set; }
    public long? Memory { get; set; }
    public long? MemoryReservation { get; set; }
    public long? MemorySwap { get; set; }
    public long? NanoCpus { get; set; }
    public long? CpuPeriod { get; set; }
    public long? CpuQuota { get; set; }
    public string? CpusetCpus { get; set; }
    public string? CpusetMems { get; set; }
    public List<DeviceMapping>? Devices { get; set; }
    public bool? OomKillDisable { get; set; }
    public long? PidsLimit { get; set; }
    public List<Ulimit>? Ulimits { get; set; }
    public List<Mount>? Mounts { get; set; }
}

public sealed class LogConfig
{
    public string? Type { get; set; }
    public Dictionary<string, string>? Config { get; set; }
}

public sealed class PortBinding
{
    public string HostIp { get; set; } = "";
    public string HostPort { get; set; } = "";
}

public sealed class RestartPolicy
{
    public string Name { get; set; } = "";
    public int MaximumRetryCount { get; set; }
}

public sealed class DeviceMapping
{
    public string PathOnHost { get; set; } = "";
    public string PathInContainer { get; set; } = "";
    public string CgroupPermissions { get; set; } = "rwm";
}

public sealed class Ulimit
{
    public string Name { get; set; } = "";
    public long Soft { get; set; }
    public long Hard { get; set; }
}

public sealed class Mount
{
    public string? Type { get; set; }
    public string? Source { get; set; }
    public string? Target { get; set; }
    public bool? ReadOnly { get; set; }
    public string? Consistency { get; set; }
    public BindOptions? BindOptions { get; set; }
    public VolumeOptions? VolumeOptions { get; set; }
    public TmpfsOptions? TmpfsOptions { get; set; }
}

public sealed class BindOptions
{
    public string? Propagation { get; set; }
    public bool? NonRecursive { get; set; }
    public bool? CreateMountpoint { get; set; }
}

public sealed class VolumeOptions
{
    public bool? NoCopy { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    public string? Subpath { get; set; }
}

public sealed class TmpfsOptions
{
    public long? SizeBytes { get; set; }
    public int? Mode { get; set; }
}

public sealed class NetworkingConfig
{
    public Dictionary<string, EndpointSettings>? EndpointsConfig { get; set; }
}

public sealed class EndpointSettings
{
    public List<string>? Aliases { get; set; }
    public EndpointIpamConfig? IPAMConfig { get; set; }
    /// <summary>--link on a user-defined network: names the container resolves there.</summary>
    public List<string>? Links { get; set; }
}

/// <summary>An endpoint's fixed address (--ip).</summary>
public sealed class EndpointIpamConfig
{
    public string? IPv4Address { get; set; }
    public string? IPv6Address { get; set; }
}

/// <summary>One IPAM pool of a network (--subnet, --gateway, --ip-range).</summary>
public sealed class IpamPool
{
    public string? Subnet { get; set; }
    public string? Gateway { get; set; }
    public string? IPRange { get; set; }
}

public sealed class IpamRequest
{
    public string Driver { get; set; } = "default";
    public List<IpamPool>? Config { get; set; }
}

/// <summary>Answer of POST /containers/create.</summary>
public sealed class ContainerCreateResponse
{
    public string Id { get; set; } = "";
    public List<string>? Warnings { get; set; }
}

/// <summary>Answer of POST /containers/{id}/wait.</summary>
public sealed class WaitResponse
{
    public long StatusCode { get; set; }
    public WaitError? Error { get; set; }
}

public sealed class WaitError
{
    public string? Message { get; set; }
}

/// <summary>One element of GET /containers/json.</summary>
public sealed class ContainerSummary
{
    public string Id { get; set; } = "";
    public List<string>? Names { get; set; }
    public string? Image { get; set; }
    public string? ImageID { get; set; }
    public string? Command { get; set; }
    public long Created { get; set; }
    public List<PortSummary>? Ports { get; set; }
    public long? SizeRw { get; set; }
    public long? SizeRootFs { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    public string? State { get; set; }
    public string? Status { get; set; }
    public List<MountPoint>? Mounts { get; set; }
    public SummaryNetworkSettings? NetworkSettings { get; set; }
}

public sealed class PortSummary
{
    public string? IP { get; set; }
    public int PrivatePort { get; set; }
    public int? PublicPort { get; set; }
    public string? Type { get; set; }
}

public sealed class MountPoint
{
    public string? Type { get; set; }
    public string? Name { get; set; }
    public string? Source { get; set; }
    public string? Destination { get; set; }
}

public sealed class SummaryNetworkSettings
{
    public Dictionary<string, EndpointSummary>? Networks { get; set; }
}

public sealed class EndpointSummary
{
    public string? NetworkID { get; set; }
    public string? IPAddress { get; set; }
}

/// <summary>One element of GET /images/json.</summary>
public sealed class ImageSummary
{
    public string Id { get; set; } = "";
    public string? ParentId { get; set; }
    public List<string>? RepoTags { get; set; }
    public List<string>? RepoDigests { get; set; }
    public long Created { get; set; }
    public long Size { get; set; }
    public long SharedSize { get; set; }
    public long? VirtualSize { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    public long Containers { get; set; }
}

/// <summary>One element of DELETE /images/{name}.</summary>
public sealed class ImageDeleteItem
{
    public string? Untagged { get; set; }
    public string? Deleted { get; set; }
}

/// <summary>Body of POST /containers/{id}/exec.</summary>
public sealed class ExecCreateRequest
{
    public bool AttachStdin { get; set; }
    public bool AttachStdout { get; set; }
    public bool AttachStderr { get; set; }
    public string? DetachKeys { get; set; }
    public bool Tty { get; set; }
    public List<string>? Env { get; set; }
    public List<string> Cmd { get; set; } = [];
    public bool Privileged { get; set; }
    public string? User { get; set; }
    public string? WorkingDir { get; set; }
    /// <summary>Initial TTY size [height, width] (API 1.42+).</summary>
    public int[]? ConsoleSize { get; set; }
}

/// <summary>Answer of POST /containers/{id}/exec.</summary>
public sealed class IdResponse
{
    public string Id { get; set; } = "";
}

/// <summary>Body of POST /exec/{id}/start.</summary>
public sealed class ExecStartRequest
{
    public bool Detach { get; set; }
    public bool Tty { get; set; }
}

/// <summary>The fields of GET /exec/{id}/json the CLI reads.</summary>
public sealed class ExecInspect
{
    public bool Running { get; set; }
    public int? ExitCode { get; set; }
    public int Pid { get; set; }
}

/// <summary>One line of a JSON progress stream (pull, push, import, load).</summary>
public sealed class JsonMessage
{
    public string? Status { get; set; }
    public string? Id { get; set; }
    public string? Progress { get; set; }
    public string? Stream { get; set; }
    public JsonMessageError? ErrorDetail { get; set; }
    [JsonPropertyName("error")]
    public string? Error { get; set; }
    public JsonMessageAux? Aux { get; set; }
}

public sealed class JsonMessageError
{
    public int Code { get; set; }
    public string? Message { get; set; }
}

public sealed class JsonMessageAux
{
    public string? ID { get; set; }
}

/// <summary>The fields of GET /containers/{id}/json the CLI itself needs (inspect prints the raw document).</summary>
public sealed class ContainerInspectLite
{
    public string Id { get; set; } = "";
    public string? Name { get; set; }
    public ContainerStateLite? State { get; set; }
    public ContainerConfigLite? Config { get; set; }
}

public sealed class ContainerStateLite
{
    public string? Status { get; set; }
    public bool Running { get; set; }
    public bool Paused { get; set; }
    public int ExitCode { get; set; }
}

public sealed class ContainerConfigLite
{
    public bool Tty { get; set; }
    public bool OpenStdin { get; set; }
}

/// <summary>Answer of POST /containers/prune and friends.</summary>
public sealed class PruneResponse
{
    public List<string>? ContainersDeleted { get; set; }
    public List<string>? VolumesDeleted { get; set; }
    public List<string>? NetworksDeleted { get; set; }
    public List<ImageDeleteItem>? ImagesDeleted { get; set; }
    public long SpaceReclaimed { get; set; }
}

/// <summary>Answer of GET /containers/{id}/top.</summary>
public sealed class TopResponse
{
    public List<string>? Titles { get; set; }
    public List<List<string>>? Processes { get; set; }
}

/// <summary>One element of GET /containers/{id}/changes.</summary>
public sealed class ChangeItem
{
    public string Path { get; set; } = "";
    public int Kind { get; set; }
}

/// <summary>One element of GET /images/{name}/history.</summary>
public sealed class HistoryItem
{
    public string Id { get; set; } = "";
    public long Created { get; set; }
    public string? CreatedBy { get; set; }
    public List<string>? Tags { get; set; }
    public long Size { get; set; }
    public string? Comment { get; set; }
}

/// <summary>One element of GET /volumes -> Volumes.</summary>
public sealed class Volume
{
    public string Name { get; set; } = "";
    public string? Driver { get; set; }
    public string? Mountpoint { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    public string? Scope { get; set; }
}

/// <summary>Answer of GET /volumes.</summary>
public sealed class VolumeListResponse
{
    public List<Volume>? Volumes { get; set; }
    public List<string>? Warnings { get; set; }
}

/// <summary>Body of POST /volumes/create.</summary>
public sealed class VolumeCreateRequest
{
    public string? Name { get; set; }
    public string? Driver { get; set; }
    public Dictionary<string, string>? DriverOpts { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
}

/// <summary>One element of GET /networks.</summary>
public sealed class NetworkSummary
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string? Driver { get; set; }
    public string? Scope { get; set; }
    public bool Internal { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
}

/// <summary>Body of POST /networks/create.</summary>
public sealed class NetworkCreateRequest
{
    public string Name { get; set; } = "";
    public string? Driver { get; set; }
    public bool? Internal { get; set; }
    public bool? EnableIPv6 { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    public IpamRequest? IPAM { get; set; }
}

/// <summary>Body of POST /networks/{id}/connect and /disconnect.</summary>
public sealed class NetworkConnectRequest
{
    public string Container { get; set; } = "";
    public bool? Force { get; set; }
    public EndpointSettings? EndpointConfig { get; set; }
}

/// <summary>Body of POST /auth.</summary>
public sealed class AuthConfig
{
    [JsonPropertyName("username")] public string? Username { get; set; }
    [JsonPropertyName("password")] public string? Password { get; set; }
    [JsonPropertyName("serveraddress")] public string? ServerAddress { get; set; }
}

/// <summary>Answer of POST /auth.</summary>
public sealed class AuthResponse
{
    public string? Status { get; set; }
    public string? IdentityToken { get; set; }
}

/// <summary>Body of POST /containers/{id}/update.</summary>
public sealed class UpdateRequest
{
    public long? Memory { get; set; }
    public long? MemorySwap { get; set; }
    public long? MemoryReservation { get; set; }
    public long? NanoCpus { get; set; }
    public long? CpuShares { get; set; }
    public long? CpuPeriod { get; set; }
    public long? CpuQuota { get; set; }
    public string? CpusetCpus { get; set; }
    public long? PidsLimit { get; set; }
    public RestartPolicy? RestartPolicy { get; set; }
}

/// <summary>Answer of POST /containers/{id}/update.</summary>
public sealed class WarningsResponse
{
    public List<string>? Warnings { get; set; }
}

/// <summary>Source-generated serializer metadata for every model (NativeAOT: no reflection).</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(ContainerCreateRequest))]
[JsonSerializable(typeof(ContainerCreateResponse))]
[JsonSerializable(typeof(WaitResponse))]
[JsonSerializable(typeof(List<ContainerSummary>))]
[JsonSerializable(typeof(ContainerSummary))]
[JsonSerializable(typeof(List<ImageSummary>))]
[JsonSerializable(typeof(List<ImageDeleteItem>))]
[JsonSerializable(typeof(ExecCreateRequest))]
[JsonSerializable(typeof(IdResponse))]
[JsonSerializable(typeof(ExecStartRequest))]
[JsonSerializable(typeof(ExecInspect))]
[JsonSerializable(typeof(JsonMessage))]
[JsonSerializable(typeof(ContainerInspectLite))]
[JsonSerializable(typeof(PruneResponse))]
[JsonSerializable(typeof(TopResponse))]
[JsonSerializable(typeof(List<ChangeItem>))]
[JsonSerializable(typeof(List<HistoryItem>))]
[JsonSerializable(typeof(VolumeListResponse))]
[JsonSerializable(typeof(Volume))]
[JsonSerializable(typeof(VolumeCreateRequest))]
[JsonSerializable(typeof(List<NetworkSummary>))]
[JsonSerializable(typeof(NetworkCreateRequest))]
[JsonSerializable(typeof(NetworkConnectRequest))]
[JsonSerializable(typeof(IdResponse))]
[JsonSerializable(typeof(AuthConfig))]
[JsonSerializable(typeof(AuthResponse))]
[JsonSerializable(typeof(UpdateRequest))]
[JsonSerializable(typeof(WarningsResponse))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(List<string>))]
public sealed partial class ApiJson : JsonSerializerContext;
