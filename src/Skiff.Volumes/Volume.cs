using System.Text.Json.Serialization;

namespace Skiff.Volumes;

/// <summary>A volume's persisted metadata (<c>volumes/&lt;name&gt;/volume.json</c>).</summary>
public sealed class VolumeRecord
{
    public string Name { get; set; } = "";
    public string Driver { get; set; } = LocalDriver.Name;
    public DateTimeOffset CreatedAt { get; set; }
    public Dictionary<string, string> Labels { get; set; } = [];
    /// <summary>The local driver's options: <c>type</c>, <c>device</c>, <c>o</c>.</summary>
    public Dictionary<string, string> Options { get; set; } = [];
}

/// <summary>A volume as callers see it: its record plus where its data lives.</summary>
public sealed class Volume
{
    /// <summary>The label Docker (23+) puts on volumes created without a name; prune removes only those by default.</summary>
    public const string AnonymousLabel = "com.docker.volume.anonymous";

    internal Volume(VolumeRecord record, string directory)
    {
        Record = record;
        Directory = directory;
    }

    public VolumeRecord Record { get; }
    public string Name => Record.Name;
    public string Driver => Record.Driver;
    public DateTimeOffset CreatedAt => Record.CreatedAt;
    public IReadOnlyDictionary<string, string> Labels => Record.Labels;
    public IReadOnlyDictionary<string, string> Options => Record.Options;
    public bool Anonymous => Record.Labels.ContainsKey(AnonymousLabel);

    /// <summary><c>volumes/&lt;name&gt;</c>.</summary>
    public string Directory { get; }

    /// <summary><c>volumes/&lt;name&gt;/_data</c>: what containers mount (and where a device volume is mounted).</summary>
    public string Mountpoint => Path.Combine(Directory, "_data");
}

[JsonSerializable(typeof(VolumeRecord))]
[JsonSourceGenerationOptions(WriteIndented = false)]
internal sealed partial class VolumeJson : JsonSerializerContext;
