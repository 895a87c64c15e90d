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

    private readonly string _mountsDir;

    public BuildCache(string dataRoot)
    {
        _dir = Path.Combine(dataRoot, "builder", "cache");
        _mountsDir = Path.Combine(dataRoot, "builder", "cache-mounts");
        Directory.CreateDirectory(_dir);
    }

    /// <summary>
    /// The directory of <c>RUN --mount=type=cache,id=...</c>: <c>builder/cache-mounts/&lt;sha256(key)&gt;/data</c>, kept between
    /// builds until <see cref="PruneCacheMounts"/>. A new one is filled by <paramref name="seed"/> (a cache with <c>from=</c>)
    /// or created empty, then given <paramref name="mode"/> (always without a seed, else when <paramref name="setMode"/>) and
    /// the owner (likewise with <paramref name="setOwner"/>). The key is the id, plus the base for a cache with <c>from=</c>.
    /// </summary>
    public string CacheMountDir(string key, int mode, int uid, int gid, Action<string>? seed = null, bool setMode = false, bool setOwner = false)
    {
        string root = Path.Combine(_mountsDir, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key))));
        string data = Path.Combine(root, "data");
        if (Directory.Exists(data)) return data;
        string tmp = root + ".tmp-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        string tmpData = Path.Combine(tmp, "data");
        try
        {
            Directory.CreateDirectory(tmpData);
            seed?.Invoke(tmpData);
            if (seed is null || setMode) File.SetUnixFileMode(tmpData, (UnixFileMode)mode);
            if (seed is null || setOwner)
                Skiff.Linux.LinuxException.ThrowIfError(Skiff.Linux.Libc.fchownat(Skiff.Linux.Libc.AT_FDCWD, tmpData, (uint)uid, (uint)gid, 0), "fchownat", tmp);
            File.WriteAllText(Path.Combine(tmp, "id"), key);
            Directory.Move(tmp, root);
        }
        catch (IOException) when (Directory.Exists(data))
        {
            Directory.Delete(tmp, recursive: true);
        }
        catch
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
            throw;
        }
        return data;
    }

    /// <summary>Every cache mount: its id, directory and the time it was created.</summary>
    public IReadOnlyList<(string Id, string Dir, DateTime Created)> CacheMounts()
    {
        var result = new List<(string, string, DateTime)>();
        if (!Directory.Exists(_mountsDir)) return result;
        foreach (var d in Directory.EnumerateDirectories(_mountsDir))
        {
            if (Path.GetFileName(d).Contains('.')) continue;
            try { result.Add((File.ReadAllText(Path.Combine(d, "id")), Path.Combine(d, "data"), Directory.GetCreationTimeUtc(d))); }
            catch (IOException) { }
        }
        return result;
    }

    /// <summary>Deletes every cache mount directory; returns their ids.</summary>
    public IReadOnlyList<string> PruneCacheMounts()
    {
        var ids = CacheMounts().Select(m => m.Id).ToList();
        if (Directory.Exists(_mountsDir))
        {
            string trash = _mountsDir + ".trash-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
            Directory.Move(_mountsDir, trash);
            Directory.Delete(trash, recursive: true);
        }
        return ids;
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
