using System.Text.Json;
using System.Text.Json.Serialization;

namespace Skiff.Images;

/// <summary>
/// The image configuration JSON (OCI image config / Docker image JSON). The image ID is the sha256 of the
/// exact bytes stored in the content store, so configs that were loaded are never re-serialised; unknown
/// fields survive a commit through <see cref="Extra"/>.
/// </summary>
public sealed class ImageConfig
{
    [JsonPropertyName("architecture")] public string Architecture { get; set; } = "";
    [JsonPropertyName("os")] public string Os { get; set; } = "linux";
    [JsonPropertyName("variant")] public string? Variant { get; set; }
    [JsonPropertyName("created")] public DateTime? Created { get; set; }
    [JsonPropertyName("author")] public string? Author { get; set; }
    [JsonPropertyName("comment")] public string? Comment { get; set; }
    [JsonPropertyName("config")] public ContainerConfig? Config { get; set; }
    [JsonPropertyName("rootfs")] public RootFs RootFs { get; set; } = new();
    [JsonPropertyName("history")] public List<HistoryEntry>? History { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }
}

/// <summary>The <c>config</c> object: defaults for containers created from the image (Docker's field names).</summary>
public sealed class ContainerConfig
{
    public string? Hostname { get; set; }
    public string? Domainname { get; set; }
    public string? User { get; set; }
    public Dictionary<string, EmptyObject>? ExposedPorts { get; set; }
    public List<string>? Env { get; set; }
    public List<string>? Cmd { get; set; }
    public HealthConfig? Healthcheck { get; set; }
    public bool? ArgsEscaped { get; set; }
    public string? Image { get; set; }
    public Dictionary<string, EmptyObject>? Volumes { get; set; }
    public string? WorkingDir { get; set; }
    public List<string>? Entrypoint { get; set; }
    public List<string>? OnBuild { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    public string? StopSignal { get; set; }
    public List<string>? Shell { get; set; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }

    /// <summary>A deep copy (through JSON, which is what the config is).</summary>
    public ContainerConfig Clone() =>
        JsonSerializer.Deserialize(JsonSerializer.SerializeToUtf8Bytes(this, ImageJsonContext.Default.ContainerConfig), ImageJsonContext.Default.ContainerConfig)!;
}

/// <summary>Docker's HEALTHCHECK settings; durations are in nanoseconds.</summary>
public sealed class HealthConfig
{
    public List<string>? Test { get; set; }
    public long? Interval { get; set; }
    public long? Timeout { get; set; }
    public long? StartPeriod { get; set; }
    public long? StartInterval { get; set; }
    public int? Retries { get; set; }
}

/// <summary>The <c>{}</c> values of <c>ExposedPorts</c> and <c>Volumes</c>.</summary>
public sealed class EmptyObject;

public sealed class RootFs
{
    [JsonPropertyName("type")] public string Type { get; set; } = "layers";
    [JsonPropertyName("diff_ids")] public List<string> DiffIds { get; set; } = [];
}

public sealed class HistoryEntry
{
    [JsonPropertyName("created")] public DateTime? Created { get; set; }
    [JsonPropertyName("created_by")] public string? CreatedBy { get; set; }
    [JsonPropertyName("author")] public string? Author { get; set; }
    [JsonPropertyName("comment")] public string? Comment { get; set; }
    [JsonPropertyName("empty_layer")] public bool? EmptyLayer { get; set; }
}

/// <summary>Persistent record of one image, <c>images/&lt;id-hex&gt;.json</c>; the config itself is a content blob.</summary>
internal sealed class ImageRecord
{
    public string Id { get; set; } = "";
    public string? Parent { get; set; }
    public DateTime Added { get; set; }
}

/// <summary><c>images/repositories.json</c>: repository (full name) -> reference (full) -> image ID.</summary>
internal sealed class RepositoriesFile
{
    public Dictionary<string, Dictionary<string, string>> Repositories { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>One element of a docker-archive <c>manifest.json</c>.</summary>
internal sealed class ArchiveManifestEntry
{
    public string Config { get; set; } = "";
    public List<string>? RepoTags { get; set; }
    public List<string> Layers { get; set; } = [];
}

/// <summary>Source-generated JSON metadata for the image config types (NativeAOT: no reflection).</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ImageConfig))]
[JsonSerializable(typeof(ContainerConfig))]
[JsonSerializable(typeof(List<string>))]
public sealed partial class ImageJsonContext : JsonSerializerContext;

/// <summary>The parts of an OCI layout's <c>index.json</c> (or a nested index) that <c>docker load</c> reads.</summary>
internal sealed class OciIndexDoc
{
    [JsonPropertyName("manifests")] public List<OciDescriptorDoc> Manifests { get; set; } = [];
}

/// <summary>What <see cref="ImageStore.Save"/> writes as an OCI layout's <c>index.json</c>.</summary>
internal sealed class OciIndexOut
{
    [JsonPropertyName("schemaVersion")] public int SchemaVersion { get; set; } = 2;
    [JsonPropertyName("mediaType")] public string MediaType { get; set; } = "application/vnd.oci.image.index.v1+json";
    [JsonPropertyName("manifests")] public List<OciDescriptorDoc> Manifests { get; set; } = [];
}

internal sealed class OciManifestOut
{
    [JsonPropertyName("schemaVersion")] public int SchemaVersion { get; set; } = 2;
    [JsonPropertyName("mediaType")] public string MediaType { get; set; } = "application/vnd.oci.image.manifest.v1+json";
    [JsonPropertyName("config")] public OciDescriptorDoc Config { get; set; } = new();
    [JsonPropertyName("layers")] public List<OciDescriptorDoc> Layers { get; set; } = [];
}

internal sealed class OciManifestDoc
{
    [JsonPropertyName("config")] public OciDescriptorDoc Config { get; set; } = new();
    [JsonPropertyName("layers")] public List<OciDescriptorDoc> Layers { get; set; } = [];
}

internal sealed class OciDescriptorDoc
{
    [JsonPropertyName("mediaType")] public string? MediaType { get; set; }
    [JsonPropertyName("digest")] public string Digest { get; set; } = "";
    [JsonPropertyName("size")] public long Size { get; set; }
    [JsonPropertyName("annotations")] public Dictionary<string, string>? Annotations { get; set; }
    [JsonPropertyName("platform")] public OciPlatformDoc? Platform { get; set; }
}

internal sealed class OciPlatformDoc
{
    [JsonPropertyName("os")] public string Os { get; set; } = "";
    [JsonPropertyName("architecture")] public string Architecture { get; set; } = "";
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = true)]
[JsonSerializable(typeof(OciIndexDoc))]
[JsonSerializable(typeof(OciManifestDoc))]
[JsonSerializable(typeof(OciIndexOut))]
[JsonSerializable(typeof(OciManifestOut))]
[JsonSerializable(typeof(ImageRecord))]
[JsonSerializable(typeof(RepositoriesFile))]
[JsonSerializable(typeof(List<ArchiveManifestEntry>))]
[JsonSerializable(typeof(Dictionary<string, Dictionary<string, string>>))]
internal sealed partial class StoreJsonContext : JsonSerializerContext;
