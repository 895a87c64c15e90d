using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Skiff.Build;

/// <summary>What the cache remembers about the last build of one step on one parent: enough to say why a step missed.</summary>
public sealed class StepRecord
{
    public string Key { get; set; } = "";
    public string ImageId { get; set; } = "";
    /// <summary>Hash of the build arguments the step saw.</summary>
    public string Args { get; set; } = "";
    /// <summary>Destination path -> content digest of the files a COPY/ADD took (capped; see <see cref="Builder"/>).</summary>
    public Dictionary<string, string>? Files { get; set; }
    public DateTime Created { get; set; }
}

/// <summary>
/// The build cache: <c>&lt;data-root&gt;/builder/cache/&lt;step-hex&gt;.json</c>, one record per (parent image, instruction) with the
/// content key of its last build and the image it produced. A step hits when the record's key equals the key computed now
/// (parent image ID + instruction text after expansion + build arguments in effect + content digests of copied files:
/// path, mode, owner and bytes, never mtimes) and the image still exists. Records are small JSON files written atomically;
/// <see cref="Prune"/> deletes them all.
/// </summary>
public sealed class BuildCache
{
    private readonly string _dir;

    public BuildCache(string dataRoot)
    {
        _dir = Path.Combine(dataRoot, "builder", "cache");
        Directory.CreateDirectory(_dir);
    }

    public static string StepId(string? parentImageId, string instruction) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes((parentImageId ?? "scratch") + "\n" + instruction)));

    public StepRecord? Get(string stepId)
    {
        string path = Path.Combine(_dir, stepId + ".json");
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), BuildJsonContext.Default.StepRecord);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or JsonException)
        {
            return null;
        }
    }

    public void Put(string stepId, StepRecord record)
    {
        string path = Path.Combine(_dir, stepId + ".json");
        string tmp = path + "." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)) + ".tmp";
        File.WriteAllBytes(tmp, JsonSerializer.SerializeToUtf8Bytes(record, BuildJsonContext.Default.StepRecord));
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Every record (for <c>system df</c> and prune).</summary>
    public IReadOnlyList<StepRecord> All()
    {
        var result = new List<StepRecord>();
        foreach (var f in Directory.EnumerateFiles(_dir, "*.json"))
        {
            var r = Get(Path.GetFileNameWithoutExtension(f));
            if (r is not null) result.Add(r);
        }
        return result;
    }

    /// <summary>Deletes every record; returns the image IDs they held.</summary>
    public IReadOnlyList<string> Prune()
    {
        var ids = new List<string>();
        foreach (var f in Directory.EnumerateFiles(_dir))
        {
            if (f.EndsWith(".json", StringComparison.Ordinal) && Get(Path.GetFileNameWithoutExtension(f)) is { } r) ids.Add(r.ImageId);
            File.Delete(f);
        }
        return ids;
    }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(StepRecord))]
internal sealed partial class BuildJsonContext : JsonSerializerContext;
