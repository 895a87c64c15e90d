using System.Globalization;
using System.Text;

namespace Skiff.Build.Dockerfile;

/// <summary>
/// Variable expansion and quote removal for instruction arguments (the Dockerfile's small shell-like language):
/// <c>$VAR</c>, <c>${VAR}</c>, <c>${VAR:-default}</c>/<c>${VAR-default}</c> (default when unset or empty / unset),
/// <c>${VAR:+alt}</c>/<c>${VAR+alt}</c> (alt when set and non-empty / set), <c>${VAR:?msg}</c>/<c>${VAR?msg}</c> (error).
/// Single quotes are literal; inside double quotes the escape character only escapes <c>"</c>, <c>$</c> and itself;
/// elsewhere it makes the next character literal. Unknown variables expand to "".
/// </summary>
public sealed class ShellWords(char escape, Func<string, string?> lookup)
{
    /// <summary>Expands <paramref name="word"/> into one string (quotes removed, blanks kept).</summary>
    public string Word(string word)
    {
        var words = Process(word, split: false);
        return words.Count == 0 ? "" : words[0];
    }

    /// <summary>Expands and splits on unquoted blanks (also blanks that came from an unquoted expansion).</summary>
    public List<string> Words(string text) => Process(text, split: true);

    private List<string> Process(string s, bool split)
    {
        var result = new List<string>();
        var current = new StringBuilder();
        bool inWord = false;
        int i = 0;
        void Add(char c, bool literal)
        {
            if (split && !literal && c is ' ' or '\t' or '\n')
            {
                if (inWord) { result.Add(current.ToString()); current.Clear(); inWord = false; }
                return;
            }
            current.Append(c);
            inWord = true;
        }
        while (i < s.Length)
        {
            char c = s[i];
            if (c == escape)
            {
                if (i + 1 < s.Length) { Add(s[i + 1], true); i += 2; }
                else { Add(c, true); i++; }
                continue;
            }
            if (c == '\'')
            {
                int end = s.IndexOf('\'', i + 1);
                if (end < 0) throw new DockerfileException("unexpected end of statement while looking for matching single-quote");
                inWord = true;
                current.Append(s, i + 1, end - i - 1);
                i = end + 1;
                continue;
            }
            if (c == '"')
            {
                inWord = true;
                i++;
                while (true)
                {
                    if (i >= s.Length) throw new DockerfileException("unexpected end of statement while looking for matching double-quote");
                    char d = s[i];
                    if (d == '"') { i++; break; }
                    if (d == escape && i + 1 < s.Length && (s[i + 1] == '"' || s[i + 1] == '$' || s[i + 1] == escape))
                    {
                        current.Append(s[i + 1]);
                        i += 2;
                        continue;
                    }
                    if (d == '$')
                    {
                        current.Append(Dollar(s, ref i));
                        continue;
                    }
                    current.Append(d);
                    i++;
                }
                continue;
            }
            if (c == '$')
            {
                int before = i;
                string value = Dollar(s, ref i);
                if (i == before + 1 && value == "$") { Add('$', true); continue; }
                foreach (char v in value) Add(v, false);
                if (!split) inWord = true;
                continue;
            }
            Add(c, false);
            i++;
        }
        if (inWord || (!split && result.Count == 0)) result.Add(current.ToString());
        return result;
    }

    /// <summary>Expands the variable reference at <paramref name="i"/> (which points at '$') and advances past it.</summary>
    private string Dollar(string s, ref int i)
    {
        i++;
        if (i >= s.Length) return "$";
        char c = s[i];
        if (c == '{')
        {
            i++;
            int nameStart = i;
            while (i < s.Length && (char.IsAsciiLetterOrDigit(s[i]) || s[i] == '_')) i++;
            string name = s[nameStart..i];
            if (name.Length == 0) throw new DockerfileException($"missing variable name in ${{...}}: {s}");
            if (i >= s.Length) throw new DockerfileException($"missing '}}' in {s}");
            if (s[i] == '}')
            {
                i++;
                return lookup(name) ?? "";
            }
            if (s[i] is '#' or '%' or '/') return Trim(s, ref i, name);
            bool colon = false;
            if (s[i] == ':') { colon = true; i++; }
            if (i >= s.Length) throw new DockerfileException($"missing '}}' in {s}");
            char op = s[i++];
            if (op is not ('-' or '+' or '?'))
                throw new DockerfileException($"unsupported modifier ({(colon ? ":" : "")}{op}) in substitution");
            string word = ExpandUntilBrace(s, ref i);
            string? value = lookup(name);
            bool set = value is not null && (!colon || value.Length > 0);
            return op switch
            {
                '-' => set ? value! : word,
                '+' => set ? word : "",
                _ => set ? value! : throw new DockerfileException($"{name}: {(word.Length > 0 ? word : "is not allowed to be unset")}"),
            };
        }
        if (char.IsAsciiLetter(c) || c == '_')
        {
            int start = i;
            while (i < s.Length && (char.IsAsciiLetterOrDigit(s[i]) || s[i] == '_')) i++;
            return lookup(s[start..i]) ?? "";
        }
        if (char.IsAsciiDigit(c))
        {
            i++;
            return lookup(c.ToString(CultureInfo.InvariantCulture)) ?? "";
        }
        return "$";
    }

