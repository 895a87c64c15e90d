using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Skiff.Cli;

/// <summary>A template error; Docker prints these as "template parsing error: ..." and exits 1 or 125.</summary>
public sealed class TemplateException(string message, bool execution = false) : Exception(message)
{
    /// <summary>True for errors raised while executing (as opposed to parsing) the template.</summary>
    public bool Execution { get; } = execution;
}

/// <summary>
/// The subset of Go text/template that Docker's <c>--format</c> users rely on, evaluated over JSON
/// nodes: field paths (<c>.State.Status</c>, <c>$.Name</c>), variables (<c>$x :=</c>,
/// <c>range $k, $v :=</c>), pipelines, <c>if/else/range/with/end</c>,
/// trim markers, and Docker's functions json, join, lower, upper, title, split, index, len,
/// printf, println, truncate, pad, plus eq/ne/lt/gt/not/and/or. A field name followed by
/// arguments (<c>.Label "k"</c>) looks the arguments up in the plural map field (<c>Labels</c>).
/// Parsing happens once; <see cref="Execute"/> may run per row.
/// </summary>
public sealed class GoTemplate
{
    private abstract record Node;
    private sealed record TextNode(string Text) : Node;
    private sealed record ActionNode(Pipeline Pipe) : Node;
    private sealed record IfNode(Pipeline Pipe, List<Node> Then, List<Node>? Else, bool IsWith) : Node;
    private sealed record RangeNode(Pipeline Pipe, List<Node> Body, List<Node>? Else) : Node;

    private sealed record Pipeline(List<Command> Commands, string[]? Decls = null);
    private sealed record Command(List<Term> Terms);
    private abstract record Term;
    private sealed record FieldTerm(string? Var, string[] Path, string Text, int Col) : Term;
    private sealed record LiteralTerm(JsonNode? Value) : Term;
    private sealed record IdentTerm(string Name) : Term;
    private sealed record SubPipeTerm(Pipeline Pipe) : Term;

    /// <summary>Variables visible at a point of execution; "$" is the data passed to Execute.</summary>
    private sealed class Scope(Dictionary<string, Val> vars)
    {
        public Dictionary<string, Val> Vars { get; } = vars;
        public Scope Child() => new(new Dictionary<string, Val>(Vars, StringComparer.Ordinal));
    }

    /// <summary>A value: a JSON node, or "missing" (a map key that does not exist).</summary>
    private readonly record struct Val(JsonNode? Node, bool Missing = false);

    private readonly List<Node> _root;

    private GoTemplate(List<Node> root) => _root = root;

    /// <summary>Parses a template; throws <see cref="TemplateException"/>.</summary>
    public static GoTemplate Parse(string text)
    {
        try
        {
            var tokens = Lex(text);
            int pos = 0;
            var nodes = ParseList(tokens, ref pos, out string? stop);
            if (stop is not null) throw new TemplateException($"unexpected {{{{{stop}}}}}");
            return new GoTemplate(nodes);
        }
        catch (TemplateException e) when (!e.Message.StartsWith("template:", StringComparison.Ordinal))
        {
            throw new TemplateException("template: :1: " + e.Message);
        }
    }

    /// <summary>Renders the template with <paramref name="data"/> as dot.</summary>
    public string Execute(JsonNode? data)
    {
        var sb = new StringBuilder();
        try
        {
            Exec(_root, new Val(data), new Scope(new(StringComparer.Ordinal) { ["$"] = new Val(data) }), sb);
        }
        catch (TemplateException e) when (!e.Message.StartsWith("template:", StringComparison.Ordinal))
        {
            throw new TemplateException("template: :1: " + e.Message, execution: true);
        }
        return sb.ToString();
    }

    // ---- lexing: alternate text and action bodies, honouring {{- and -}} ----

