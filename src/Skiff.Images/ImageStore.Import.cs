using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Skiff.Archive;
using Skiff.Content;
using Skiff.Snapshots;

namespace Skiff.Images;

public sealed partial class ImageStore
{
    /// <summary>
    /// <c>docker import</c>: creates a one-layer image from a root filesystem tar (plain, gzip or zstd, detected by magic),
    /// read once as a stream. The layer is extracted safely (see <see cref="LayerExtractor"/>) while its uncompressed bytes
    /// are hashed into the diff ID and stored as a blob.
    /// </summary>
    /// <exception cref="InvalidImageArgumentException">Bad reference, bad change, malformed or malicious archive.</exception>
    public Image Import(Stream source, ImportOptions options)
    {
        var reference = options.Reference is null ? null : ParseTagTarget(options.Reference);
        var config = new ContainerConfig();
        ConfigChanges.Apply(config, options.Changes);
        using var op = BeginOperation();
        var layer = ImportLayer(source, parentChain: null, expectedDiffId: null);
        var now = DateTime.UtcNow;
        string comment = options.Message is { Length: > 0 } m ? m : "Imported from " + options.Source;
        var image = new ImageConfig
        {
            Architecture = options.Architecture ?? HostArchitecture(),
            Os = options.Os ?? "linux",
            Created = now,
            Comment = comment,
            Config = config,
            RootFs = new RootFs { DiffIds = [layer.DiffId] },
            History = [new HistoryEntry { Created = now, Comment = comment }],
        };
        return Register(JsonSerializer.SerializeToUtf8Bytes(image, ImageJsonContext.Default.ImageConfig), parent: null, reference);
    }
}
