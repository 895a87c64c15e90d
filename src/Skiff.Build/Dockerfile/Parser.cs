using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Skiff.Build.Dockerfile;

/// <summary>
/// Parses Dockerfile text into <see cref="DockerfileAst"/> the way BuildKit's frontend does:
/// <list type="bullet">
/// <item>Parser directives (<c># escape=`</c>, <c># syntax=...</c>, <c># check=...</c>) only before the first comment, blank line or instruction;
/// unknown directives are comments, a repeated one is an error.</item>
/// <item>A line ending in the escape character (plus blanks) continues on the next; comment lines and empty lines inside a
/// continuation are skipped; continuation lines keep their leading blanks.</item>
/// <item>Leading <c>--flag[=value]</c> words become <see cref="Instruction.Flags"/>; the rest is parsed per instruction
/// (JSON or shell form, key=value pairs, words).</item>
/// <item>RUN, COPY and ADD take heredocs: <c>&lt;&lt;EOF</c>, <c>&lt;&lt;-EOF</c> (leading tabs stripped), <c>&lt;&lt;"EOF"</c> (no expansion).</item>
/// </list>
/// Errors throw <see cref="DockerfileException"/> with <c>dockerfile parse error on line N: ...</c>.
/// Variables are not expanded here (that needs the build's ARG/ENV state; see <see cref="ShellWords"/>).
/// </summary>
public static partial class Parser
{
    private static readonly HashSet<string> Known = new(StringComparer.Ordinal)
    {
        "FROM", "RUN", "CMD", "ENTRYPOINT", "ENV", "ARG", "LABEL", "EXPOSE", "WORKDIR", "USER", "VOLUME", "COPY", "ADD",
        "SHELL", "STOPSIGNAL", "HEALTHCHECK", "ONBUILD", "MAINTAINER",
    };

    /// <summary>Flags each instruction accepts (anything else is "unknown flag").</summary>
    private static readonly Dictionary<string, string[]> AllowedFlags = new(StringComparer.Ordinal)
    {
        ["FROM"] = ["platform"],
        ["RUN"] = ["network", "security", "mount"],
        ["COPY"] = ["from", "chown", "chmod", "link", "parents", "exclude"],
        ["ADD"] = ["chown", "chmod", "link", "keep-git-dir", "checksum", "exclude", "unpack"],
        ["HEALTHCHECK"] = ["interval", "timeout", "start-period", "start-interval", "retries"],
    };

    [GeneratedRegex(@"^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$")]
    private static partial Regex DirectiveRegex();

    [GeneratedRegex(@"<<(-?)([""']?)([a-zA-Z_][a-zA-Z0-9_]*)\2")]
    private static partial Regex HeredocRegex();

    public static DockerfileAst Parse(string text)
    {
        if (text.StartsWith('\uFEFF')) text = text[1..];
        var lines = text.Replace("\r\n", "\n").Split('\n');
        if (lines.Length > 0 && lines[^1].Length == 0) lines = lines[..^1];

        char escape = '\\';
        string? syntax = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int i = 0;
        for (; i < lines.Length; i++)
        {
            var m = DirectiveRegex().Match(lines[i]);
            if (!m.Success) break;
            string name = m.Groups[1].Value.ToLowerInvariant();
            string value = m.Groups[2].Value;
            if (name is not ("escape" or "syntax" or "check")) break;
            if (!seen.Add(name)) throw Error(i + 1, $"only one {name} parser directive can be used");
            if (name == "escape")
            {
                if (value is not ("`" or "\\")) throw Error(i + 1, $"invalid escape token '{value}' does not match ` or \\");
                escape = value[0];
            }
            else if (name == "syntax")
            {
                syntax = value;
            }
        }

        var instructions = new List<Instruction>();
        while (i < lines.Length)
        {
            string first = lines[i];
            int startLine = i + 1;
            i++;
            string trimmed = first.TrimStart(' ', '\t');
            if (trimmed.Length == 0 || trimmed[0] == '#') continue;
            var (line, more) = TrimContinuation(trimmed, escape);
            while (more && i < lines.Length)
            {
                string next = lines[i++];
                string nt = next.TrimStart(' ', '\t');
                if (nt.StartsWith('#')) continue;
                if (nt.Length == 0) continue;
                var (part, again) = TrimContinuation(next, escape);
                line += part;
                more = again;
            }
            if (line.Trim().Length == 0) continue;
            var instruction = ParseLine(line.Trim(), startLine, escape, allowOnbuildTriggers: false);
            if (instruction.Keyword is "RUN" or "COPY" or "ADD") i = ReadHeredocs(instruction, line, lines, i, startLine);
            instructions.Add(instruction);
        }
        return new DockerfileAst { Escape = escape, Syntax = syntax, Instructions = instructions };
    }

