using System.Globalization;
using System.Text;

namespace Skiff.Build.Dockerfile;

/// <summary>
/// One <c>RUN --mount=...</c> (BuildKit's syntax): a comma-separated list of <c>key=value</c> (or bare boolean keys).
/// <list type="bullet">
/// <item><c>type=bind</c> (default): <c>source</c> (a path in the context, or in <c>from</c>: a stage or image), <c>target</c>, <c>rw</c>
/// (writes are thrown away after the step).</item>
/// <item><c>type=cache</c>: a directory kept between builds, keyed by <c>id</c> (default: the target), <c>sharing</c>
/// shared|private|locked, <c>readonly</c>, <c>mode</c>/<c>uid</c>/<c>gid</c> of a new cache directory.</item>
/// <item><c>type=tmpfs</c>: <c>target</c>, <c>size</c> in bytes.</item>
/// <item><c>type=secret</c>: <c>id</c> (default: the target's base name), <c>target</c> (default <c>/run/secrets/&lt;id&gt;</c>),
/// <c>required</c>, <c>mode</c> (default 0400), <c>uid</c>, <c>gid</c>.</item>
/// <item><c>type=ssh</c>: the client's SSH agent socket <c>id</c> (default "default") at <c>target</c> (default
/// <c>/run/buildkit/ssh_agent.&lt;n&gt;</c>, n counting the step's ssh mounts), <c>required</c>, <c>mode</c> (default 0600),
/// <c>uid</c>, <c>gid</c>.</item>
/// </list>
/// A cache mount with <c>from</c> (a stage or image) starts out as a copy of that tree's <c>source</c> subpath (default: its root).
/// Values stay unexpanded here; the builder expands build arguments in them.
/// </summary>
public sealed class RunMount
{
    public string Type { get; private set; } = "bind";
    public string Target { get; private set; } = "";
    public string Source { get; private set; } = "";
    public string From { get; private set; } = "";
    public bool ReadWrite { get; private set; }
    public string Id { get; private set; } = "";
    public string Sharing { get; private set; } = "shared";
    public int? Mode { get; private set; }
    public int? Uid { get; private set; }
    public int? Gid { get; private set; }
    public bool Required { get; private set; }
    public long? Size { get; private set; }

    /// <summary>Parses one <c>--mount</c> value; the message of the exception says what is wrong (no line number).</summary>
    /// <exception cref="DockerfileException">Unknown key or type, a bad value, or a missing target.</exception>
    public static RunMount Parse(string value)
    {
        var m = new RunMount();
        bool? readOnly = null;
        var seen = new List<(string Key, string? Value, string Field)>();
        foreach (var field in value.Split(','))
        {
            if (field.Length == 0) continue;
            int eq = field.IndexOf('=');
            string key = (eq < 0 ? field : field[..eq]).Trim().ToLowerInvariant();
            string? v = eq < 0 ? null : field[(eq + 1)..];
            seen.Add((key, v, field));
            if (key == "type")
            {
                m.Type = (v ?? "").ToLowerInvariant();
                if (m.Type is not ("bind" or "cache" or "tmpfs" or "secret" or "ssh")) throw new DockerfileException($"unsupported mount type \"{v}\"");
            }
        }
        foreach (var (key, v, field) in seen)
        {
            switch (key)
            {
                case "type":
                    break;
                case "target" or "dst" or "destination":
                    m.Target = Need(key, v);
                    break;
                case "source" or "src":
                    if (m.Type is "tmpfs" or "secret" or "ssh") throw Unexpected(field);
                    m.Source = Need(key, v);
                    break;
                case "from":
                    if (m.Type is not ("bind" or "cache")) throw Unexpected(field);
                    m.From = Need(key, v);
                    break;
                case "rw" or "readwrite":
                    if (m.Type is not ("bind" or "cache")) throw Unexpected(field);
                    readOnly = !Bool(key, v);
                    break;
                case "ro" or "readonly":
                    if (m.Type is not ("bind" or "cache")) throw Unexpected(field);
                    readOnly = Bool(key, v);
                    break;
                case "id":
                    if (m.Type is not ("cache" or "secret" or "ssh")) throw Unexpected(field);
                    m.Id = Need(key, v);
                    break;
                case "sharing":
                    if (m.Type != "cache") throw Unexpected(field);
                    m.Sharing = Need(key, v).ToLowerInvariant();
                    if (m.Sharing is not ("shared" or "private" or "locked")) throw new DockerfileException($"unsupported sharing value \"{v}\"");
                    break;
                case "mode":
                    if (m.Type is not ("cache" or "secret" or "ssh")) throw Unexpected(field);
                    try { m.Mode = Convert.ToInt32(Need(key, v), 8); }
                    catch (Exception e) when (e is FormatException or OverflowException or ArgumentException) { throw new DockerfileException($"invalid mode \"{v}\""); }
                    if (m.Mode is < 0 or > 0xFFF) throw new DockerfileException($"invalid mode \"{v}\"");
                    break;
                case "uid" or "gid":
                    if (m.Type is not ("cache" or "secret" or "ssh")) throw Unexpected(field);
                    if (!int.TryParse(Need(key, v), NumberStyles.None, CultureInfo.InvariantCulture, out int id)) throw new DockerfileException($"invalid {key} \"{v}\"");
                    if (key == "uid") m.Uid = id; else m.Gid = id;
                    break;
                case "required":
                    if (m.Type is not ("secret" or "ssh")) throw Unexpected(field);
                    m.Required = Bool(key, v);
                    break;
                case "size":
                    if (m.Type != "tmpfs") throw Unexpected(field);
                    if (!long.TryParse(Need(key, v), NumberStyles.None, CultureInfo.InvariantCulture, out long size)) throw new DockerfileException($"invalid size \"{v}\"");
                    m.Size = size;
                    break;
                default:
                    throw Unexpected(field);
            }
        }
        if (m.Type == "secret")
        {
            if (m.Id.Length == 0 && m.Target.Length == 0) throw new DockerfileException("secret mount needs an id or a target");
            if (m.Id.Length == 0) m.Id = m.Target.TrimEnd('/')[(m.Target.TrimEnd('/').LastIndexOf('/') + 1)..];
            if (m.Target.Length == 0) m.Target = "/run/secrets/" + m.Id;
        }
        if (m.Type == "ssh" && m.Id.Length == 0) m.Id = "default";
        if (m.Target.Length == 0 && m.Type != "ssh") throw new DockerfileException($"mount type \"{m.Type}\" needs a target");
        m.ReadWrite = m.Type switch
        {
            "bind" => readOnly == false,
            "cache" => readOnly != true,
            _ => m.Type == "tmpfs",
        };
        if (m.Type == "cache" && m.Id.Length == 0) m.Id = m.Target;
        return m;
    }

