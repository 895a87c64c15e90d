using System.Text.Json;
using System.Text.Json.Serialization;

namespace Skiff.Shim;

/// <summary>
/// One request to a shim, sent as a single JSON line on <c>shim.sock</c>. Ops: <c>attach</c>,
/// <c>start</c>, <c>wait</c>, <c>kill</c>, <c>pause</c>, <c>resume</c>, <c>pids</c>, <c>state</c>, <c>resize</c>, <c>shutdown</c>
/// (see docs/architecture.md, "Shim contract").
/// </summary>
public sealed class ShimRequest
{
    [JsonPropertyName("op")] public string Op { get; set; } = "";
    [JsonPropertyName("signal")] public int Signal { get; set; }
    [JsonPropertyName("stdin")] public bool Stdin { get; set; }
    [JsonPropertyName("rows")] public int Rows { get; set; }
    [JsonPropertyName("cols")] public int Cols { get; set; }
    [JsonPropertyName("args")] public List<string>? Args { get; set; }
    [JsonPropertyName("env")] public List<string>? Env { get; set; }
    [JsonPropertyName("cwd")] public string? Cwd { get; set; }
    [JsonPropertyName("user")] public string? User { get; set; }
    [JsonPropertyName("tty")] public bool Tty { get; set; }
    [JsonPropertyName("privileged")] public bool Privileged { get; set; }
    /// <summary>For <c>resize</c>: the exec'd process whose terminal to resize (0: the container's).</summary>
    [JsonPropertyName("pid")] public int Pid { get; set; }
}

/// <summary>The single JSON line a shim answers with; <see cref="Error"/> is set when the op failed.</summary>
public sealed class ShimResponse
{
    [JsonPropertyName("error")] public string? Error { get; set; }
    [JsonPropertyName("pid")] public int Pid { get; set; }
    [JsonPropertyName("running")] public bool Running { get; set; }
    [JsonPropertyName("exited")] public bool Exited { get; set; }
    [JsonPropertyName("exitCode")] public int ExitCode { get; set; }
    [JsonPropertyName("oomKilled")] public bool OomKilled { get; set; }
    [JsonPropertyName("startedAt")] public DateTimeOffset StartedAt { get; set; }
    [JsonPropertyName("finishedAt")] public DateTimeOffset FinishedAt { get; set; }
    [JsonPropertyName("pids")] public List<int>? Pids { get; set; }
}

/// <summary>
/// What the shim writes atomically to <c>exit.json</c> in the bundle when the container's init
/// exits, so that a daemon that was down at that moment still learns how it ended.
/// </summary>
public sealed class ExitRecord
{
    [JsonPropertyName("exitCode")] public int ExitCode { get; set; }
    [JsonPropertyName("oomKilled")] public bool OomKilled { get; set; }
    [JsonPropertyName("finishedAt")] public DateTimeOffset FinishedAt { get; set; }
}

[JsonSerializable(typeof(ShimRequest))]
[JsonSerializable(typeof(ShimResponse))]
[JsonSerializable(typeof(ExitRecord))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault)]
internal sealed partial class ShimJson : JsonSerializerContext;

/// <summary>File names inside a container's bundle directory that the shim and the daemon share.</summary>
public static class ShimFiles
{
    public const string Socket = "shim.sock";
    public const string Exit = "exit.json";
    public const string Pid = "shim.pid";
    public const string Log = "shim.log";

    /// <summary>Reads <c>exit.json</c>, or null when the container has not exited (or the file is not there).</summary>
    public static ExitRecord? ReadExit(string bundle)
    {
        try
        {
            var bytes = File.ReadAllBytes(Path.Combine(bundle, Exit));
            return JsonSerializer.Deserialize(bytes, ShimJson.Default.ExitRecord);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or JsonException)
        {
            return null;
        }
    }

    internal static void WriteExit(string bundle, ExitRecord record)
    {
        var path = Path.Combine(bundle, Exit);
        var tmp = path + ".tmp";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            JsonSerializer.Serialize(f, record, ShimJson.Default.ExitRecord);
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
