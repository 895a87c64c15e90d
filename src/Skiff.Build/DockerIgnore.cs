using System.Text;
using System.Text.RegularExpressions;

namespace Skiff.Build;

/// <summary>
/// <c>.dockerignore</c> matching as Docker's CLI and daemon do it (moby/patternmatcher): one pattern per line, <c>#</c>
/// comments, blank lines ignored; patterns are cleaned like Go's <c>filepath.Clean</c> with a leading '/' dropped;
/// <c>*</c>, <c>?</c>, <c>[...]</c> and <c>\</c> as in Go's <c>filepath.Match</c> (never crossing '/'), <c>**</c> for
/// any number of directories; <c>!pattern</c> re-includes. The last matching pattern decides, and a pattern that
/// matches a directory also matches everything below it.
/// </summary>
public sealed class DockerIgnore
{
    private readonly List<(Regex Regex, bool Exclusion, string Pattern)> _patterns = [];

    public DockerIgnore(IEnumerable<string> patterns)
    {
        foreach (var raw in patterns)
        {
            string p = raw.Trim();
            if (p.Length == 0 || p.StartsWith('#')) continue;
            bool exclusion = p.StartsWith('!');
            if (exclusion) p = p[1..].Trim();
            p = Clean(p);
            if (p.Length == 0) continue;
            _patterns.Add((new Regex(ToRegex(p), RegexOptions.CultureInvariant), exclusion, p));
        }
    }

    public static DockerIgnore Parse(string text) => new(text.Replace("\r\n", "\n").Split('\n'));

    public bool IsEmpty => _patterns.Count == 0;

    /// <summary>Whether the relative, '/'-separated path is excluded from the context.</summary>
    public bool Excludes(string path)
    {
        path = Clean(path);
        bool excluded = false;
        string[] parts = path.Split('/');
        foreach (var (regex, exclusion, _) in _patterns)
        {
            bool match = regex.IsMatch(path);
            if (!match)
            {
                // A pattern matching a parent directory matches its contents.
                string prefix = "";
                for (int i = 0; i < parts.Length - 1 && !match; i++)
                {
                    prefix = i == 0 ? parts[0] : prefix + "/" + parts[i];
                    match = regex.IsMatch(prefix);
                }
            }
            if (match) excluded = !exclusion;
        }
        return excluded;
    }

    /// <summary>
    /// Whether a directory's contents must still be walked even though the directory itself is excluded
    /// (some <c>!</c> pattern could re-include something below it).
    /// </summary>
    public bool HasExclusions => _patterns.Any(p => p.Exclusion);

    /// <summary>Lexical clean (Go filepath.Clean) of a relative path; a leading '/' and "./" are dropped, ".." cannot climb above the root.</summary>
    public static string Clean(string p)
    {
        var stack = new List<string>();
        foreach (var part in p.Split('/'))
        {
            if (part.Length == 0 || part == ".") continue;
            if (part == "..") { if (stack.Count > 0) stack.RemoveAt(stack.Count - 1); continue; }
            stack.Add(part);
        }
        return string.Join('/', stack);
    }

    private static string ToRegex(string pattern)
    {
        var sb = new StringBuilder("^");
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            switch (c)
            {
                case '*':
                    if (i + 1 < pattern.Length && pattern[i + 1] == '*')
                    {
                        i++;
                        if (i + 1 < pattern.Length && pattern[i + 1] == '/')
                        {
                            // "**/" matches zero or more whole directories.
                            i++;
                            sb.Append("(?:.*/)?");
                        }
                        else
                        {
                            sb.Append(".*");
                        }
                    }
                    else
                    {
                        sb.Append("[^/]*");
                    }
                    break;
                case '?':
                    sb.Append("[^/]");
                    break;
                case '[':
                    int end = pattern.IndexOf(']', i + 1);
                    if (end < 0) { sb.Append("\\["); break; }
                    string cls = pattern[(i + 1)..end];
                    if (cls.StartsWith('^') || cls.StartsWith('!')) cls = "^" + cls[1..];
                    sb.Append('[').Append(cls.Replace("\\", "\\\\")).Append(']');
                    i = end;
                    break;
                case '\\':
                    if (i + 1 < pattern.Length) sb.Append(Regex.Escape(pattern[++i].ToString()));
                    break;
                default:
                    sb.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }
        return sb.Append('$').ToString();
    }

    /// <summary>Go filepath.Match of one pattern against one whole name (used for COPY wildcards).</summary>
    public static bool Match(string pattern, string name) =>
        Regex.IsMatch(name, ToRegex(pattern), RegexOptions.CultureInvariant);
}