    private static string Need(string key, string? v) =>
        string.IsNullOrEmpty(v) ? throw new DockerfileException($"mount option \"{key}\" needs a value") : v;

    private static bool Bool(string key, string? v) => v is null ? true : v.ToLowerInvariant() switch
    {
        "true" or "1" => true,
        "false" or "0" => false,
        _ => throw new DockerfileException($"invalid value for {key}: \"{v}\""),
    };

    private static DockerfileException Unexpected(string field) => new($"unexpected key '{field.Split('=')[0]}' in '{field}'");

    /// <summary>A copy with another target (the default target of an ssh mount, which depends on its position).</summary>
    public RunMount WithTarget(string target)
    {
        var copy = (RunMount)MemberwiseClone();
        copy.Target = target;
        return copy;
    }

    /// <summary>A copy whose target, source, from and id went through <paramref name="expand"/> (build-argument expansion).</summary>
    public RunMount Expanded(Func<string, string> expand)
    {
        var copy = (RunMount)MemberwiseClone();
        copy.Target = expand(Target);
        copy.Source = expand(Source);
        copy.From = expand(From);
        copy.Id = expand(Id);
        return copy;
    }

    /// <summary>The mount with every option spelled out in a fixed order: golden files and build cache keys.</summary>
    public string Canonical()
    {
        var sb = new StringBuilder("type=").Append(Type);
        if (Id.Length > 0) sb.Append(",id=").Append(Id);
        if (From.Length > 0) sb.Append(",from=").Append(From);
        if (Source.Length > 0) sb.Append(",source=").Append(Source);
        if (Target.Length > 0 || Type != "ssh") sb.Append(",target=").Append(Target);
        if (Type is "bind" or "cache") sb.Append(ReadWrite ? ",rw" : ",ro");
        if (Type == "cache") sb.Append(",sharing=").Append(Sharing);
        if (Mode is { } mode) sb.Append(",mode=0").Append(Convert.ToString(mode, 8));
        if (Uid is { } uid) sb.Append(",uid=").Append(uid.ToString(CultureInfo.InvariantCulture));
        if (Gid is { } gid) sb.Append(",gid=").Append(gid.ToString(CultureInfo.InvariantCulture));
        if (Required) sb.Append(",required");
        if (Size is { } size) sb.Append(",size=").Append(size.ToString(CultureInfo.InvariantCulture));
        return sb.ToString();
    }
}
