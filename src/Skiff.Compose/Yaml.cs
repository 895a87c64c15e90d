using System.Globalization;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Skiff.Compose;

/// <summary>
/// A YAML value as the loader works with it: a mapping (keys in document order), a sequence, or a
/// scalar kept as text. A YAML null (<c>~</c>, <c>null</c>, an empty value) is a C# null, so
/// "key present with no value" (<c>networks: {default: }</c>) stays distinct from "key absent".
/// </summary>
public abstract class YNode
{
    /// <summary>A deep copy, so merging never aliases the inputs (YAML anchors share nodes).</summary>
    public abstract YNode Clone();
}

/// <summary>A mapping with string keys in insertion order.</summary>
public sealed class YMap : YNode
{
    /// <summary>The entries, in order.</summary>
    public OrderedDictionary<string, YNode?> Items { get; } = new(StringComparer.Ordinal);

    /// <summary>The value of <paramref name="key"/>, or null when absent or null.</summary>
    public YNode? this[string key]
    {
        get => Items.TryGetValue(key, out var v) ? v : null;
        set => Items[key] = value;
    }

    /// <summary>True when the key is present (even with a null value).</summary>
    public bool Has(string key) => Items.ContainsKey(key);

    /// <inheritdoc/>
    public override YNode Clone()
    {
        var m = new YMap();
        foreach (var (k, v) in Items) m.Items[k] = v?.Clone();
        return m;
    }
}

/// <summary>A sequence.</summary>
public sealed class YSeq : YNode
{
    /// <summary>The items, in order.</summary>
    public List<YNode?> Items { get; } = [];

    /// <inheritdoc/>
    public override YNode Clone()
    {
        var s = new YSeq();
        foreach (var v in Items) s.Items.Add(v?.Clone());
        return s;
    }
}

/// <summary>
/// A scalar. <see cref="Quoted"/> is true for quoted and block scalars: those are always strings,
/// while a plain <c>8080</c> or <c>true</c> may be read as a number or a boolean where the
/// specification expects one.
/// </summary>
public sealed class YScalar(string value, bool quoted = false) : YNode
{
    /// <summary>The scalar's text.</summary>
    public string Value { get; set; } = value;

    /// <summary>True for quoted or block scalars.</summary>
    public bool Quoted { get; } = quoted;

    /// <summary>
    /// True when interpolation changed the text. docker-compose 1.29 types a scalar before it interpolates, so for
    /// its config-hash a plain <c>${PORT:-80}</c> stays a string.
    /// </summary>
    public bool Interpolated { get; set; }

    /// <inheritdoc/>
    public override YNode Clone() => new YScalar(Value, Quoted) { Interpolated = Interpolated };

    /// <inheritdoc/>
    public override string ToString() => Value;
}

/// <summary>A compose file that cannot be read or does not follow the specification.</summary>
public sealed class ComposeException(string message) : Exception(message);

/// <summary>
/// Reads YAML through YamlDotNet's parser and representation model (no reflection, so it stays
/// NativeAOT-safe), resolving aliases and <c>&lt;&lt;</c> merge keys.
/// </summary>
public static class YamlReader
{
    /// <summary>Parses the first document of <paramref name="text"/>; an empty document is an empty mapping.</summary>
    public static YNode? Parse(string text, string fileName)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new ComposeException($"{fileName}: yaml: line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}");
        }
        if (stream.Documents.Count == 0) return new YMap();
        return Convert(stream.Documents[0].RootNode, fileName, 0);
    }

    private static YNode? Convert(YamlNode node, string file, int depth)
    {
        if (depth > 200) throw new ComposeException($"{file}: document nested too deeply");
        switch (node)
        {
            case YamlScalarNode s:
                {
                    bool quoted = s.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded;
                    string v = s.Value ?? "";
                    if (!quoted && s.Tag.IsEmpty && v is "" or "~" or "null" or "Null" or "NULL") return null;
                    return new YScalar(v, quoted);
                }
            case YamlSequenceNode seq:
                {
                    var r = new YSeq();
                    foreach (var c in seq.Children) r.Items.Add(Convert(c, file, depth + 1));
                    return r;
                }
            case YamlMappingNode map:
                {
                    var r = new YMap();
                    var merges = new List<YMap>();
                    foreach (var (k, v) in map.Children)
                    {
                        if (k is not YamlScalarNode ks) throw new ComposeException($"{file}: line {k.Start.Line}: mapping keys must be scalars");
                        string key = ks.Value ?? "";
                        if (key == "<<" && ks.Style == ScalarStyle.Plain)
                        {
                            var mv = Convert(v, file, depth + 1);
                            if (mv is YMap one) merges.Add(one);
                            else if (mv is YSeq many) merges.AddRange(many.Items.OfType<YMap>());
                            else throw new ComposeException($"{file}: line {k.Start.Line}: << needs a mapping or a list of mappings");
                            continue;
                        }
                        if (r.Items.ContainsKey(key)) throw new ComposeException($"{file}: line {k.Start.Line}: mapping key \"{key}\" already defined");
                        r.Items[key] = Convert(v, file, depth + 1);
                    }
                    // Explicit keys win over merged ones; earlier merge sources win over later ones.
                    foreach (var m in merges)
                        foreach (var (k, v) in m.Items)
                            if (!r.Items.ContainsKey(k)) r.Items[k] = v?.Clone();
                    return r;
                }
            default:
                return null;
        }
    }
}

