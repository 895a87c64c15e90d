using System.Text;

namespace Skiff.Compose;

/// <summary>
/// Compose's variable interpolation: <c>$VAR</c>, <c>${VAR}</c>, <c>${VAR:-default}</c> (unset or
/// empty), <c>${VAR-default}</c> (unset), <c>${VAR:?error}</c>, <c>${VAR?error}</c>,
/// <c>${VAR:+replacement}</c>, <c>${VAR+replacement}</c>, and <c>$$</c> for a literal dollar.
/// Defaults and replacements are interpolated themselves, so they may nest (<c>${A:-${B}}</c>).
/// A variable that is unset and has no default becomes the empty string and is reported through
/// <c>warn</c> once per name, as Docker Compose does.
/// </summary>
public sealed class Interpolator(Func<string, string?> lookup, Action<string>? warn = null)
{
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);

    /// <summary>Interpolates one string; throws <see cref="ComposeException"/> for <c>:?</c> errors and bad syntax.</summary>
    public string Apply(string s, string where)
    {
        if (!s.Contains('$')) return s;
        var sb = new StringBuilder(s.Length);
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (c != '$' || i + 1 >= s.Length)
            {
                sb.Append(c);
                i++;
                continue;
            }
            char n = s[i + 1];
            if (n == '$')
            {
                sb.Append('$');
                i += 2;
            }
            else if (n == '{')
            {
                int end = MatchingBrace(s, i + 1);
                if (end < 0) throw new ComposeException($"invalid interpolation format for {where}: \"{s}\"; you may need to escape any $ with another $");
                sb.Append(Braced(s[(i + 2)..end], s, where));
                i = end + 1;
            }
            else if (IsNameStart(n))
            {
                int j = i + 1;
                while (j < s.Length && IsNameChar(s[j])) j++;
                sb.Append(Value(s[(i + 1)..j]) ?? Unset(s[(i + 1)..j]));
                i = j;
            }
            else
            {
                sb.Append(c);
                i++;
            }
        }
        return sb.ToString();
    }

    private static int MatchingBrace(string s, int open)
    {
        int depth = 0;
        for (int j = open; j < s.Length; j++)
        {
            if (s[j] == '$' && j + 1 < s.Length && s[j + 1] == '$') { j++; continue; }
            if (s[j] == '{') depth++;
            else if (s[j] == '}' && --depth == 0) return j;
        }
        return -1;
    }

    private string Braced(string body, string whole, string where)
    {
        int k = 0;
        while (k < body.Length && IsNameChar(body[k])) k++;
        string name = body[..k];
        if (name.Length == 0 || !IsNameStart(name[0]))
            throw new ComposeException($"invalid interpolation format for {where}: \"{whole}\"; you may need to escape any $ with another $");
        string rest = body[k..];
        string? value = Value(name);
        if (rest.Length == 0) return value ?? Unset(name);
        bool colon = rest[0] == ':';
        string op = colon ? rest.Length > 1 ? rest[..2] : rest : rest[..1];
        string arg = rest[op.Length..];
        bool missing = colon ? string.IsNullOrEmpty(value) : value is null;
        switch (op[^1])
        {
            case '-':
                return missing ? Apply(arg, where) : value!;
            case '?':
                if (missing) throw new ComposeException($"required variable {name} is missing a value: {Apply(arg, where)}");
                return value!;
            case '+':
                return missing ? "" : Apply(arg, where);
            default:
                throw new ComposeException($"invalid interpolation format for {where}: \"{whole}\"; you may need to escape any $ with another $");
        }
    }

    private string? Value(string name) => lookup(name);

    private string Unset(string name)
    {
        if (_warned.Add(name)) warn?.Invoke($"The \"{name}\" variable is not set. Defaulting to a blank string.");
        return "";
    }

    private static bool IsNameStart(char c) => c == '_' || char.IsAsciiLetter(c);

    private static bool IsNameChar(char c) => c == '_' || char.IsAsciiLetterOrDigit(c);

    /// <summary>
    /// Interpolates every scalar value of a tree in place (keys are left alone, as in Docker
    /// Compose). <paramref name="path"/> names the position for error messages.
    /// </summary>
    public void ApplyTree(YNode? node, string path)
    {
        switch (node)
        {
            case YScalar s:
                string value = Apply(s.Value, path);
                if (value != s.Value) (s.Value, s.Interpolated) = (value, true);
                break;
            case YSeq q:
                for (int i = 0; i < q.Items.Count; i++) ApplyTree(q.Items[i], $"{path}[{i}]");
                break;
            case YMap m:
                foreach (var (k, v) in m.Items)
                    if (!k.StartsWith("x-", StringComparison.Ordinal)) ApplyTree(v, path.Length == 0 ? k : path + "." + k);
                break;
        }
    }
}

