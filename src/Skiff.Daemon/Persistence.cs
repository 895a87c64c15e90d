using System.Text.Json;
using System.Text.Json.Serialization;

namespace Skiff.Daemon;

[JsonSerializable(typeof(ContainerRecord))]
[JsonSourceGenerationOptions(WriteIndented = false, UseStringEnumConverter = true)]
internal sealed partial class DaemonJson : JsonSerializerContext;

/// <summary>Crash-safe file writes: temp file, fsync, rename, so a reader sees the old or the new content, never half.</summary>
internal static class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> bytes)
    {
        var tmp = path + ".tmp";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1))
        {
            f.Write(bytes);
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    public static void WriteRecord(string path, ContainerRecord record) =>
        Write(path, JsonSerializer.SerializeToUtf8Bytes(record, DaemonJson.Default.ContainerRecord));

    public static ContainerRecord? ReadRecord(string path)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), DaemonJson.Default.ContainerRecord);
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }
}