    /// <summary>
    /// <c>${VAR#pattern}</c>/<c>${VAR##pattern}</c> (shortest/longest prefix removed), <c>${VAR%pattern}</c>/<c>${VAR%%pattern}</c>
    /// (suffix), <c>${VAR/pattern/replacement}</c>/<c>${VAR//pattern/replacement}</c> (first/every match replaced). Patterns are
    /// shell patterns (<c>*</c>, <c>?</c>, <c>[...]</c>) after expansion; <paramref name="i"/> points at the operator.
    /// </summary>
    private string Trim(string s, ref int i, string name)
    {
        char op = s[i++];
        bool twice = i < s.Length && s[i] == op;
        if (twice) i++;
        string value = lookup(name) ?? "";
        if (op == '/')
        {
            var pattern = new StringBuilder();
            while (i < s.Length && s[i] != '/' && s[i] != '}')
            {
                if (s[i] == escape && i + 1 < s.Length) { pattern.Append('\\').Append(s[i + 1]); i += 2; continue; }
                if (s[i] == '$') { pattern.Append(Dollar(s, ref i)); continue; }
                pattern.Append(s[i++]);
            }
            string replacement = "";
            if (i < s.Length && s[i] == '/') { i++; replacement = ExpandUntilBrace(s, ref i); }
            else if (i < s.Length && s[i] == '}') i++;
            else throw new DockerfileException($"missing '}}' in {s}");
            if (pattern.Length == 0) return value;
            var regex = new System.Text.RegularExpressions.Regex(PatternToRegex(pattern.ToString()), System.Text.RegularExpressions.RegexOptions.CultureInvariant);
            return twice ? regex.Replace(value, replacement.Replace("$", "$$")) : regex.Replace(value, replacement.Replace("$", "$$"), 1);
        }
        string word = ExpandUntilBrace(s, ref i);
        var anchored = new System.Text.RegularExpressions.Regex("^(?:" + PatternToRegex(word) + ")$", System.Text.RegularExpressions.RegexOptions.CultureInvariant | System.Text.RegularExpressions.RegexOptions.Singleline);
        if (op == '#')
        {
            if (twice) { for (int k = value.Length; k >= 0; k--) if (anchored.IsMatch(value[..k])) return value[k..]; }
            else { for (int k = 0; k <= value.Length; k++) if (anchored.IsMatch(value[..k])) return value[k..]; }
            return value;
        }
        if (twice) { for (int k = 0; k <= value.Length; k++) if (anchored.IsMatch(value[k..])) return value[..k]; }
        else { for (int k = value.Length; k >= 0; k--) if (anchored.IsMatch(value[k..])) return value[..k]; }
        return value;
    }

    /// <summary>A shell pattern as a .NET regex (not anchored): <c>*</c>, <c>?</c>, bracket expressions, backslash escapes.</summary>
    private static string PatternToRegex(string pattern)
    {
        var sb = new StringBuilder();
        for (int k = 0; k < pattern.Length; k++)
        {
            char c = pattern[k];
            switch (c)
            {
                case '*': sb.Append("(?s:.*)"); break;
                case '?': sb.Append("(?s:.)"); break;
                case '\\' when k + 1 < pattern.Length: sb.Append(System.Text.RegularExpressions.Regex.Escape(pattern[++k].ToString())); break;
                case '[':
                {
                    int end = pattern.IndexOf(']', k + 2);
                    if (end < 0) { sb.Append("\\["); break; }
                    string set = pattern[(k + 1)..end];
                    if (set.StartsWith('!')) set = "^" + set[1..];
                    sb.Append('[').Append(set.Replace("\\", "\\\\")).Append(']');
                    k = end;
                    break;
                }
                default: sb.Append(System.Text.RegularExpressions.Regex.Escape(c.ToString())); break;
            }
        }
        return sb.ToString();
    }

    /// <summary>Reads the word of a <c>${VAR:-word}</c> modifier up to its closing brace, expanding nested references.</summary>
    private string ExpandUntilBrace(string s, ref int i)
    {
        var sb = new StringBuilder();
        while (i < s.Length)
        {
            char c = s[i];
            if (c == '}') { i++; return sb.ToString(); }
            if (c == escape && i + 1 < s.Length) { sb.Append(s[i + 1]); i += 2; continue; }
            if (c == '$') { sb.Append(Dollar(s, ref i)); continue; }
            if (c is '\'' or '"')
            {
                int end = s.IndexOf(c, i + 1);
                if (end < 0) throw new DockerfileException($"unmatched quote in {s}");
                string inner = s[(i + 1)..end];
                sb.Append(c == '"' ? new ShellWords(escape, lookup).Word("\"" + inner + "\"") : inner);
                i = end + 1;
                continue;
            }
            sb.Append(c);
            i++;
        }
        throw new DockerfileException($"missing '}}' in {s}");
    }
}

/// <summary>Go <c>time.ParseDuration</c> for HEALTHCHECK flags: <c>30s</c>, <c>1m30s</c>, <c>500ms</c>, <c>0</c>.</summary>
public static class Durations
{
    public static bool TryParse(string s, out long nanoseconds)
    {
        nanoseconds = 0;
        if (s == "0") return true;
        if (s.Length == 0) return false;
        int i = 0;
        while (i < s.Length)
        {
            int start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
            if (!double.TryParse(s.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double n)) return false;
            int unitStart = i;
            while (i < s.Length && !char.IsAsciiDigit(s[i]) && s[i] != '.') i++;
            long unit = s[unitStart..i] switch
            {
                "ns" => 1L, "us" or "µs" => 1_000L, "ms" => 1_000_000L, "s" => 1_000_000_000L,
                "m" => 60_000_000_000L, "h" => 3_600_000_000_000L, _ => -1,
            };
            if (unit < 0) return false;
            nanoseconds += (long)(n * unit);
        }
        return true;
    }
}
