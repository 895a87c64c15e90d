using System.Text.Json;
using System.Text.Json.Serialization;

namespace Skiff.Api;

// Docker Engine API JSON shapes. Only this assembly knows them; the daemon core has its own records.

internal sealed class ErrorBody
{
    [JsonPropertyName("message")] public string Message { get; set; } = "";
}

internal sealed class IdResponse
{
    public string Id { get; set; } = "";
    public List<string> Warnings { get; set; } = [];
}

internal sealed class ComponentVersion
{
    public string Name { get; set; } = "";
    public string Version { get; set; } = "";
    public Dictionary<string, string> Details { get; set; } = [];
}

internal sealed class VersionResponse
{
    public PlatformName Platform { get; set; } = new();
    public List<ComponentVersion> Components { get; set; } = [];
    public string Version { get; set; } = "";
    public string ApiVersion { get; set; } = "";
    public string MinAPIVersion { get; set; } = "";
    public string GitCommit { get; set; } = "";
    public string GoVersion { get; set; } = "";
    public string Os { get; set; } = "linux";
    public string Arch { get; set; } = "amd64";
    public string KernelVersion { get; set; } = "";
    public string BuildTime { get; set; } = "";
}

internal sealed class PlatformName
{
    public string Name { get; set; } = "";
}

internal sealed class InfoResponse
{
    public string ID { get; set; } = "";
    public int Containers { get; set; }
    public int ContainersRunning { get; set; }
    public int ContainersPaused { get; set; }
    public int ContainersStopped { get; set; }
    public int Images { get; set; }
    public string Driver { get; set; } = "overlay2";
    public List<List<string>> DriverStatus { get; set; } = [];
    public Dictionary<string, List<string>?> Plugins { get; set; } = [];
    public bool MemoryLimit { get; set; } = true;
    public bool SwapLimit { get; set; } = true;
    public bool CpuCfsPeriod { get; set; } = true;
    public bool CpuCfsQuota { get; set; } = true;
    public bool CPUShares { get; set; } = true;
    public bool CPUSet { get; set; } = true;
    public bool PidsLimit { get; set; } = true;
    public bool OomKillDisable { get; set; }
    public bool IPv4Forwarding { get; set; } = true;
    public bool Debug { get; set; }
    public int NFd { get; set; }
    public int NGoroutines { get; set; }
    public string SystemTime { get; set; } = "";
    public string LoggingDriver { get; set; } = "json-file";
    public string CgroupDriver { get; set; } = "cgroupfs";
    public string CgroupVersion { get; set; } = "1";
    public int NEventsListener { get; set; }
    public string KernelVersion { get; set; } = "";
    public string OperatingSystem { get; set; } = "";
    public string OSVersion { get; set; } = "";
    public string OSType { get; set; } = "linux";
    public string Architecture { get; set; } = "x86_64";
    public int NCPU { get; set; }
    public long MemTotal { get; set; }
    public string IndexServerAddress { get; set; } = "https://index.docker.io/v1/";
    public string DockerRootDir { get; set; } = "";
    public string Name { get; set; } = "";
    public List<string> Labels { get; set; } = [];
    public bool ExperimentalBuild { get; set; }
    public string ServerVersion { get; set; } = "";
    public Dictionary<string, RuntimeInfo> Runtimes { get; set; } = [];
    public string DefaultRuntime { get; set; } = "";
    public SwarmInfo Swarm { get; set; } = new();
    public bool LiveRestoreEnabled { get; set; } = true;
    public string Isolation { get; set; } = "";
    public string InitBinary { get; set; } = "";
    public List<string> SecurityOptions { get; set; } = [];
    public RegistryConfigDto? RegistryConfig { get; set; }
    public List<string> Warnings { get; set; } = [];
}

internal sealed class RuntimeInfo
{
    [JsonPropertyName("path")] public string Path { get; set; } = "";
}

internal sealed class SwarmInfo
{
    public string NodeID { get; set; } = "";
    public string NodeAddr { get; set; } = "";
    public string LocalNodeState { get; set; } = "inactive";
    public bool ControlAvailable { get; set; }
    public string Error { get; set; } = "";
}

