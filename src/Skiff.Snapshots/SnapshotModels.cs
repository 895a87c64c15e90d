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
    /// <summary>
    /// When the uncompressed layer tar is not stored (pulled layers): the content blob (<c>sha256:&lt;hex&gt;</c>, gzip or
    /// zstd) whose decompression is exactly the tar with <see cref="DiffId"/>, as verified when the layer was pulled.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? CompressedBlob { get; set; }
    /// <summary>Length of the uncompressed layer tar in bytes (0: not recorded; the stored tar blob's size then).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long TarSize { get; set; }

    /// <summary>Absolute path of the extracted layer contents (read-only by contract).</summary>
    [JsonIgnore]
    public string DiffPath { get; set; } = "";
}

/// <summary>How a layer's tar is kept when it is not stored uncompressed: <see cref="LayerInfo.CompressedBlob"/> and <see cref="LayerInfo.TarSize"/>.</summary>
public sealed record LayerTar(string CompressedBlob, long Size);

/// <summary>A container's writable layer and the overlay options that mount it over its image.</summary>
public sealed record WritableSnapshot(string UpperDir, string WorkDir, string MountOptions);

/// <summary>A snapshot operation that cannot be done (unknown layer, too many layers for one mount, invalid ID).</summary>
public sealed class SnapshotException(string message) : Exception(message);

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(LayerInfo))]
internal sealed partial class SnapshotJsonContext : JsonSerializerContext;
