using System.Text.Json;
using System.Text.Json.Serialization;
using Skiff.Content;

namespace Skiff.Distribution;

/// <summary>The media types of Docker's v2 schema 2 and OCI image manifests, indexes, configs and layers.</summary>
public static class MediaTypes
{
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    public const string DockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    public const string DockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    public const string OciLayer = "application/vnd.oci.image.layer.v1.tar";
    public const string OciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string OciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
    public const string DockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    public const string DockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";

    /// <summary>What a pull accepts, in the order of preference Docker sends them.</summary>
    public static readonly string[] Accept = [DockerManifestList, OciIndex, DockerManifest, OciManifest];

    public static bool IsIndex(string? t) => t is DockerManifestList or OciIndex;
    public static bool IsManifest(string? t) => t is DockerManifest or OciManifest;

    /// <summary>Layer media types a pull can apply (plain, gzip or zstd tars; the decompressor is chosen by magic bytes).</summary>
    public static bool IsLayer(string? t) => t is DockerLayerGzip or DockerForeignLayerGzip or OciLayer or OciLayerGzip or OciLayerZstd
        or "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" or "application/vnd.oci.image.layer.nondistributable.v1.tar";
}

/// <summary>An OCI content descriptor.</summary>
public sealed class Descriptor
{
    [JsonPropertyName("mediaType")] public string MediaType { get; set; } = "";
    [JsonPropertyName("digest")] public string Digest { get; set; } = "";
    [JsonPropertyName("size")] public long Size { get; set; }
    [JsonPropertyName("urls")] public List<string>? Urls { get; set; }
    [JsonPropertyName("annotations")] public Dictionary<string, string>? Annotations { get; set; }
    [JsonPropertyName("platform")] public Platform? Platform { get; set; }
}

public sealed class Platform
{
    [JsonPropertyName("architecture")] public string Architecture { get; set; } = "";
    [JsonPropertyName("os")] public string Os { get; set; } = "";
    [JsonPropertyName("variant")] public string? Variant { get; set; }
    [JsonPropertyName("os.version")] public string? OsVersion { get; set; }

    public override string ToString() => Os + "/" + Architecture + (Variant is null ? "" : "/" + Variant);
}

/// <summary>An image manifest (Docker v2 schema 2 or OCI): one config and the layers, bottom first.</summary>
public sealed class ImageManifest
{
    [JsonPropertyName("schemaVersion")] public int SchemaVersion { get; set; } = 2;
    [JsonPropertyName("mediaType")] public string? MediaType { get; set; }
    [JsonPropertyName("config")] public Descriptor Config { get; set; } = new();
    [JsonPropertyName("layers")] public List<Descriptor> Layers { get; set; } = [];
    [JsonPropertyName("annotations")] public Dictionary<string, string>? Annotations { get; set; }
}

/// <summary>A manifest list (Docker) or image index (OCI): one manifest per platform.</summary>
public sealed class ImageIndex
{
    [JsonPropertyName("schemaVersion")] public int SchemaVersion { get; set; } = 2;
    [JsonPropertyName("mediaType")] public string? MediaType { get; set; }
    [JsonPropertyName("manifests")] public List<Descriptor> Manifests { get; set; } = [];
}

/// <summary>Just enough of any manifest to tell its kind when the registry's Content-Type is missing or generic.</summary>
internal sealed class ManifestProbe
{
    [JsonPropertyName("schemaVersion")] public int SchemaVersion { get; set; }
    [JsonPropertyName("mediaType")] public string? MediaType { get; set; }
    [JsonPropertyName("manifests")] public JsonElement? Manifests { get; set; }
    [JsonPropertyName("config")] public JsonElement? Config { get; set; }
}

/// <summary>A manifest document as fetched: exactly one of <see cref="Index"/> and <see cref="Manifest"/> is set.</summary>
public sealed record ManifestDocument(string MediaType, byte[] Bytes, Digest Digest, ImageIndex? Index, ImageManifest? Manifest);