/// <summary>Docker's container Config (create body fields and inspect's Config).</summary>
internal class ConfigDto
{
    public string? Hostname { get; set; }
    public string? Domainname { get; set; }
    public string? User { get; set; }
    public bool AttachStdin { get; set; }
    public bool AttachStdout { get; set; }
    public bool AttachStderr { get; set; }
    public Dictionary<string, JsonElement>? ExposedPorts { get; set; }
    public bool Tty { get; set; }
    public bool OpenStdin { get; set; }
    public bool StdinOnce { get; set; }
    public List<string>? Env { get; set; }
    [JsonConverter(typeof(StringOrListConverter))] public List<string>? Cmd { get; set; }
    public HealthConfigDto? Healthcheck { get; set; }
    public string? Image { get; set; }
    public Dictionary<string, JsonElement>? Volumes { get; set; }
    public string? WorkingDir { get; set; }
    [JsonConverter(typeof(StringOrListConverter))] public List<string>? Entrypoint { get; set; }
    public bool? NetworkDisabled { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    public string? StopSignal { get; set; }
    public int? StopTimeout { get; set; }
    public List<string>? Shell { get; set; }
    public List<string>? OnBuild { get; set; }
}

/// <summary>Docker's HealthConfig. Clients send null for unset durations (docker-compose 1.29 does), so all are nullable.</summary>
internal sealed class HealthConfigDto
{
    public List<string>? Test { get; set; }
    public long? Interval { get; set; }
    public long? Timeout { get; set; }
    public long? StartPeriod { get; set; }
    public long? StartInterval { get; set; }
    public int? Retries { get; set; }
}

internal sealed class CreateBody : ConfigDto
{
    public HostConfigDto? HostConfig { get; set; }
    public JsonElement? NetworkingConfig { get; set; }
}

internal sealed class RestartPolicyDto
{
    public string? Name { get; set; }
    public int MaximumRetryCount { get; set; }
}

internal sealed class UlimitDto
{
    public string Name { get; set; } = "";
    public long Soft { get; set; }
    public long Hard { get; set; }
}

internal sealed class LogConfigDto
{
    public string? Type { get; set; }
    public Dictionary<string, string>? Config { get; set; }
}

internal sealed class HostConfigDto
{
    public List<string>? Binds { get; set; }
    public string? ContainerIDFile { get; set; }
    public LogConfigDto? LogConfig { get; set; }
    public string? NetworkMode { get; set; }
    public Dictionary<string, JsonElement>? PortBindings { get; set; }
    public RestartPolicyDto? RestartPolicy { get; set; }
    public bool AutoRemove { get; set; }
    public string? VolumeDriver { get; set; }
    public List<string>? VolumesFrom { get; set; }
    public List<string>? CapAdd { get; set; }
    public List<string>? CapDrop { get; set; }
    public string? CgroupnsMode { get; set; }
    public List<string>? Dns { get; set; }
    public List<string>? DnsOptions { get; set; }
    public List<string>? DnsSearch { get; set; }
    public List<string>? ExtraHosts { get; set; }
    public List<string>? GroupAdd { get; set; }
    public string? IpcMode { get; set; }
    public string? Cgroup { get; set; }
    public List<string>? Links { get; set; }
    public int OomScoreAdj { get; set; }
    public string? PidMode { get; set; }
    public bool Privileged { get; set; }
    public bool PublishAllPorts { get; set; }
    public bool ReadonlyRootfs { get; set; }
    public List<string>? SecurityOpt { get; set; }
    public Dictionary<string, string>? StorageOpt { get; set; }
    public Dictionary<string, string>? Tmpfs { get; set; }
    public string? UTSMode { get; set; }
    public string? UsernsMode { get; set; }
    public long ShmSize { get; set; }
    public Dictionary<string, string>? Sysctls { get; set; }
    public string? Runtime { get; set; }
    public string? Isolation { get; set; }
    public long CpuShares { get; set; }
    public long Memory { get; set; }
    public long NanoCpus { get; set; }
    public string? CgroupParent { get; set; }
    public ushort BlkioWeight { get; set; }
    public long CpuPeriod { get; set; }
    public long CpuQuota { get; set; }
    public long CpuRealtimePeriod { get; set; }
    public long CpuRealtimeRuntime { get; set; }
    public string? CpusetCpus { get; set; }
    public string? CpusetMems { get; set; }
    public List<JsonElement>? Devices { get; set; }
    public List<string>? DeviceCgroupRules { get; set; }
    public long MemoryReservation { get; set; }
    public long MemorySwap { get; set; }
    public long? MemorySwappiness { get; set; }
    public bool? OomKillDisable { get; set; }
    public long? PidsLimit { get; set; }
    public List<UlimitDto>? Ulimits { get; set; }
    public bool? Init { get; set; }
    public List<JsonElement>? Mounts { get; set; }
    public List<string>? MaskedPaths { get; set; }
    public List<string>? ReadonlyPaths { get; set; }
}

internal sealed class StateDto
{
    public string Status { get; set; } = "";
    public bool Running { get; set; }
    public bool Paused { get; set; }
    public bool Restarting { get; set; }
    public bool OOMKilled { get; set; }
    public bool Dead { get; set; }
    public int Pid { get; set; }
    public int ExitCode { get; set; }
    public string Error { get; set; } = "";
    public string StartedAt { get; set; } = "";
    public string FinishedAt { get; set; } = "";
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public HealthDto? Health { get; set; }
}

internal sealed class HealthDto
{
    public string Status { get; set; } = "";
    public int FailingStreak { get; set; }
    public List<HealthLogDto> Log { get; set; } = [];
}

internal sealed class HealthLogDto
{
    public string Start { get; set; } = "";
    public string End { get; set; } = "";
    public int ExitCode { get; set; }
    public string Output { get; set; } = "";
}

internal sealed class GraphDriverDto
{
    public string Name { get; set; } = "overlay2";
    public Dictionary<string, string> Data { get; set; } = [];
}

internal sealed class NetworkSettingsDto
{
    public string Bridge { get; set; } = "";
    public string SandboxID { get; set; } = "";
    public string SandboxKey { get; set; } = "";
    public Dictionary<string, JsonElement?> Ports { get; set; } = [];
    public string Gateway { get; set; } = "";
    public string IPAddress { get; set; } = "";
    public int IPPrefixLen { get; set; }
    public string MacAddress { get; set; } = "";
    public string LinkLocalIPv6Address { get; set; } = "";
    public int LinkLocalIPv6PrefixLen { get; set; }
    public string GlobalIPv6Address { get; set; } = "";
    public int GlobalIPv6PrefixLen { get; set; }
    public string IPv6Gateway { get; set; } = "";
    public Dictionary<string, EndpointDto> Networks { get; set; } = [];
}

internal sealed class EndpointDto
{
    public string NetworkID { get; set; } = "";
    public string EndpointID { get; set; } = "";
    public string Gateway { get; set; } = "";
    public string IPAddress { get; set; } = "";
    public int IPPrefixLen { get; set; }
    public string MacAddress { get; set; } = "";
    public List<string>? Aliases { get; set; }
    public List<string>? DNSNames { get; set; }
    public List<string>? Links { get; set; }
    public EndpointIpamDto? IPAMConfig { get; set; }
    public string IPv6Gateway { get; set; } = "";
    public string GlobalIPv6Address { get; set; } = "";
    public int GlobalIPv6PrefixLen { get; set; }
}

internal sealed class ContainerInspectDto
{
    public string Id { get; set; } = "";
    public string Created { get; set; } = "";
    public string Path { get; set; } = "";
    public List<string> Args { get; set; } = [];
    public StateDto State { get; set; } = new();
    public string Image { get; set; } = "";
    public string ResolvConfPath { get; set; } = "";
    public string HostnamePath { get; set; } = "";
    public string HostsPath { get; set; } = "";
    public string LogPath { get; set; } = "";
    public string Name { get; set; } = "";
    public int RestartCount { get; set; }
    public string Driver { get; set; } = "overlay2";
    public string Platform { get; set; } = "linux";
    public string MountLabel { get; set; } = "";
    public string ProcessLabel { get; set; } = "";
    public string AppArmorProfile { get; set; } = "";
    public List<string>? ExecIDs { get; set; }
    public HostConfigDto HostConfig { get; set; } = new();
    public GraphDriverDto GraphDriver { get; set; } = new();
    public List<JsonElement> Mounts { get; set; } = [];
    public ConfigDto Config { get; set; } = new();
    public NetworkSettingsDto NetworkSettings { get; set; } = new();
}

internal sealed class ContainerSummaryDto
{
    public string Id { get; set; } = "";
    public List<string> Names { get; set; } = [];
    public string Image { get; set; } = "";
    public string ImageID { get; set; } = "";
    public string Command { get; set; } = "";
    public long Created { get; set; }
    public List<JsonElement> Ports { get; set; } = [];
    public long? SizeRw { get; set; }
    public long? SizeRootFs { get; set; }
    public Dictionary<string, string> Labels { get; set; } = [];
    public string State { get; set; } = "";
    public string Status { get; set; } = "";
    public Dictionary<string, string> HostConfig { get; set; } = [];
    public NetworkSettingsSummaryDto NetworkSettings { get; set; } = new();
    public List<JsonElement> Mounts { get; set; } = [];
}

internal sealed class NetworkSettingsSummaryDto
{
    public Dictionary<string, EndpointDto> Networks { get; set; } = [];
}

internal sealed class WaitResponseDto
{
    public int StatusCode { get; set; }
    public WaitErrorDto? Error { get; set; }
}

internal sealed class PruneDto
{
    public List<string> ContainersDeleted { get; set; } = [];
    public long SpaceReclaimed { get; set; }
}

internal sealed class TopDto
{
    public List<string> Titles { get; set; } = [];
    public List<List<string>> Processes { get; set; } = [];
}

internal sealed class WaitErrorDto
{
    public string Message { get; set; } = "";
}

/// <summary>Docker accepts Cmd and Entrypoint as a JSON array or a single string.</summary>
internal sealed class StringOrListConverter : JsonConverter<List<string>?>
{
    public override List<string>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null: return null;
            case JsonTokenType.String: return [reader.GetString()!];
            case JsonTokenType.StartArray:
                var list = new List<string>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    list.Add(reader.GetString() ?? "");
                return list;
            default: throw new JsonException("expected a string or an array of strings");
        }
    }

    public override void Write(Utf8JsonWriter writer, List<string>? value, JsonSerializerOptions options)
    {
        if (value is null) { writer.WriteNullValue(); return; }
        writer.WriteStartArray();
        foreach (var s in value) writer.WriteStringValue(s);
        writer.WriteEndArray();
    }
}

