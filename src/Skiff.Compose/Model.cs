namespace Skiff.Compose;

/// <summary>
/// A loaded, interpolated, merged and normalised compose project: what <c>compose config</c>
/// prints and what the executor turns into API calls. Relative paths are already absolute.
/// </summary>
public sealed class Project
{
    /// <summary>The project name (lowercase letters, digits, '_' and '-').</summary>
    public required string Name { get; init; }

    /// <summary>The directory relative paths were resolved against.</summary>
    public required string WorkingDir { get; init; }

    /// <summary>The compose files, absolute, in the order they were merged.</summary>
    public required List<string> ConfigFiles { get; init; }

    /// <summary>Services enabled by the active profiles, by name in file order.</summary>
    public OrderedDictionary<string, Service> Services { get; } = new(StringComparer.Ordinal);

    /// <summary>Services left out because none of their profiles is active.</summary>
    public OrderedDictionary<string, Service> DisabledServices { get; } = new(StringComparer.Ordinal);

    /// <summary>Networks by key (the daemon name is <see cref="NetworkConfig.Name"/>).</summary>
    public OrderedDictionary<string, NetworkConfig> Networks { get; } = new(StringComparer.Ordinal);

    /// <summary>Named volumes by key (the daemon name is <see cref="VolumeConfig.Name"/>).</summary>
    public OrderedDictionary<string, VolumeConfig> Volumes { get; } = new(StringComparer.Ordinal);

    /// <summary>The environment used for interpolation (process environment over the .env file).</summary>
    public Dictionary<string, string> Environment { get; init; } = new(StringComparer.Ordinal);
}

/// <summary>One service.</summary>
public sealed class Service
{
    /// <summary>The service's key.</summary>
    public required string Name { get; init; }
    /// <summary>The service's mapping as written (interpolated and merged, not normalised): the configuration hash
    /// follows docker-compose 1.29, which hashes that form (a string command stays a string).</summary>
    public YMap? Definition { get; init; }
    public string? Image { get; set; }
    public BuildConfig? Build { get; set; }
    public List<string>? Command { get; set; }
    public List<string>? Entrypoint { get; set; }
    /// <summary>Environment after env_file and environment; a null value means "unset in the container".</summary>
    public OrderedDictionary<string, string?> Environment { get; } = new(StringComparer.Ordinal);
    public List<PortConfig> Ports { get; } = [];
    public List<string> Expose { get; } = [];
    public List<MountConfig> Volumes { get; } = [];
    public List<string> Tmpfs { get; } = [];
    /// <summary>Networks by project key; an empty map with no network_mode means <c>default</c>.</summary>
    public OrderedDictionary<string, ServiceNetwork> Networks { get; } = new(StringComparer.Ordinal);
    public string? NetworkMode { get; set; }
    public OrderedDictionary<string, DependsOn> DependsOn { get; } = new(StringComparer.Ordinal);
    public HealthcheckConfig? Healthcheck { get; set; }
    public string? Restart { get; set; }
    public int? Replicas { get; set; }
    public SortedDictionary<string, string> Labels { get; } = new(StringComparer.Ordinal);
    public string? User { get; set; }
    public string? WorkingDir { get; set; }
    public List<string> Profiles { get; } = [];
    public string? ContainerName { get; set; }
    public string? Hostname { get; set; }
    public string? Domainname { get; set; }
    public bool? Tty { get; set; }
    public bool? StdinOpen { get; set; }
    public string? StopSignal { get; set; }
    /// <summary>stop_grace_period in nanoseconds.</summary>
    public long? StopGracePeriod { get; set; }
    public List<string> ExtraHosts { get; } = [];
    public List<string> Dns { get; } = [];
    public List<string> CapAdd { get; } = [];
    public List<string> CapDrop { get; } = [];
    public bool? Privileged { get; set; }
    public bool? ReadOnly { get; set; }
    public bool? Init { get; set; }
    public string? PullPolicy { get; set; }
    public string? Platform { get; set; }

    /// <summary>The number of containers <c>up</c> runs for this service without <c>--scale</c>.</summary>
    public int Scale => Replicas ?? 1;
}

/// <summary>build: context, dockerfile, args, target, labels.</summary>
public sealed class BuildConfig
{
    public required string Context { get; set; }
    public string? Dockerfile { get; set; }
    public OrderedDictionary<string, string?> Args { get; } = new(StringComparer.Ordinal);
    public string? Target { get; set; }
    public SortedDictionary<string, string> Labels { get; } = new(StringComparer.Ordinal);
    public bool? NoCache { get; set; }
    public bool? Pull { get; set; }
}

/// <summary>A published port in the long syntax.</summary>
public sealed class PortConfig
{
    public int Target { get; set; }
    /// <summary>The host port or range ("8080", "8000-8001"); null publishes on a random port.</summary>
    public string? Published { get; set; }
    public string? HostIp { get; set; }
    public string Protocol { get; set; } = "tcp";
    public string Mode { get; set; } = "ingress";
}

/// <summary>A volume, bind or tmpfs mount in the long syntax.</summary>
public sealed class MountConfig
{
    /// <summary>volume, bind or tmpfs.</summary>
    public required string Type { get; set; }
    /// <summary>A volume key of the project, an absolute host path for binds, null for anonymous volumes and tmpfs.</summary>
    public string? Source { get; set; }
    public required string Target { get; set; }
    public bool ReadOnly { get; set; }
    public bool? NoCopy { get; set; }
    public bool? CreateHostPath { get; set; }
    public long? TmpfsSize { get; set; }
}

/// <summary>A service's attachment to a network.</summary>
public sealed class ServiceNetwork
{
    public List<string> Aliases { get; } = [];
}

/// <summary>depends_on entry.</summary>
public sealed class DependsOn
{
    /// <summary>service_started, service_healthy or service_completed_successfully.</summary>
    public string Condition { get; set; } = "service_started";
    public bool Required { get; set; } = true;
    public bool Restart { get; set; }
}

/// <summary>healthcheck; durations in nanoseconds.</summary>
public sealed class HealthcheckConfig
{
    public List<string>? Test { get; set; }
    public long? Interval { get; set; }
    public long? Timeout { get; set; }
    public long? StartPeriod { get; set; }
    public long? StartInterval { get; set; }
    public int? Retries { get; set; }
    public bool Disable { get; set; }
}

/// <summary>What top-level networks and volumes both have.</summary>
public abstract class TopLevelConfig
{
    /// <summary>The name on the daemon (<c>project_key</c> unless set or external).</summary>
    public required string Name { get; set; }
    public string? Driver { get; set; }
    public OrderedDictionary<string, string> DriverOpts { get; } = new(StringComparer.Ordinal);
    public bool External { get; set; }
    public SortedDictionary<string, string> Labels { get; } = new(StringComparer.Ordinal);
}

/// <summary>A top-level network.</summary>
public sealed class NetworkConfig : TopLevelConfig
{
    public bool? Internal { get; set; }
    public bool? Attachable { get; set; }
    public bool? EnableIpv6 { get; set; }
    public List<(string? Subnet, string? Gateway)> IpamConfig { get; } = [];
}

/// <summary>A top-level named volume.</summary>
public sealed class VolumeConfig : TopLevelConfig;
