namespace Skiff.Daemon;

/// <summary>The process and environment a container is created with (image defaults already merged in).</summary>
public sealed class ContainerConfig
{
    public string Image { get; set; } = "";
    public string Hostname { get; set; } = "";
    public string Domainname { get; set; } = "";
    public string User { get; set; } = "";
    public bool AttachStdin { get; set; }
    public bool AttachStdout { get; set; }
    public bool AttachStderr { get; set; }
    public bool Tty { get; set; }
    public bool OpenStdin { get; set; }
    public bool StdinOnce { get; set; }
    public List<string> Env { get; set; } = [];
    public List<string>? Cmd { get; set; }
    public List<string>? Entrypoint { get; set; }
    public string WorkingDir { get; set; } = "";
    public Dictionary<string, string> Labels { get; set; } = [];
    public string? StopSignal { get; set; }
    public int? StopTimeout { get; set; }
    public List<string> ExposedPorts { get; set; } = [];
    public List<string> Volumes { get; set; } = [];
    /// <summary>The healthcheck (the image's HEALTHCHECK merged with --health-*); null when there is none.</summary>
    public HealthcheckConfig? Healthcheck { get; set; }
}

/// <summary>
/// Docker's healthcheck: <see cref="Test"/> is <c>["CMD", args...]</c>, <c>["CMD-SHELL", "command"]</c>
/// or <c>["NONE"]</c>; durations in nanoseconds, 0 meaning the default (30 s interval and timeout,
/// 0 start period, 3 retries).
/// </summary>
public sealed class HealthcheckConfig
{
    public List<string> Test { get; set; } = [];
    public long Interval { get; set; }
    public long Timeout { get; set; }
    public long StartPeriod { get; set; }
    public long StartInterval { get; set; }
    public int Retries { get; set; }
}

/// <summary>One healthcheck probe's result.</summary>
public sealed class HealthLogEntry
{
    public DateTimeOffset Start { get; set; }
    public DateTimeOffset End { get; set; }
    public int ExitCode { get; set; }
    public string Output { get; set; } = "";
}

/// <summary>A container's health: "starting", "healthy" or "unhealthy", the failures in a row, the last 5 probes.</summary>
public sealed class HealthState
{
    public string Status { get; set; } = "starting";
    public int FailingStreak { get; set; }
    public List<HealthLogEntry> Log { get; set; } = [];
}

/// <summary>A restart policy: "no", "always", "on-failure" (with a maximum) or "unless-stopped".</summary>
public sealed class RestartPolicy
{
    public string Name { get; set; } = "no";
    public int MaximumRetryCount { get; set; }
}

/// <summary>A resource limit (RLIMIT_*) asked for by the user; never raised above the daemon's own hard limit.</summary>
public sealed class Ulimit
{
    public string Name { get; set; } = "";
    public long Soft { get; set; }
    public long Hard { get; set; }
}

/// <summary>Host-side settings of a container: resources, isolation, mounts, logging.</summary>
public sealed class HostConfig
{
    public bool AutoRemove { get; set; }
    public RestartPolicy RestartPolicy { get; set; } = new();
    public List<string> Binds { get; set; } = [];
    public List<MountSpec> Mounts { get; set; } = [];
    public List<string> VolumesFrom { get; set; } = [];
    public string NetworkMode { get; set; } = "default";
    public string PidMode { get; set; } = "";
    public string IpcMode { get; set; } = "";
    public string UtsMode { get; set; } = "";
    /// <summary>Docker's --userns: "" (the daemon's --userns-remap, if any) or "host" (no user namespace).</summary>
    public string UsernsMode { get; set; } = "";
    public bool Privileged { get; set; }
    public bool ReadonlyRootfs { get; set; }
    public bool? Init { get; set; }
    /// <summary>Host devices made available (<c>--device</c>).</summary>
    public List<DeviceMapping> Devices { get; set; } = [];
    /// <summary>Extra supplementary groups (<c>--group-add</c>): names, resolved in the container, or ids.</summary>
    public List<string> GroupAdd { get; set; } = [];
    public List<string> CapAdd { get; set; } = [];
    public List<string> CapDrop { get; set; } = [];
    public List<string> SecurityOpt { get; set; } = [];
    public List<string> Dns { get; set; } = [];
    public List<string> DnsSearch { get; set; } = [];
    public List<string> DnsOptions { get; set; } = [];
    public List<string> ExtraHosts { get; set; } = [];
    /// <summary>Legacy links as the request gave them ("name[:alias]"); only the default bridge registers them (see <see cref="ContainerRecord.Links"/>).</summary>
    public List<string> Links { get; set; } = [];
    /// <summary>Published ports asked for: "80/tcp" -> host bindings (an empty HostPort: any free port).</summary>
    public Dictionary<string, List<PortBinding>> PortBindings { get; set; } = [];
    public bool PublishAllPorts { get; set; }
    public Dictionary<string, string> Sysctls { get; set; } = [];
    public Dictionary<string, string> Tmpfs { get; set; } = [];
    public List<Ulimit> Ulimits { get; set; } = [];
    public long Memory { get; set; }
    public long MemorySwap { get; set; }
    public long MemoryReservation { get; set; }
    public long NanoCpus { get; set; }
    public long CpuShares { get; set; }
    public long CpuPeriod { get; set; }
    public long CpuQuota { get; set; }
    public string CpusetCpus { get; set; } = "";
    public string CpusetMems { get; set; } = "";
    public long? PidsLimit { get; set; }
    public ushort BlkioWeight { get; set; }
    public int? OomScoreAdj { get; set; }
    public string LogType { get; set; } = "json-file";
    public Dictionary<string, string> LogOptions { get; set; } = [];
    public long ShmSize { get; set; }
}