/// <summary>
/// Writes a <see cref="YNode"/> tree as block-style YAML with two-space indents. Scalars that a
/// YAML reader would take for another type or misparse are double-quoted; values built as
/// numbers or booleans (<see cref="YScalar.Quoted"/> false) stay plain.
/// </summary>
public static class YamlWriter
{
    /// <summary>Serializes a tree; the output ends with a newline.</summary>
    public static string Write(YNode? root)
    {
        var sb = new StringBuilder();
        WriteValue(sb, root, 0, afterKey: false);
        return sb.ToString();
    }

    private static void WriteValue(StringBuilder sb, YNode? node, int indent, bool afterKey)
    {
        switch (node)
        {
            case null:
                sb.Append(afterKey ? " null\n" : "null\n");
                break;
            case YScalar s:
                sb.Append(afterKey ? " " : "").Append(Scalar(s)).Append('\n');
                break;
            case YMap m when m.Items.Count == 0:
                sb.Append(afterKey ? " {}\n" : "{}\n");
                break;
            case YSeq q when q.Items.Count == 0:
                sb.Append(afterKey ? " []\n" : "[]\n");
                break;
            case YMap m:
                if (afterKey) sb.Append('\n');
                foreach (var (k, v) in m.Items)
                {
                    sb.Append(' ', indent).Append(Key(k)).Append(':');
                    WriteValue(sb, v, indent + 2, afterKey: true);
                }
                break;
            case YSeq q:
                if (afterKey) sb.Append('\n');
                foreach (var item in q.Items)
                {
                    sb.Append(' ', indent).Append("- ");
                    if (item is YMap im && im.Items.Count > 0)
                    {
                        bool first = true;
                        foreach (var (k, v) in im.Items)
                        {
                            if (!first) sb.Append(' ', indent + 2);
                            first = false;
                            sb.Append(Key(k)).Append(':');
                            WriteValue(sb, v, indent + 4, afterKey: true);
                        }
                    }
                    else if (item is YSeq iq && iq.Items.Count > 0)
                    {
                        sb.Append('\n');
                        var inner = new StringBuilder();
                        WriteValue(inner, iq, indent + 2, afterKey: false);
                        sb.Append(inner);
                    }
                    else WriteValue(sb, item, indent + 2, afterKey: false);
                }
                break;
        }
    }

    private static string Key(string k) => NeedsQuotes(k) ? Quote(k) : k;

    private static string Scalar(YScalar s) => !s.Quoted || !NeedsQuotes(s.Value) ? s.Value.Length == 0 ? "\"\"" : s.Value : Quote(s.Value);

    /// <summary>True when a plain scalar with this text would not read back as the same string.</summary>
    public static bool NeedsQuotes(string v)
    {
        if (v.Length == 0) return true;
        if (v is "~" or "-" || IsReserved(v)) return true;
        if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out _) || v.StartsWith("0x", StringComparison.OrdinalIgnoreCase) || v.StartsWith("0o", StringComparison.Ordinal)) return true;
        if (char.IsWhiteSpace(v[0]) || char.IsWhiteSpace(v[^1])) return true;
        if ("!&*-?{}[],#|>@`\"'%:".Contains(v[0]) && !(v[0] is '-' or '?' or ':' && v.Length > 1 && v[1] != ' ')) return true;
        if (v.Contains(": ", StringComparison.Ordinal) || v.Contains(" #", StringComparison.Ordinal) || v.EndsWith(':')) return true;
        foreach (char c in v)
            if (c < ' ' || c == '\u007f') return true;
        return false;
    }

    private static bool IsReserved(string v) => v.ToLowerInvariant() is "true" or "false" or "yes" or "no" or "on" or "off" or "y" or "n" or "null" or ".inf" or "-.inf" or ".nan";

    private static string Quote(string v)
    {
        var sb = new StringBuilder(v.Length + 2).Append('"');
        foreach (char c in v)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                case '\r': sb.Append("\\r"); break;
                default:
                    if (c < ' ' || c == '\u007f') sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}