    private static (string Line, bool More) TrimContinuation(string line, char escape)
    {
        string t = line.TrimEnd(' ', '\t');
        if (t.Length > 0 && t[^1] == escape) return (t[..^1], true);
        return (line, false);
    }

    private static int ReadHeredocs(Instruction instruction, string line, string[] lines, int i, int startLine)
    {
        foreach (Match m in HeredocRegex().Matches(StripQuotedForHeredocs(line)))
        {
            bool chomp = m.Groups[1].Value == "-";
            bool quoted = m.Groups[2].Value.Length > 0;
            string name = m.Groups[3].Value;
            var body = new StringBuilder();
            bool closed = false;
            while (i < lines.Length)
            {
                string l = lines[i++];
                if (chomp) l = l.TrimStart('\t');
                if (l == name) { closed = true; break; }
                body.Append(l).Append('\n');
            }
            if (!closed) throw Error(startLine, $"unterminated heredoc {name}");
            instruction.Heredocs.Add(new Heredoc(name, body.ToString(), !quoted));
        }
        return i;
    }

    /// <summary>Blanks out quoted text so that a quoted "&lt;&lt;EOF" is not taken for a heredoc.</summary>
    private static string StripQuotedForHeredocs(string line)
    {
        var sb = new StringBuilder(line.Length);
        char quote = '\0';
        for (int k = 0; k < line.Length; k++)
        {
            char c = line[k];
            if (quote == '\0' && c == '<' && k + 2 < line.Length && line[k + 1] == '<')
            {
                // Keep the whole marker including its own quotes.
                var m = HeredocRegex().Match(line, k);
                if (m.Success && m.Index == k) { sb.Append(m.Value); k += m.Length - 1; continue; }
            }
            if (quote != '\0') { if (c == quote) quote = '\0'; sb.Append(' '); continue; }
            if (c is '"' or '\'') { quote = c; sb.Append(' '); continue; }
            sb.Append(c);
        }
        return sb.ToString();
    }