[JsonSerializable(typeof(ErrorBody))]
[JsonSerializable(typeof(ProgressMessage))]
[JsonSerializable(typeof(List<ImageSummaryDto>))]
[JsonSerializable(typeof(ImageInspectDto))]
[JsonSerializable(typeof(List<ImageHistoryDto>))]
[JsonSerializable(typeof(List<ImageDeleteDto>))]
[JsonSerializable(typeof(IdResponse))]
[JsonSerializable(typeof(VersionResponse))]
[JsonSerializable(typeof(InfoResponse))]
[JsonSerializable(typeof(CreateBody))]
[JsonSerializable(typeof(ContainerInspectDto))]
[JsonSerializable(typeof(List<ContainerSummaryDto>))]
[JsonSerializable(typeof(WaitResponseDto))]
[JsonSerializable(typeof(TopDto))]
[JsonSerializable(typeof(PruneDto))]
[JsonSerializable(typeof(Dictionary<string, List<string>>))]
[JsonSerializable(typeof(Dictionary<string, Dictionary<string, bool>>))]
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true, NumberHandling = JsonNumberHandling.AllowReadingFromString)]
internal sealed partial class ApiJson : JsonSerializerContext;

internal sealed class ProgressMessage
{
    [JsonPropertyName("status")] public string? Status { get; set; }
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("progress")] public string? Progress { get; set; }
}