    private static List<(bool IsAction, string Text, int Offset)> Lex(string text)
    {
        var result = new List<(bool, string, int)>();
        int i = 0;
        while (i < text.Length)
        {
            int open = text.IndexOf("{{", i, StringComparison.Ordinal);
            if (open < 0) { result.Add((false, text[i..], i)); break; }
            string lit = text[i..open];
            int bodyStart = open + 2;
            if (bodyStart < text.Length && text[bodyStart] == '-' && bodyStart + 1 < text.Length && char.IsWhiteSpace(text[bodyStart + 1]))
            {
                lit = lit.TrimEnd();
                bodyStart++;
            }
            if (lit.Length > 0) result.Add((false, lit, i));
            int close = FindClose(text, bodyStart);
            if (close < 0) throw new TemplateException("unclosed action");
            string body = text[bodyStart..close];
            i = close + 2;
            if (body.EndsWith('-') && body.Length >= 2 && char.IsWhiteSpace(body[^2]))
            {
                body = body[..^1];
                while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
            }
            int lead = body.Length - body.TrimStart().Length;
            result.Add((true, body.Trim(), bodyStart + lead));
        }
        return result;
    }

    private static int FindClose(string text, int from)
    {
        bool inStr = false;
        char quote = '\0';
        for (int i = from; i < text.Length - 1; i++)
        {
            char c = text[i];
            if (inStr)
            {
                if (c == '\\' && quote == '"') { i++; continue; }
                if (c == quote) inStr = false;
                continue;
            }
            if (c is '"' or '`') { inStr = true; quote = c; continue; }
            if (c == '}' && text[i + 1] == '}') return i;
        }
        return -1;
    }

    private static List<Node> ParseList(List<(bool IsAction, string Text, int Offset)> tokens, ref int pos, out string? stop)
    {
        var list = new List<Node>();
        while (pos < tokens.Count)
        {
            var (isAction, t, offset) = tokens[pos++];
            if (!isAction) { list.Add(new TextNode(t)); continue; }
            if (t.StartsWith("/*", StringComparison.Ordinal)) continue;
            string kw = FirstWord(t);
            switch (kw)
            {
                case "end":
                case "else":
                    stop = t;
                    return list;
                case "if":
                case "with":
                case "range":
                    list.Add(ParseBlock(kw, t[kw.Length..], offset + kw.Length, tokens, ref pos));
                    break;
                default:
                    list.Add(new ActionNode(ParsePipeline(t, offset)));
                    break;
            }
        }
        stop = null;
        return list;
    }

    /// <summary>Parses an if/with/range body up to its end; "else if" nests a new if that shares the end.</summary>
    private static Node ParseBlock(string kw, string pipeText, int pipeOffset, List<(bool IsAction, string Text, int Offset)> tokens, ref int pos)
    {
        var pipe = ParsePipeline(pipeText, pipeOffset);
        var body = ParseList(tokens, ref pos, out string? stop);
        List<Node>? elseBody = null;
        if (stop == "else")
        {
            elseBody = ParseList(tokens, ref pos, out stop);
        }
        else if (stop is not null && stop.StartsWith("else ", StringComparison.Ordinal))
        {
            string rest = stop[5..].Trim();
            string kw2 = FirstWord(rest);
            if (kw2 is not ("if" or "with")) throw new TemplateException($"unexpected {rest} after else");
            elseBody = [ParseBlock(kw2, rest[kw2.Length..], 0, tokens, ref pos)];
            stop = "end";
        }
        if (stop != "end") throw new TemplateException($"unexpected EOF in {kw}");
        return kw == "range" ? new RangeNode(pipe, body, elseBody) : new IfNode(pipe, body, elseBody, kw == "with");
    }

    private static string FirstWord(string t)
    {
        int i = 0;
        while (i < t.Length && !char.IsWhiteSpace(t[i])) i++;
        return t[..i];
    }

    private static Pipeline ParsePipeline(string text, int offset)
    {
        int pos = 0;
        string[]? decls = TryParseDeclaration(text, ref pos);
        var p = ParsePipelineAt(text, ref pos, false, offset);
        if (decls is not null) p = p with { Decls = decls };
        if (pos < text.Length) throw new TemplateException($"unexpected \"{text[pos..]}\" in command");
        return p;
    }