/// <summary>Parses manifests and indexes and chooses the platform's manifest from an index.</summary>
public static class ManifestParser
{
    /// <summary>
    /// Parses <paramref name="bytes"/> as an index or image manifest. The kind comes from the document's own
    /// <c>mediaType</c>, else the HTTP Content-Type, else its shape (a <c>manifests</c> array or a <c>config</c>).
    /// </summary>
    /// <exception cref="DistributionException">Schema 1 or unknown documents, or malformed JSON.</exception>
    public static ManifestDocument Parse(byte[] bytes, string? contentType)
    {
        try
        {
            var probe = JsonSerializer.Deserialize(bytes, DistributionJson.Default.ManifestProbe) ?? throw new DistributionException("empty manifest");
            string? type = probe.MediaType;
            string? header = contentType?.Split(';')[0].Trim();
            if (string.IsNullOrEmpty(type)) type = MediaTypes.IsIndex(header) || MediaTypes.IsManifest(header) ? header : null;
            if (type is MediaTypes.DockerSchema1 or MediaTypes.DockerSchema1Signed || header is MediaTypes.DockerSchema1 or MediaTypes.DockerSchema1Signed || probe.SchemaVersion == 1)
                throw new DistributionException("unsupported manifest format: Docker image manifest v2 schema 1 (push the image again with a current client)");
            if (string.IsNullOrEmpty(type))
                type = probe.Manifests is not null ? MediaTypes.OciIndex : probe.Config is not null ? MediaTypes.OciManifest : null;
            var digest = Digest.Compute(bytes);
            if (MediaTypes.IsIndex(type))
                return new(type!, bytes, digest, JsonSerializer.Deserialize(bytes, DistributionJson.Default.ImageIndex), null);
            if (MediaTypes.IsManifest(type))
            {
                var m = JsonSerializer.Deserialize(bytes, DistributionJson.Default.ImageManifest)!;
                if (!Content.Digest.TryParse(m.Config.Digest, out _)) throw new DistributionException($"manifest has an invalid config digest '{m.Config.Digest}'");
                foreach (var l in m.Layers)
                    if (!Content.Digest.TryParse(l.Digest, out _)) throw new DistributionException($"manifest has an invalid layer digest '{l.Digest}'");
                return new(type!, bytes, digest, null, m);
            }
            throw new DistributionException($"unsupported manifest media type '{type ?? header ?? "(none)"}'");
        }
        catch (JsonException ex)
        {
            throw new DistributionException("invalid manifest: " + ex.Message, ex);
        }
    }

    /// <summary>
    /// The index entry for <paramref name="os"/>/<paramref name="architecture"/>[/<paramref name="variant"/>], as containerd's
    /// platform matcher does: exact variant first, then an entry without variant (amd64 has none, arm64 defaults to v8).
    /// </summary>
    /// <exception cref="DistributionException">No manifest for the platform (Docker's message lists what there is).</exception>
    public static Descriptor SelectPlatform(ImageIndex index, string os, string architecture, string? variant)
    {
        var candidates = index.Manifests.Where(m => m.Platform is { } p && p.Os == os && p.Architecture == architecture
            && MediaTypes.IsManifest(m.MediaType is "" ? MediaTypes.OciManifest : m.MediaType)).ToList();
        var pick = candidates.FirstOrDefault(m => m.Platform!.Variant == variant)
            ?? candidates.FirstOrDefault(m => m.Platform!.Variant is null or "" || (architecture == "arm64" && m.Platform!.Variant == "v8"))
            ?? (variant is null ? candidates.FirstOrDefault() : null);
        if (pick is not null) return pick;
        var available = string.Join(", ", index.Manifests.Where(m => m.Platform is not null).Select(m => m.Platform!.ToString()).Distinct());
        throw new DistributionException($"no matching manifest for {os}/{architecture}{(variant is null ? "" : "/" + variant)} in the manifest list entries" + (available.Length > 0 ? $" (available: {available})" : ""))
        { Kind = DistributionErrorKind.NotFound };
    }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ManifestProbe))]
[JsonSerializable(typeof(ImageManifest))]
[JsonSerializable(typeof(ImageIndex))]
[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(RegistryErrors))]
[JsonSerializable(typeof(TagList))]
internal sealed partial class DistributionJson : JsonSerializerContext;