    private static Instruction ParseLine(string line, int lineNo, char escape, bool allowOnbuildTriggers)
    {
        int sp = IndexOfBlank(line);
        string word = sp < 0 ? line : line[..sp];
        string keyword = word.ToUpperInvariant();
        string rest = sp < 0 ? "" : line[sp..].TrimStart(' ', '\t');
        if (!Known.Contains(keyword)) throw Error(lineNo, $"unknown instruction: {word}");
        var ins = new Instruction { Keyword = keyword, Line = lineNo, Original = keyword + (rest.Length > 0 ? " " + rest : "") };

        if (keyword != "ONBUILD")
        {
            while (rest.StartsWith("--", StringComparison.Ordinal))
            {
                int end = IndexOfBlank(rest);
                string flag = end < 0 ? rest : rest[..end];
                rest = end < 0 ? "" : rest[end..].TrimStart(' ', '\t');
                if (flag == "--") break;
                int eq = flag.IndexOf('=');
                string name = eq < 0 ? flag[2..] : flag[2..eq];
                string value = eq < 0 ? "true" : flag[(eq + 1)..];
                if (!AllowedFlags.TryGetValue(keyword, out var allowed) || !allowed.Contains(name))
                    throw Error(lineNo, $"unknown flag: {name}");
                ins.Flags.Add(new(name, value));
                if (keyword == "RUN" && name == "mount")
                {
                    try { ins.Mounts.Add(RunMount.Parse(value)); }
                    catch (DockerfileException e) { throw Error(lineNo, e.Message); }
                }
            }
        }

        switch (keyword)
        {
            case "RUN":
            case "CMD":
            case "ENTRYPOINT":
                if (TryJson(rest, out var json)) { ins.Json = true; ins.Args.AddRange(json); }
                else if (rest.Length > 0) ins.Args.Add(rest);
                else if (keyword == "RUN") throw Error(lineNo, "RUN requires at least one argument");
                else throw Error(lineNo, $"{keyword} requires at least one argument");
                break;
            case "SHELL":
                if (!TryJson(rest, out var shell)) throw Error(lineNo, "SHELL requires the arguments to be in JSON form");
                if (shell.Count == 0) throw Error(lineNo, "SHELL requires at least one argument");
                ins.Json = true;
                ins.Args.AddRange(shell);
                break;
            case "ENV":
            case "LABEL":
                ParsePairs(ins, rest, escape, lineNo);
                break;
            case "ARG":
                var words = Words(rest, escape);
                if (words.Count == 0) throw Error(lineNo, "ARG requires at least one argument");
                foreach (var w in words)
                {
                    int eq = w.IndexOf('=');
                    string key = eq < 0 ? w : w[..eq];
                    if (key.Length == 0) throw Error(lineNo, $"ARG names can not be blank");
                    ins.Pairs.Add(new KeyValue(key, eq < 0 ? null : w[(eq + 1)..]));
                }
                break;
            case "COPY":
            case "ADD":
                if (TryJson(rest, out var list)) { ins.Json = true; ins.Args.AddRange(list); }
                else ins.Args.AddRange(Words(rest, escape));
                if (ins.Args.Count < 2)
                    throw Error(lineNo, $"{keyword} requires at least two arguments, but only one was provided. Destination could not be determined");
                break;
            case "VOLUME":
                if (TryJson(rest, out var vols)) { ins.Json = true; ins.Args.AddRange(vols); }
                else ins.Args.AddRange(Words(rest, escape));
                if (ins.Args.Count == 0) throw Error(lineNo, "VOLUME requires at least one argument");
                break;
            case "FROM":
                ins.Args.AddRange(Words(rest, escape));
                if (ins.Args.Count is not (1 or 3) || (ins.Args.Count == 3 && !ins.Args[1].Equals("AS", StringComparison.OrdinalIgnoreCase)))
                    throw Error(lineNo, "FROM requires either one or three arguments");
                if (ins.Args.Count == 3 && !StageNameRegex().IsMatch(ins.Args[2]))
                    throw Error(lineNo, $"invalid name for build stage: \"{ins.Args[2]}\", name can't start with a number or contain symbols");
                break;
            case "EXPOSE":
                ins.Args.AddRange(Words(rest, escape));
                if (ins.Args.Count == 0) throw Error(lineNo, "EXPOSE requires at least one argument");
                break;
            case "WORKDIR":
            case "USER":
            case "STOPSIGNAL":
            case "MAINTAINER":
                if (rest.Length == 0) throw Error(lineNo, $"{keyword} requires exactly one argument");
                if (keyword != "MAINTAINER" && Words(rest, escape).Count != 1) throw Error(lineNo, $"{keyword} requires exactly one argument");
                ins.Args.Add(rest);
                break;
            case "HEALTHCHECK":
                ParseHealthcheck(ins, rest, lineNo);
                break;
            case "ONBUILD":
                if (rest.Length == 0) throw Error(lineNo, "ONBUILD requires at least one argument");
                var inner = ParseLine(rest, lineNo, escape, allowOnbuildTriggers: true);
                if (inner.Keyword is "ONBUILD") throw Error(lineNo, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
                if (inner.Keyword is "FROM" or "MAINTAINER") throw Error(lineNo, $"{inner.Keyword} isn't allowed as an ONBUILD trigger");
                ins.Inner = inner;
                break;
        }
        _ = allowOnbuildTriggers;
        return ins;
    }

    [GeneratedRegex(@"^[a-zA-Z][a-zA-Z0-9_.-]*$")]
    private static partial Regex StageNameRegex();

    private static void ParseHealthcheck(Instruction ins, string rest, int lineNo)
    {
        int sp = IndexOfBlank(rest);
        string kind = (sp < 0 ? rest : rest[..sp]).ToUpperInvariant();
        string cmd = sp < 0 ? "" : rest[sp..].Trim();
        if (kind == "NONE")
        {
            if (cmd.Length > 0 || ins.Flags.Count > 0) throw Error(lineNo, "HEALTHCHECK NONE takes no arguments");
            ins.Args.Add("NONE");
            return;
        }
        if (kind != "CMD") throw Error(lineNo, $"Unknown type \"{kind}\" in HEALTHCHECK (try CMD)");
        if (cmd.Length == 0) throw Error(lineNo, "Missing command after HEALTHCHECK CMD");
        if (TryJson(cmd, out var json)) { ins.Json = true; ins.Args.Add("CMD"); ins.Args.AddRange(json); }
        else { ins.Args.Add("CMD-SHELL"); ins.Args.Add(cmd); }
        foreach (var (name, value) in ins.Flags)
        {
            if (name == "retries")
            {
                if (!int.TryParse(value, out int r) || r < 0) throw Error(lineNo, $"--retries must be at least 0");
            }
            else if (!Durations.TryParse(value, out long ns) || ns < 0)
            {
                throw Error(lineNo, $"time: invalid duration \"{value}\"");
            }
            else if (ns != 0 && ns < 1_000_000)
            {
                throw Error(lineNo, $"Interval \"{name}\" cannot be less than 1ms");
            }
        }
    }

    private static void ParsePairs(Instruction ins, string rest, char escape, int lineNo)
    {
        var words = Words(rest, escape);
        if (words.Count == 0) throw Error(lineNo, $"{ins.Keyword} requires at least one argument");
        if (!words[0].Contains('='))
        {
            if (ins.Keyword == "LABEL") throw Error(lineNo, $"Syntax error - can't find = in \"{words[0]}\". Must be of the form: name=value");
            // Legacy "ENV key value with spaces".
            if (words.Count < 2) throw Error(lineNo, "ENV must have two arguments");
            int sp = IndexOfBlank(rest);
            ins.Pairs.Add(new KeyValue(words[0], rest[sp..].Trim()));
            return;
        }
        foreach (var w in words)
        {
            int eq = w.IndexOf('=');
            if (eq < 0) throw Error(lineNo, $"Syntax error - can't find = in \"{w}\". Must be of the form: name=value");
            if (eq == 0) throw Error(lineNo, $"{ins.Keyword} names can not be blank");
            ins.Pairs.Add(new KeyValue(w[..eq], w[(eq + 1)..]));
        }
    }

    private static bool TryJson(string rest, out List<string> list)
    {
        list = [];
        if (!rest.StartsWith('[')) return false;
        try
        {
            using var doc = JsonDocument.Parse(rest);
            if (doc.RootElement.ValueKind != JsonValueKind.Array) return false;
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.String) return false;
                list.Add(e.GetString()!);
            }
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Splits on blanks outside quotes. Quotes and escapes are kept (expansion removes them later), so
    /// <c>a="b c" d</c> gives <c>a="b c"</c> and <c>d</c>.
    /// </summary>
    internal static List<string> Words(string s, char escape)
    {
        var result = new List<string>();
        var sb = new StringBuilder();
        char quote = '\0';
        bool inWord = false;
        for (int k = 0; k < s.Length; k++)
        {
            char c = s[k];
            if (c == escape && k + 1 < s.Length && quote != '\'')
            {
                sb.Append(c).Append(s[++k]);
                inWord = true;
                continue;
            }
            if (quote != '\0')
            {
                if (c == quote) quote = '\0';
                sb.Append(c);
                continue;
            }
            if (c is ' ' or '\t')
            {
                if (inWord) { result.Add(sb.ToString()); sb.Clear(); inWord = false; }
                continue;
            }
            if (c is '"' or '\'') quote = c;
            sb.Append(c);
            inWord = true;
        }
        if (inWord) result.Add(sb.ToString());
        return result;
    }

    private static int IndexOfBlank(string s) => s.IndexOfAny([' ', '\t']);

    private static DockerfileException Error(int line, string message) => new($"dockerfile parse error on line {line}: {message}");
}