/// <summary>A host side of a published port.</summary>
public sealed class PortBinding
{
    public string HostIp { get; set; } = "";
    public string HostPort { get; set; } = "";
}

/// <summary>
/// A container's attachment to a network: what was asked (aliases, a fixed address) and, while
/// it runs, what it got (address, MAC, its host-side veth).
/// </summary>
public sealed class EndpointRecord
{
    public string NetworkId { get; set; } = "";
    public string EndpointId { get; set; } = "";
    public List<string> Aliases { get; set; } = [];
    /// <summary>The address asked for (--ip), kept across restarts.</summary>
    public string RequestedIp { get; set; } = "";
    public string IPAddress { get; set; } = "";
    public int IPPrefixLen { get; set; }
    public string Gateway { get; set; } = "";
    public string MacAddress { get; set; } = "";
    public string HostVeth { get; set; } = "";
    public string IfName { get; set; } = "";
    /// <summary>The IPv6 address asked for (--ip6), kept across restarts.</summary>
    public string RequestedIp6 { get; set; } = "";
    /// <summary>While running on an IPv6 network: its IPv6 address, prefix length and gateway.</summary>
    public string GlobalIPv6Address { get; set; } = "";
    public int GlobalIPv6PrefixLen { get; set; }
    public string IPv6Gateway { get; set; } = "";
    /// <summary>Links on a user-defined network ("name[:alias]"): the alias resolves to the target for this container only.</summary>
    public List<string> Links { get; set; } = [];
}

/// <summary>Where a container is in its lifecycle, as Docker names it.</summary>
public enum ContainerStatus
{
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

/// <summary>The run state of a container. Persisted with the container after every change.</summary>
public sealed class ContainerState
{
    public ContainerStatus Status { get; set; } = ContainerStatus.Created;
    public int Pid { get; set; }
    public int ExitCode { get; set; }
    public string Error { get; set; } = "";
    public bool OomKilled { get; set; }
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset FinishedAt { get; set; }
    /// <summary>Set by an explicit stop or kill, so that "unless-stopped" and "always" know the user's intent.</summary>
    public bool StoppedByUser { get; set; }
    /// <summary>Set while a container with a healthcheck runs; null otherwise.</summary>
    public HealthState? Health { get; set; }

    public bool Running => Status is ContainerStatus.Running or ContainerStatus.Paused or ContainerStatus.Restarting;
}

/// <summary>Everything the daemon keeps about one container (the persisted record).</summary>
public sealed class ContainerRecord
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public DateTimeOffset Created { get; set; }
    public string ImageId { get; set; } = "";
    public string Path { get; set; } = "";
    public List<string> Args { get; set; } = [];
    public ContainerConfig Config { get; set; } = new();
    public HostConfig HostConfig { get; set; } = new();
    public ContainerState State { get; set; } = new();
    public int RestartCount { get; set; }
    public string Driver { get; set; } = "overlay2";
    public string LogPath { get; set; } = "";
    public string ResolvConfPath { get; set; } = "";
    public string HostnamePath { get; set; } = "";
    public string HostsPath { get; set; } = "";
    /// <summary>The container's volumes, binds and tmpfs mounts, resolved at create.</summary>
    public List<MountPoint> MountPoints { get; set; } = [];
    /// <summary>Networks the container is attached to, by network name.</summary>
    public Dictionary<string, EndpointRecord> Networks { get; set; } = [];
    /// <summary>While running: the pinned network namespace made for it (empty for host, none's own, container:).</summary>
    public string SandboxKey { get; set; } = "";
    /// <summary>While running: the ports published, "80/tcp" -> the host addresses and ports they got.</summary>
    public Dictionary<string, List<PortBinding>> Ports { get; set; } = [];
    /// <summary>Legacy links on the default bridge registered at create (docker run --link), by alias.</summary>
    public List<LinkRecord> Links { get; set; } = [];
}

/// <summary>
/// A legacy link: this container sees <see cref="ChildId"/> as <see cref="Alias"/> (hosts entry
/// and environment). Docker names it "/parent/alias".
/// </summary>
public sealed class LinkRecord
{
    public string ChildId { get; set; } = "";
    /// <summary>The child's name when last seen, shown once the child is gone.</summary>
    public string ChildName { get; set; } = "";
    public string Alias { get; set; } = "";
}
