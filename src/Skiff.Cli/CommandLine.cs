namespace Skiff.Cli;

/// <summary>How a flag takes its value.</summary>
public enum FlagKind
{
    /// <summary>No value; <c>--x=false</c> is accepted.</summary>
    Bool,
    /// <summary>One value; the last occurrence wins.</summary>
    String,
    /// <summary>Repeatable; every occurrence is kept in order.</summary>
    List,
}

/// <summary>
/// A flag as Docker declares it. <paramref name="Validate"/> runs at parse time and returns an
/// error text (shown as <c>invalid argument "v" for "-m, --memory" flag: text</c>) or null.
/// </summary>
public sealed record FlagSpec(string Long, char Short, FlagKind Kind, Func<string, string?>? Validate = null)
{
    /// <summary>"-m, --memory" or "--rm", as pflag names a flag in errors.</summary>
    public string Display => Short != '\0' ? $"-{Short}, --{Long}" : "--" + Long;
}

/// <summary>A flag error; the CLI prints it with the command's usage line and exits 125.</summary>
public sealed class FlagException(string message) : Exception(message);

/// <summary>The result of parsing one command's arguments.</summary>
public sealed class ParsedArgs
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);

    /// <summary>Arguments that are not flags, in order.</summary>
    public List<string> Positionals { get; } = [];

    internal void Add(string flag, string value)
    {
        if (!_values.TryGetValue(flag, out var list)) _values[flag] = list = [];
        list.Add(value);
    }

    internal void Set(string flag, string value) => _values[flag] = [value];

    /// <summary>True when the flag appeared at least once.</summary>
    public bool Has(string flag) => _values.ContainsKey(flag);

    /// <summary>The last value given, or <paramref name="fallback"/>.</summary>
    public string? Get(string flag, string? fallback = null) => _values.TryGetValue(flag, out var l) ? l[^1] : fallback;

    /// <summary>All values of a repeatable flag (empty when absent).</summary>
    public IReadOnlyList<string> GetAll(string flag) => _values.TryGetValue(flag, out var l) ? l : [];

    /// <summary>A boolean flag's value (absent: false).</summary>
    public bool Bool(string flag) => _values.TryGetValue(flag, out var l) && l[^1] == "true";
}

/// <summary>
/// Parses arguments the way spf13/pflag does for Docker: <c>--name x</c>, <c>--name=x</c>,
/// <c>-n x</c>, <c>-nx</c>, <c>-n=x</c>, combined booleans <c>-it</c>, <c>--</c> ends flags.
/// With <paramref name="stopAtFirstPositional"/> (run, exec, create) the first positional ends
/// flag parsing so the container command keeps its own flags.
/// </summary>
public static class FlagParser
{
    /// <summary>Parses <paramref name="args"/> against <paramref name="flags"/>; throws <see cref="FlagException"/>.</summary>
    public static ParsedArgs Parse(IReadOnlyList<string> args, IReadOnlyList<FlagSpec> flags, bool stopAtFirstPositional)
    {
        var result = new ParsedArgs();
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a == "--")
            {
                for (i++; i < args.Count; i++) result.Positionals.Add(args[i]);
                break;
            }
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                string body = a[2..];
                int eq = body.IndexOf('=');
                string name = eq >= 0 ? body[..eq] : body;
                FlagSpec spec = FindLong(flags, name) ?? throw new FlagException($"unknown flag: --{name}");
                string value;
                if (eq >= 0) value = body[(eq + 1)..];
                else if (spec.Kind == FlagKind.Bool) value = "true";
                else if (i + 1 < args.Count) value = args[++i];
                else throw new FlagException($"flag needs an argument: --{name}");
                Store(result, spec, value);
                continue;
            }
            if (a.Length > 1 && a[0] == '-')
            {
                string shorts = a[1..];
                for (int j = 0; j < shorts.Length; j++)
                {
                    char c = shorts[j];
                    FlagSpec spec = FindShort(flags, c) ?? throw new FlagException($"unknown shorthand flag: '{c}' in {a}");
                    string rest = shorts[(j + 1)..];
                    if (rest.StartsWith('='))
                    {
                        Store(result, spec, rest[1..]);
                        break;
                    }
                    if (spec.Kind == FlagKind.Bool)
                    {
                        Store(result, spec, "true");
                        continue;
                    }
                    if (rest.Length > 0) Store(result, spec, rest);
                    else if (i + 1 < args.Count) Store(result, spec, args[++i]);
                    else throw new FlagException($"flag needs an argument: '{c}' in -{c}");
                    break;
                }
                continue;
            }
            result.Positionals.Add(a);
            if (stopAtFirstPositional)
            {
                for (i++; i < args.Count; i++) result.Positionals.Add(args[i]);
                break;
            }
        }
        return result;
    }

    private static void Store(ParsedArgs result, FlagSpec spec, string value)
    {
        if (spec.Kind == FlagKind.Bool)
        {
            if (!TryParseGoBool(value, out bool b))
                throw new FlagException($"invalid argument \"{value}\" for \"{spec.Display}\" flag: strconv.ParseBool: parsing \"{value}\": invalid syntax");
            result.Set(spec.Long, b ? "true" : "false");
            return;
        }
        if (spec.Validate?.Invoke(value) is { } error)
            throw new FlagException($"invalid argument \"{value}\" for \"{spec.Display}\" flag: {error}");
        if (spec.Kind == FlagKind.List) result.Add(spec.Long, value);
        else result.Set(spec.Long, value);
    }

    /// <summary>Go's strconv.ParseBool.</summary>
    public static bool TryParseGoBool(string s, out bool value)
    {
        switch (s)
        {
            case "1": case "t": case "T": case "true": case "TRUE": case "True": value = true; return true;
            case "0": case "f": case "F": case "false": case "FALSE": case "False": value = false; return true;
            default: value = false; return false;
        }
    }

    private static FlagSpec? FindLong(IReadOnlyList<FlagSpec> flags, string name)
    {
        foreach (var f in flags) if (f.Long == name) return f;
        return null;
    }

    private static FlagSpec? FindShort(IReadOnlyList<FlagSpec> flags, char c)
    {
        foreach (var f in flags) if (f.Short == c) return f;
        return null;
    }
}