/// <summary>
/// Reads <c>.env</c> and <c>env_file</c> files as Docker Compose does: <c>KEY=VALUE</c> lines,
/// <c>#</c> comments, an optional <c>export </c> prefix, single-quoted values taken literally,
/// double-quoted values with <c>\n</c>-style escapes and interpolation, unquoted values trimmed,
/// with a <c> #</c> comment cut off and interpolation. A bare <c>KEY</c> takes the value from
/// <c>lookup</c> and is skipped when that has none.
/// </summary>
public static class DotEnv
{
    /// <summary>Parses <paramref name="text"/>; earlier keys of the same file are visible to later interpolations.</summary>
    public static OrderedDictionary<string, string> Parse(string text, string fileName, Func<string, string?> lookup)
    {
        var result = new OrderedDictionary<string, string>(StringComparer.Ordinal);
        var interp = new Interpolator(n => result.TryGetValue(n, out var v) ? v : lookup(n));
        var lines = text.Replace("\r\n", "\n").Split('\n');
        for (int ln = 0; ln < lines.Length; ln++)
        {
            string line = lines[ln].Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            if (line.StartsWith("export ", StringComparison.Ordinal)) line = line[7..].TrimStart();
            int eq = line.IndexOf('=');
            if (eq < 0)
            {
                if (!IsValidKey(line)) throw new ComposeException($"{fileName}: line {ln + 1}: unexpected character in variable name \"{line}\"");
                if (lookup(line) is { } fromEnv) result[line] = fromEnv;
                continue;
            }
            string key = line[..eq].Trim();
            if (!IsValidKey(key)) throw new ComposeException($"{fileName}: line {ln + 1}: unexpected character in variable name \"{key}\"");
            string raw = lines[ln].TrimStart()[(lines[ln].TrimStart().IndexOf('=') + 1)..].TrimStart();
            string value;
            if (raw.StartsWith('\'') || raw.StartsWith('"'))
            {
                char q = raw[0];
                var sb = new StringBuilder();
                string cur = raw[1..];
                int close;
                // A quoted value may span lines until the closing quote.
                while ((close = FindClose(cur, q)) < 0)
                {
                    sb.Append(cur).Append('\n');
                    if (++ln >= lines.Length) throw new ComposeException($"{fileName}: unterminated quoted value for {key}");
                    cur = lines[ln];
                }
                sb.Append(cur[..close]);
                value = q == '\'' ? sb.ToString() : interp.Apply(Unescape(sb.ToString()), key);
            }
            else
            {
                int hash = raw.IndexOf(" #", StringComparison.Ordinal);
                if (hash >= 0) raw = raw[..hash];
                value = interp.Apply(raw.Trim(), key);
            }
            result[key] = value;
        }
        return result;
    }

    private static int FindClose(string s, char q)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (q == '"' && s[i] == '\\') { i++; continue; }
            if (s[i] == q) return i;
        }
        return -1;
    }

    private static string Unescape(string s)
    {
        if (!s.Contains('\\')) return s;
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] != '\\' || i + 1 == s.Length) { sb.Append(s[i]); continue; }
            char n = s[++i];
            sb.Append(n switch { 'n' => '\n', 't' => '\t', 'r' => '\r', _ => n });
        }
        return sb.ToString();
    }

    private static bool IsValidKey(string k) => k.Length > 0 && k.All(c => c == '_' || c == '.' || c == '-' || char.IsAsciiLetterOrDigit(c));
}