    /// <summary>Recognizes "$x :=" or "$k, $v :=" at the start of a pipeline; leaves pos unchanged otherwise.</summary>
    private static string[]? TryParseDeclaration(string text, ref int pos)
    {
        int i = pos;
        string? Var()
        {
            while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
            if (i >= text.Length || text[i] != '$') return null;
            int start = i++;
            while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] == '_')) i++;
            return i - start > 1 ? text[start..i] : null;
        }
        var names = new List<string>();
        if (Var() is not { } first) return null;
        names.Add(first);
        while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
        if (i < text.Length && text[i] == ',')
        {
            i++;
            if (Var() is not { } second) return null;
            names.Add(second);
            while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
        }
        if (i + 1 >= text.Length || text[i] != ':' || text[i + 1] != '=') return null;
        pos = i + 2;
        return [.. names];
    }

    private static Pipeline ParsePipelineAt(string text, ref int pos, bool inParen, int offset)
    {
        var commands = new List<Command>();
        var terms = new List<Term>();
        while (true)
        {
            while (pos < text.Length && char.IsWhiteSpace(text[pos])) pos++;
            if (pos >= text.Length) break;
            char c = text[pos];
            if (c == ')')
            {
                if (!inParen) throw new TemplateException("unexpected right paren");
                pos++;
                break;
            }
            if (c == '|')
            {
                if (terms.Count == 0) throw new TemplateException("missing command before |");
                commands.Add(new Command(terms));
                terms = [];
                pos++;
                continue;
            }
            if (c == '(')
            {
                pos++;
                terms.Add(new SubPipeTerm(ParsePipelineAt(text, ref pos, true, offset)));
                continue;
            }
            if (c is '"' or '`')
            {
                terms.Add(new LiteralTerm(JsonValue.Create(ReadString(text, ref pos))));
                continue;
            }
            int start = pos;
            while (pos < text.Length && !char.IsWhiteSpace(text[pos]) && text[pos] is not ('|' or '(' or ')')) pos++;
            string word = text[start..pos];
            int col = offset + start + Math.Max(0, word.LastIndexOf('.'));
            if (word == ".") terms.Add(new FieldTerm(null, [], word, col));
            else if (word[0] == '.') terms.Add(new FieldTerm(null, word[1..].Split('.'), word, col));
            else if (word[0] == '$')
            {
                int dot = word.IndexOf('.');
                string name = dot < 0 ? word : word[..dot];
                terms.Add(new FieldTerm(name, dot < 0 ? [] : word[(dot + 1)..].Split('.'), word, col));
            }
            else if (word is "true" or "false") terms.Add(new LiteralTerm(JsonValue.Create(word == "true")));
            else if (word == "nil") terms.Add(new LiteralTerm(null));
            else if (char.IsAsciiDigit(word[0]) || (word[0] == '-' && word.Length > 1))
            {
                if (long.TryParse(word, NumberStyles.Integer, CultureInfo.InvariantCulture, out long l)) terms.Add(new LiteralTerm(JsonValue.Create(l)));
                else if (double.TryParse(word, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) terms.Add(new LiteralTerm(JsonValue.Create(d)));
                else throw new TemplateException($"bad number syntax: \"{word}\"");
            }
            else terms.Add(new IdentTerm(word));
        }
        if (terms.Count > 0) commands.Add(new Command(terms));
        if (commands.Count == 0) throw new TemplateException("missing value for command");
        return new Pipeline(commands);
    }

    private static string ReadString(string text, ref int pos)
    {
        char q = text[pos++];
        var sb = new StringBuilder();
        while (pos < text.Length && text[pos] != q)
        {
            char c = text[pos++];
            if (q == '"' && c == '\\' && pos < text.Length)
            {
                char e = text[pos++];
                sb.Append(e switch { 'n' => '\n', 't' => '\t', 'r' => '\r', '\\' => '\\', '"' => '"', _ => e });
            }
            else sb.Append(c);
        }
        if (pos >= text.Length) throw new TemplateException("unterminated quoted string");
        pos++;
        return sb.ToString();
    }

    // ---- execution ----

    private static void Exec(List<Node> nodes, Val dot, Scope sc, StringBuilder sb)
    {
        foreach (var n in nodes)
        {
            switch (n)
            {
                case TextNode t: sb.Append(t.Text); break;
                case ActionNode a:
                {
                    var v = Eval(a.Pipe, dot, sc);
                    if (a.Pipe.Decls is { } decls) sc.Vars[decls[0]] = v;
                    else sb.Append(Print(v));
                    break;
                }
                case IfNode f:
                {
                    var inner = sc.Child();
                    var v = Eval(f.Pipe, dot, inner);
                    if (f.Pipe.Decls is { } d) inner.Vars[d[0]] = v;
                    if (Truthy(v)) Exec(f.Then, f.IsWith ? v : dot, inner, sb);
                    else if (f.Else is not null) Exec(f.Else, dot, sc.Child(), sb);
                    break;
                }
                case RangeNode r:
                {
                    var v = Eval(r.Pipe, dot, sc);
                    var decls = r.Pipe.Decls;
                    int count = 0;
                    void Body(Val key, Val item)
                    {
                        var inner = sc.Child();
                        if (decls is { Length: 1 }) inner.Vars[decls[0]] = item;
                        if (decls is { Length: 2 }) { inner.Vars[decls[0]] = key; inner.Vars[decls[1]] = item; }
                        count++;
                        Exec(r.Body, item, inner, sb);
                    }
                    if (v.Node is JsonArray arr)
                        for (int i = 0; i < arr.Count; i++) Body(new Val(JsonValue.Create(i)), new Val(arr[i]));
                    else if (v.Node is JsonObject obj)
                        foreach (var kv in obj.Where(kv => !kv.Key.StartsWith('\0')).OrderBy(k => k.Key, StringComparer.Ordinal).ToList())
                            Body(new Val(JsonValue.Create(kv.Key)), new Val(kv.Value));
                    if (count == 0 && r.Else is not null) Exec(r.Else, dot, sc.Child(), sb);
                    break;
                }
            }
        }
    }

    private static Val Eval(Pipeline p, Val dot, Scope sc)
    {
        Val? piped = null;
        foreach (var cmd in p.Commands) piped = EvalCommand(cmd, dot, sc, piped);
        return piped!.Value;
    }

    private static Val EvalCommand(Command cmd, Val dot, Scope sc, Val? piped)
    {
        var first = cmd.Terms[0];
        if (first is IdentTerm id)
        {
            var args = new List<Val>();
            for (int i = 1; i < cmd.Terms.Count; i++) args.Add(EvalTerm(cmd.Terms[i], dot, sc));
            if (piped is { } pv) args.Add(pv);
            return CallFunction(id.Name, args);
        }
        if (cmd.Terms.Count > 1 || piped is not null)
        {
            if (first is FieldTerm ft && ft.Path.Length > 0)
            {
                // Method-style call: .Label "key" looks the key up in .Labels.
                var owner = ft.Path.Length == 1 ? Start(ft, dot, sc) : Walk(Start(ft, dot, sc), ft.Path[..^1], ft);
                string method = ft.Path[^1];
                var args = new List<Val>();
                for (int i = 1; i < cmd.Terms.Count; i++) args.Add(EvalTerm(cmd.Terms[i], dot, sc));
                if (piped is { } pv) args.Add(pv);
                // Rows may carry the raw map under a hidden "\0" key next to its display string.
                var map = Walk(owner, ["\0" + method + "s"], null);
                if (map.Missing) map = Walk(owner, [method + "s"], null);
                if (args.Count == 1 && map.Node is JsonObject lm)
                    return lm.TryGetPropertyValue(Print(args[0]), out var found) ? new Val(found) : new Val(JsonValue.Create(""));
                // Header rows hold plain strings; Docker's header for .Label "k" is the key itself.
                if (args.Count == 1 && map.Node is JsonValue hv && hv.GetValueKind() == JsonValueKind.String)
                    return new Val(JsonValue.Create(Print(args[0])));
                throw new TemplateException($"can't give argument to non-function {Describe(ft)}");
            }
            throw new TemplateException("can't give argument to non-function");
        }
        return EvalTerm(first, dot, sc);
    }

    private static string Describe(FieldTerm f) => f.Text;

    private static Val Start(FieldTerm f, Val dot, Scope sc)
    {
        if (f.Var is null) return dot;
        return sc.Vars.TryGetValue(f.Var, out var v) ? v : throw new TemplateException($"undefined variable \"{f.Var}\"");
    }

    private static Val EvalTerm(Term t, Val dot, Scope sc) => t switch
    {
        FieldTerm f => Walk(Start(f, dot, sc), f.Path, f),
        LiteralTerm l => new Val(l.Value),
        SubPipeTerm s => Eval(s.Pipe, dot, sc),
        IdentTerm i => CallFunction(i.Name, []),
        _ => throw new TemplateException("bad term"),
    };

    /// <summary>
    /// Follows a field chain. A key missing from an object is an error, as for Go maps with
    /// missingkey=error and for Docker's typed contexts; null along the way yields "no value".
    /// </summary>
    private static Val Walk(Val start, string[] path, FieldTerm? term)
    {
        var cur = start;
        foreach (string seg in path)
        {
            if (seg.Length == 0) continue;
            if (cur.Node is JsonObject o)
            {
                if (o.TryGetPropertyValue(seg, out var next)) { cur = new Val(next); continue; }
                // Docker's types marshal some fields with other casing than users type (Id vs ID).
                var alt = o.FirstOrDefault(kv => string.Equals(kv.Key, seg, StringComparison.OrdinalIgnoreCase));
                if (alt.Key is null)
                {
                    if (term is null) return new Val(null, Missing: true);
                    throw new TemplateException($"template: :1:{term.Col}: executing \"\" at <{term.Text}>: map has no entry for key \"{seg}\"", execution: true);
                }
                cur = new Val(alt.Value);
                continue;
            }
            if (cur.Missing || cur.Node is null) return new Val(null, Missing: true);
            throw new TemplateException($"can't evaluate field {seg} in type {TypeName(cur.Node)}");
        }
        return cur;
    }

    private static string TypeName(JsonNode n) => n.GetValueKind() switch
    {
        JsonValueKind.String => "string",
        JsonValueKind.Number => "float64",
        JsonValueKind.True or JsonValueKind.False => "bool",
        JsonValueKind.Array => "[]interface {}",
        _ => "interface {}",
    };

    private static bool Truthy(Val v)
    {
        if (v.Missing || v.Node is null) return false;
        return v.Node.GetValueKind() switch
        {
            JsonValueKind.False => false,
            JsonValueKind.True => true,
            JsonValueKind.String => v.Node.GetValue<string>().Length > 0,
            JsonValueKind.Number => v.Node.ToJsonString() is not ("0" or "0.0"),
            JsonValueKind.Array => v.Node.AsArray().Count > 0,
            JsonValueKind.Object => v.Node.AsObject().Count > 0,
            _ => false,
        };
    }

    /// <summary>Formats a value as Go's fmt %v would for the decoded JSON.</summary>
    private static string Print(Val v)
    {
        if (v.Missing) return "<no value>";
        return PrintNode(v.Node);
    }

    private static string PrintNode(JsonNode? n)
    {
        if (n is null) return "<nil>";
        switch (n.GetValueKind())
        {
            case JsonValueKind.String: return n.GetValue<string>();
            case JsonValueKind.True: return "true";
            case JsonValueKind.False: return "false";
            case JsonValueKind.Number: return n.ToJsonString();
            case JsonValueKind.Array: return "[" + string.Join(' ', n.AsArray().Select(PrintNode)) + "]";
            case JsonValueKind.Object:
                return "map[" + string.Join(' ', n.AsObject().Where(kv => !kv.Key.StartsWith('\0')).OrderBy(k => k.Key, StringComparer.Ordinal).Select(kv => kv.Key + ":" + PrintNode(kv.Value))) + "]";
            default: return "<nil>";
        }
    }

    private static readonly JsonWriterOptions CompactJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Compact JSON as Go's json.Marshal writes it (no spaces).</summary>
    public static string ToJson(JsonNode? n)
    {
        if (n is null) return "null";
        if (n is JsonObject o && o.Any(kv => kv.Key.StartsWith('\0')))
        {
            var visible = new JsonObject();
            foreach (var kv in o)
                if (!kv.Key.StartsWith('\0')) visible[kv.Key] = kv.Value?.DeepClone();
            n = visible;
        }
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, CompactJson)) n.WriteTo(w);
        // Go's encoder escapes only <, > and & (HTML safety); the relaxed encoder escapes none of them.
        return Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length)
            .Replace("<", "\\u003c").Replace(">", "\\u003e").Replace("&", "\\u0026");
    }

    private static string Str(Val v) => v.Node is JsonValue jv && jv.GetValueKind() == JsonValueKind.String ? jv.GetValue<string>() : Print(v);

    private static Val S(string s) => new(JsonValue.Create(s));

    private static Val CallFunction(string name, List<Val> a)
    {
        void Need(int n)
        {
            if (a.Count != n) throw new TemplateException($"wrong number of args for {name}: want {n} got {a.Count}");
        }
        switch (name)
        {
            case "json":
                Need(1);
                return S(a[0].Missing ? "null" : ToJson(a[0].Node));
            case "join":
                Need(2);
                return S(a[0].Node is JsonArray ja ? string.Join(Str(a[1]), ja.Select(x => PrintNode(x))) : Str(a[0]));
            case "lower": Need(1); return S(Str(a[0]).ToLowerInvariant());
            case "upper": Need(1); return S(Str(a[0]).ToUpperInvariant());
            case "title":
            {
                Need(1);
                var chars = Str(a[0]).ToCharArray();
                for (int i = 0; i < chars.Length; i++)
                    if (i == 0 || !char.IsLetter(chars[i - 1])) chars[i] = char.ToUpperInvariant(chars[i]);
                return S(new string(chars));
            }
            case "split":
            {
                Need(2);
                var arr = new JsonArray();
                foreach (var part in Str(a[0]).Split(Str(a[1]))) arr.Add((JsonNode?)JsonValue.Create(part));
                return new Val(arr);
            }
            case "len":
                Need(1);
                return new Val(JsonValue.Create(a[0].Node switch
                {
                    JsonArray arr => arr.Count,
                    JsonObject obj => obj.Count,
                    JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>().Length,
                    _ => throw new TemplateException("error calling len: len of type"),
                }));
            case "index":
            {
                if (a.Count < 2) throw new TemplateException("wrong number of args for index");
                var cur = a[0];
                for (int i = 1; i < a.Count; i++)
                {
                    if (cur.Node is JsonObject o) cur = o.TryGetPropertyValue(Str(a[i]), out var x) ? new Val(x) : new Val(null, true);
                    else if (cur.Node is JsonArray arr && int.TryParse(Print(a[i]), out int idx))
                        cur = idx >= 0 && idx < arr.Count ? new Val(arr[idx]) : throw new TemplateException($"error calling index: index out of range: {idx}");
                    else return new Val(null, true);
                }
                return cur;
            }
            case "printf":
                if (a.Count < 1) throw new TemplateException("wrong number of args for printf");
                return S(Printf(Str(a[0]), a.Skip(1).ToList()));
            case "print": return S(string.Concat(a.Select(Str)));
            case "println": return S(string.Join(' ', a.Select(Str)) + "\n");
            case "truncate":
            {
                Need(2);
                string s = Str(a[0]);
                int n = int.Parse(Print(a[1]), CultureInfo.InvariantCulture);
                return S(s.Length > n ? s[..n] : s);
            }
            case "pad":
                Need(3);
                return S(new string(' ', int.Parse(Print(a[1]), CultureInfo.InvariantCulture)) + Str(a[0]) + new string(' ', int.Parse(Print(a[2]), CultureInfo.InvariantCulture)));
            case "eq":
                if (a.Count < 2) throw new TemplateException("wrong number of args for eq");
                return new Val(JsonValue.Create(a.Skip(1).Any(x => Print(x) == Print(a[0]))));
            case "ne": Need(2); return new Val(JsonValue.Create(Print(a[0]) != Print(a[1])));
            case "lt": Need(2); return new Val(JsonValue.Create(Num(a[0]) < Num(a[1])));
            case "le": Need(2); return new Val(JsonValue.Create(Num(a[0]) <= Num(a[1])));
            case "gt": Need(2); return new Val(JsonValue.Create(Num(a[0]) > Num(a[1])));
            case "ge": Need(2); return new Val(JsonValue.Create(Num(a[0]) >= Num(a[1])));
            case "not": Need(1); return new Val(JsonValue.Create(!Truthy(a[0])));
            case "and":
                foreach (var x in a) if (!Truthy(x)) return x;
                return a.Count > 0 ? a[^1] : new Val(null);
            case "or":
                foreach (var x in a) if (Truthy(x)) return x;
                return a.Count > 0 ? a[^1] : new Val(null);
            default:
                throw new TemplateException($"function \"{name}\" not defined");
        }
    }

    private static double Num(Val v) => double.TryParse(Print(v), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : 0;

    /// <summary>Go's fmt verbs %s %v %d %q %f %x with flags '-', '0', width and precision.</summary>
    private static string Printf(string format, List<Val> args)
    {
        var sb = new StringBuilder();
        int ai = 0;
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%' || i + 1 >= format.Length) { sb.Append(c); continue; }
            i++;
            if (format[i] == '%') { sb.Append('%'); continue; }
            bool left = false, zero = false;
            while (i < format.Length && format[i] is '-' or '0' or '+' or ' ' or '#')
            {
                if (format[i] == '-') left = true;
                if (format[i] == '0') zero = true;
                i++;
            }
            int width = 0;
            while (i < format.Length && char.IsAsciiDigit(format[i])) width = width * 10 + (format[i++] - '0');
            int precision = -1;
            if (i < format.Length && format[i] == '.')
            {
                i++;
                precision = 0;
                while (i < format.Length && char.IsAsciiDigit(format[i])) precision = precision * 10 + (format[i++] - '0');
            }
            if (i >= format.Length) { sb.Append("%!(NOVERB)"); break; }
            char verb = format[i];
            if (ai >= args.Count) { sb.Append("%!").Append(verb).Append("(MISSING)"); continue; }
            var v = args[ai++];
            string text = verb switch
            {
                'q' => "\"" + Str(v).Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"",
                'f' => Num(v).ToString("F" + (precision < 0 ? 6 : precision).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
                'd' => ((long)Num(v)).ToString(CultureInfo.InvariantCulture),
                'x' => v.Node is JsonValue jv && jv.GetValueKind() == JsonValueKind.Number ? ((long)Num(v)).ToString("x", CultureInfo.InvariantCulture) : Convert.ToHexStringLower(Encoding.UTF8.GetBytes(Str(v))),
                _ => Str(v),
            };
            if (verb is 's' or 'v' or 'q' && precision >= 0 && text.Length > precision) text = text[..precision];
            if (text.Length < width)
            {
                if (left) text = text.PadRight(width);
                else text = zero && verb is 'd' or 'f' ? text.PadLeft(width, '0') : text.PadLeft(width);
            }
            sb.Append(text);
        }
        return sb.ToString();
    }
}
