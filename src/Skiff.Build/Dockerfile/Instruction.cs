using System.Text;

namespace Skiff.Build.Dockerfile;

/// <summary>A heredoc body attached to RUN, COPY or ADD (<c>&lt;&lt;EOF</c> ... <c>EOF</c>).</summary>
/// <param name="Name">The delimiter word.</param>
/// <param name="Content">The lines between the instruction and the delimiter, each ending in "\n" (tabs stripped for <c>&lt;&lt;-</c>).</param>
/// <param name="Expand">False when the delimiter was quoted: the body is taken literally.</param>
public sealed record Heredoc(string Name, string Content, bool Expand);

/// <summary>A <c>key=value</c> pair of ENV, LABEL or ARG, as written (quotes kept: they are removed by expansion at build time).</summary>
/// <param name="Value">Null for an ARG without a default.</param>
public sealed record KeyValue(string Key, string? Value);

/// <summary>
/// One parsed Dockerfile instruction. Arguments are raw text as written (variables not yet expanded):
/// which fields are set depends on <see cref="Keyword"/>:
/// <list type="bullet">
/// <item>RUN, CMD, ENTRYPOINT, SHELL: <see cref="Args"/> is the JSON array (<see cref="Json"/>) or one element with the shell command line.</item>
/// <item>ENV, LABEL, ARG: <see cref="Pairs"/>.</item>
/// <item>ONBUILD: <see cref="Inner"/>; HEALTHCHECK: <see cref="Args"/> is <c>["NONE"]</c> or <c>["CMD", ...]</c>/<c>["CMD-SHELL", cmd]</c>.</item>
/// <item>Everything else: <see cref="Args"/> are the words (quotes kept) or the JSON array elements.</item>
/// </list>
/// </summary>
public sealed class Instruction
{
    /// <summary>Upper-case instruction name.</summary>
    public required string Keyword { get; init; }
    /// <summary>1-based line of the instruction's first line.</summary>
    public required int Line { get; init; }
    /// <summary>The instruction as written, continuations joined, without heredoc bodies (for history and cache keys).</summary>
    public required string Original { get; init; }
    /// <summary><c>--name=value</c> flags in order (a flag without '=' has the value "true").</summary>
    public List<KeyValuePair<string, string>> Flags { get; } = [];
    public List<string> Args { get; } = [];
    public bool Json { get; set; }
    public List<KeyValue> Pairs { get; } = [];
    public List<Heredoc> Heredocs { get; } = [];
    /// <summary>RUN <c>--mount</c>s, parsed (the raw flags stay in <see cref="Flags"/>).</summary>
    public List<RunMount> Mounts { get; } = [];
    public Instruction? Inner { get; set; }

    public string? Flag(string name)
    {
        string? value = null;
        foreach (var f in Flags) if (f.Key == name) value = f.Value;
        return value;
    }

    /// <summary>The golden-file form: <c>(keyword --flag=v "arg" ...)</c>; see tests/Skiff.Build.Tests/testfiles.</summary>
    public string Dump()
    {
        var sb = new StringBuilder("(").Append(Keyword.ToLowerInvariant());
        foreach (var f in Flags) if (f.Key != "mount") sb.Append(" --").Append(f.Key).Append('=').Append(f.Value);
        foreach (var m in Mounts) sb.Append(" --mount=").Append(m.Canonical());
        if (Json) sb.Append(" json");
        foreach (var a in Args) sb.Append(' ').Append(Quote(a));
        foreach (var p in Pairs) sb.Append(' ').Append(Quote(p.Key)).Append('=').Append(p.Value is null ? "<unset>" : Quote(p.Value));
        if (Inner is not null) sb.Append(' ').Append(Inner.Dump());
        foreach (var h in Heredocs) sb.Append(" <<").Append(h.Expand ? "" : "'").Append(h.Name).Append(h.Expand ? "" : "'").Append(' ').Append(Quote(h.Content));
        return sb.Append(')').ToString();
    }

    private static string Quote(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                default: sb.Append(c); break;
            }
        }
        return sb.Append('"').ToString();
    }
}

/// <summary>A parsed Dockerfile: parser directives and instructions in order.</summary>
public sealed class DockerfileAst
{
    /// <summary>The escape character (<c># escape=`</c>), '\\' by default.</summary>
    public char Escape { get; init; } = '\\';
    /// <summary>The <c># syntax=</c> directive (recorded; the frontend is always this one).</summary>
    public string? Syntax { get; init; }
    public required IReadOnlyList<Instruction> Instructions { get; init; }

    public string Dump()
    {
        var sb = new StringBuilder();
        if (Escape != '\\') sb.Append("(escape ").Append(Escape).Append(")\n");
        if (Syntax is not null) sb.Append("(syntax ").Append(Syntax).Append(")\n");
        foreach (var i in Instructions) sb.Append(i.Dump()).Append('\n');
        return sb.ToString();
    }
}

/// <summary>A Dockerfile that cannot be parsed or built; the message carries the line number when known.</summary>
public sealed class DockerfileException(string message) : Exception(message);
