using System.Text.Json;

namespace Skiff.Daemon.Host;

/// <summary>
/// skiffd's configuration file (dockerd's <c>daemon.json</c>; default <c>/etc/skiff/daemon.json</c>, read only when it
/// exists unless <c>--config-file</c> names it). Keys are the long flag names dockerd uses in daemon.json; as in dockerd a
/// key also given as a flag, an unknown key and a value of the wrong type are errors (the daemon does not start).
/// </summary>
public static class DaemonConfigFile
{
    public const string DefaultPath = "/etc/skiff/daemon.json";

    /// <summary>The daemon.json keys skiffd understands, each with the flag it stands for.</summary>
    public static readonly IReadOnlyDictionary<string, string> Keys = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["hosts"] = "--host",
        ["data-root"] = "--data-root",
        ["exec-root"] = "--exec-root",
        ["pidfile"] = "--pidfile",
        ["debug"] = "--debug",
        ["bridge"] = "--bridge",
        ["bip"] = "--bip",
        ["iptables"] = "--iptables",
        ["userland-proxy"] = "--userland-proxy",
        ["userns-remap"] = "--userns-remap",
        ["insecure-registries"] = "--insecure-registry",
    };

    /// <summary>
    /// Reads the file: every key with its value. Returns an empty map when <paramref name="path"/> is the default and
    /// missing. <paramref name="flagsSet"/> are the daemon.json keys whose flags were given on the command line.
    /// </summary>
    /// <exception cref="ArgumentException">dockerd's messages for a missing explicit file, invalid JSON, unknown keys and conflicts.</exception>
    public static Dictionary<string, JsonElement> Read(string path, bool explicitPath, IReadOnlyDictionary<string, string> flagsSet)
    {
        var result = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        if (!File.Exists(path))
        {
            if (explicitPath) throw new ArgumentException($"unable to configure the daemon with file {path}: open {path}: no such file or directory");
            return result;
        }
        string prefix = $"unable to configure the daemon with file {path}: ";
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException e)
        {
            throw new ArgumentException(prefix + e.Message);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ArgumentException(prefix + "the configuration is not a JSON object");
            var unknown = new List<string>();
            var conflicts = new List<string>();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (!Keys.ContainsKey(p.Name)) { unknown.Add(p.Name); continue; }
                if (flagsSet.TryGetValue(p.Name, out var fromFlag)) conflicts.Add($"{p.Name}: (from flag: {fromFlag}, from file: {Display(p.Value)})");
                result[p.Name] = p.Value.Clone();
            }
            if (unknown.Count > 0) throw new ArgumentException(prefix + "the following directives don't match any configuration option: " + string.Join(", ", unknown));
            if (conflicts.Count > 0) throw new ArgumentException(prefix + "the following directives are specified both as a flag and in the configuration file: " + string.Join(", ", conflicts));
        }
        return result;
    }

    private static string Display(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Array => "[" + string.Join(" ", e.EnumerateArray().Select(Display)) + "]",
        JsonValueKind.String => e.GetString()!,
        _ => e.GetRawText(),
    };

    /// <summary>A string value; <paramref name="key"/> names it in the error.</summary>
    public static string String(JsonElement e, string key) =>
        e.ValueKind == JsonValueKind.String ? e.GetString()! : throw new ArgumentException($"invalid value for \"{key}\" in the configuration file: want a string");

    public static bool Bool(JsonElement e, string key) => e.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new ArgumentException($"invalid value for \"{key}\" in the configuration file: want true or false"),
    };

    public static List<string> Strings(JsonElement e, string key)
    {
        if (e.ValueKind != JsonValueKind.Array) throw new ArgumentException($"invalid value for \"{key}\" in the configuration file: want an array of strings");
        return e.EnumerateArray().Select(x => String(x, key)).ToList();
    }
}
