using System.Text.Json.Serialization;

namespace Skiff.Snapshots;

/// <summary>A committed read-only layer: <c>layers/&lt;chain-hex&gt;/diff</c> plus its <c>meta.json</c>.</summary>
public sealed class LayerInfo
{
    /// <summary><c>sha256:&lt;hex&gt;</c> chain ID (identifies the layer together with all layers below it).</summary>
    public string ChainId { get; set; } = "";
    /// <summary>Chain ID of the layer below, or null for a base layer.</summary>
    public string? Parent { get; set; }
    /// <summary><c>sha256:&lt;hex&gt;</c> of the uncompressed layer tar.</summary>
    public string DiffId { get; set; } = "";
    /// <summary>Bytes of file data in the layer (what <c>docker images</c> sums into SIZE).</summary>
    public long Size { get; set; }
    /// <summary>Name of the short link <c>l/&lt;ShortId&gt;</c> to the diff dir.</summary>
    public string ShortId { get; set; } = "";
    public DateTimeOffset Created { get; set; }

    /// <summary>Absolute path of the extracted layer contents (read-only by contract).</summary>
    [JsonIgnore]
    public string DiffPath { get; set; } = "";
}

/// <summary>A container's writable layer and the overlay options that mount it over its image.</summary>
public sealed record WritableSnapshot(string UpperDir, string WorkDir, string MountOptions);

/// <summary>A snapshot operation that cannot be done (unknown layer, too many layers for one mount, invalid ID).</summary>
public sealed class SnapshotException(string message) : Exception(message);

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(LayerInfo))]
internal sealed partial class SnapshotJsonContext : JsonSerializerContext;