internal sealed class ImageSummaryDto
{
    public string Id { get; set; } = "";
    public string ParentId { get; set; } = "";
    public List<string> RepoTags { get; set; } = [];
    public List<string> RepoDigests { get; set; } = [];
    public long Created { get; set; }
    public long Size { get; set; }
    public long SharedSize { get; set; }
    public long VirtualSize { get; set; }
    public Dictionary<string, string> Labels { get; set; } = [];
    public int Containers { get; set; }
}

internal sealed class RootFsDto
{
    public string Type { get; set; } = "layers";
    public List<string> Layers { get; set; } = [];
}

internal sealed class ImageInspectDto
{
    public string Id { get; set; } = "";
    public List<string> RepoTags { get; set; } = [];
    public List<string> RepoDigests { get; set; } = [];
    public string Parent { get; set; } = "";
    public string Comment { get; set; } = "";
    public string Created { get; set; } = "";
    public string DockerVersion { get; set; } = "";
    public string Author { get; set; } = "";
    public ConfigDto Config { get; set; } = new();
    /// <summary>Reported by API versions before 1.45; docker-compose 1.29 reads it when recreating containers.</summary>
    public ConfigDto? ContainerConfig { get; set; }
    public string Architecture { get; set; } = "";
    public string Os { get; set; } = "";
    public long Size { get; set; }
    public long VirtualSize { get; set; }
    public GraphDriverDto GraphDriver { get; set; } = new();
    public RootFsDto RootFS { get; set; } = new();
}

internal sealed class ImageHistoryDto
{
    public string Id { get; set; } = "";
    public long Created { get; set; }
    public string CreatedBy { get; set; } = "";
    public List<string>? Tags { get; set; }
    public long Size { get; set; }
    public string Comment { get; set; } = "";
}

internal sealed class ImageDeleteDto
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Untagged { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Deleted { get; set; }
}

