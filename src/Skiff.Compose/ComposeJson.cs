using System.Text.Json.Serialization;

namespace Skiff.Compose;

/// <summary>Body of POST /networks/create with the fields compose sets.</summary>
public sealed class NetworkCreateBody
{
    public string Name { get; set; } = "";
    public bool? CheckDuplicate { get; set; }
    public string? Driver { get; set; }
    public bool? Internal { get; set; }
    public bool? Attachable { get; set; }
    public bool? EnableIPv6 { get; set; }
    public Dictionary<string, string>? Options { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    public IpamBody? IPAM { get; set; }
}

/// <summary>IPAM of a network create request.</summary>
public sealed class IpamBody
{
    public string? Driver { get; set; }
    public List<IpamPoolBody>? Config { get; set; }
}

/// <summary>One IPAM pool.</summary>
public sealed class IpamPoolBody
{
    public string? Subnet { get; set; }
    public string? Gateway { get; set; }
}

/// <summary>Body of POST /networks/{id}/connect with aliases.</summary>
public sealed class NetworkConnectBody
{
    public string Container { get; set; } = "";
    public EndpointBody? EndpointConfig { get; set; }
}

/// <summary>EndpointConfig of a connect request.</summary>
public sealed class EndpointBody
{
    public List<string>? Aliases { get; set; }
}

/// <summary>Source-generated JSON metadata for the shapes compose adds to Skiff.Client's.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(NetworkCreateBody))]
[JsonSerializable(typeof(NetworkConnectBody))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(Dictionary<string, List<string>>))]
public sealed partial class ComposeJson : JsonSerializerContext;

/// <summary>The labels Docker Compose puts on containers, networks and volumes; Skiff sets the same ones.</summary>
public static class Labels
{
    public const string Project = "com.docker.compose.project";
    public const string Service = "com.docker.compose.service";
    public const string ContainerNumber = "com.docker.compose.container-number";
    public const string OneOff = "com.docker.compose.oneoff";
    public const string ConfigHash = "com.docker.compose.config-hash";
    public const string WorkingDir = "com.docker.compose.project.working_dir";
    public const string ConfigFiles = "com.docker.compose.project.config_files";
    public const string Network = "com.docker.compose.network";
    public const string Volume = "com.docker.compose.volume";
    public const string Version = "com.docker.compose.version";
    public const string Image = "com.docker.compose.image";

    /// <summary>
    /// The value of <see cref="Version"/>: the Docker Compose release whose behaviour (names,
    /// labels, output) Skiff's compose follows.
    /// </summary>
    public const string ComposeVersion = "2.29.0";
}
