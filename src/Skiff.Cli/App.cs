using System.Text;
using Skiff.Client;

namespace Skiff.Cli;

/// <summary>A command: Docker's name, usage line, flags and argument count rules.</summary>
public sealed record CommandDef(
    string Name,
    string Usage,
    string Summary,
    FlagSpec[] Flags,
    Func<CliContext, ParsedArgs, Task<int>> Run,
    int MinArgs = 0,
    int MaxArgs = -1,
    bool StopAtFirstPositional = false);

/// <summary>An error the CLI prints as-is (after the optional prefix) and exits with <see cref="ExitCode"/>.</summary>
public sealed class CliException(string message, int exitCode = 1) : Exception(message)
{
    /// <summary>The process exit status.</summary>
    public int ExitCode { get; } = exitCode;
}

/// <summary>Per-invocation state: the daemon client (created on first use) and the output writers.</summary>
public sealed class CliContext(EngineEndpoint endpoint, TextWriter stdout, TextWriter stderr) : IDisposable
{
    private EngineClient? _client;

    /// <summary>The selected daemon address.</summary>
    public EngineEndpoint Endpoint { get; } = endpoint;

    /// <summary>Buffered standard output; flush before writing raw bytes to fd 1.</summary>
    public TextWriter Out { get; } = stdout;

    /// <summary>Standard error (autoflushed).</summary>
    public TextWriter Err { get; } = stderr;

    /// <summary>The API client, connecting lazily so commands that fail on flags never touch the socket.</summary>
    public EngineClient Client => _client ??= new EngineClient(Endpoint, Environment.GetEnvironmentVariable("SKIFF_API_VERSION"));

    /// <summary>Raw standard output for container streams (tests substitute a buffer).</summary>
    public Stream RawOut { get; init; } = FdStream.Stdout();

    /// <summary>Raw standard error for container streams (tests substitute a buffer).</summary>
    public Stream RawErr { get; init; } = FdStream.Stderr();

    /// <summary>The command being run (for "Run 'skiff X --help'" lines).</summary>
    public string CommandName { get; set; } = "";

    /// <inheritdoc/>
    public void Dispose() => _client?.Dispose();
}

/// <summary>Entry point logic: global flags, host selection, dispatch, Docker-style error reporting.</summary>
public static class App
{
    /// <summary>The CLI's own version, reported by <c>skiff version</c>.</summary>
    public const string Version = "0.1.0";

    private static readonly FlagSpec[] GlobalFlags =
    [
        new("host", 'H', FlagKind.List),
        new("debug", 'D', FlagKind.Bool),
        new("log-level", 'l', FlagKind.String),
        new("config", '\0', FlagKind.String),
        new("context", 'c', FlagKind.String),
        new("tls", '\0', FlagKind.Bool),
        new("tlsverify", '\0', FlagKind.Bool),
        new("version", 'v', FlagKind.Bool),
        new("help", '\0', FlagKind.Bool),
    ];

    /// <summary>Runs the CLI and returns the exit status.</summary>
    public static Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr) => RunAsync(args, stdout, stderr, null, null);

    /// <summary>Runs the CLI with explicit raw output streams for container output (null: the process's fds).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, Stream? rawOut, Stream? rawErr)
    {
        // Global flags end at the first positional (the command name).
        int cmdIndex = 0;
        ParsedArgs global;
        try
        {
            var globalArgs = new List<string>();
            for (; cmdIndex < args.Length; cmdIndex++)
            {
                string a = args[cmdIndex];
                if (!a.StartsWith('-') || a == "-") break;
                globalArgs.Add(a);
                if (a is "-H" or "--host" or "-l" or "--log-level" or "--config" or "-c" or "--context")
                {
                    if (++cmdIndex < args.Length) globalArgs.Add(args[cmdIndex]);
                }
            }
            global = FlagParser.Parse(globalArgs, GlobalFlags, false);
        }
        catch (FlagException e)
        {
            stderr.WriteLine(e.Message);
            stderr.WriteLine();
            stderr.WriteLine("Usage:  skiff [OPTIONS] COMMAND");
            stderr.WriteLine();
            stderr.WriteLine("Run 'skiff --help' for more information");
            return 125;
        }
        if (global.Bool("version"))
        {
            stdout.WriteLine($"Skiff version {Version}");
            return 0;
        }
        string[] rest = args[cmdIndex..];
        if (rest.Length == 0 || global.Bool("help") || rest[0] == "help")
        {
            if (rest.Length > 1 && rest[0] == "help") rest = [rest[1], "--help"];
            else
            {
                PrintMainHelp(stdout);
                return 0;
            }
        }

        var hosts = global.GetAll("host");
        if (hosts.Count > 1)
        {
            stderr.WriteLine("Specify only one -H");
            return 1;
        }
        string host = hosts.Count == 1 ? hosts[0] : Environment.GetEnvironmentVariable("SKIFF_HOST") is { Length: > 0 } env ? env : EngineEndpoint.DefaultHost;
        EngineEndpoint endpoint;
        try
        {
            endpoint = EngineEndpoint.Parse(host);
        }
        catch (FormatException e)
        {
            stderr.WriteLine(e.Message);
            return 1;
        }

        var (def, cmdArgs) = Resolve(rest);
        if (def is null)
        {
            stderr.WriteLine($"skiff: unknown command: skiff {string.Join(' ', rest.TakeWhile(a => !a.StartsWith('-')).Take(2))}");
            stderr.WriteLine();
            stderr.WriteLine("Run 'skiff --help' for more information");
            return 1;
        }

        using var ctx = new CliContext(endpoint, stdout, stderr) { CommandName = def.Name, RawOut = rawOut ?? FdStream.Stdout(), RawErr = rawErr ?? FdStream.Stderr() };
        ParsedArgs parsed;
        try
        {
            parsed = FlagParser.Parse(cmdArgs, [.. def.Flags, new FlagSpec("help", '\0', FlagKind.Bool)], def.StopAtFirstPositional);
        }
        catch (FlagException e)
        {
            stderr.WriteLine(e.Message);
            stderr.WriteLine();
            stderr.WriteLine($"Usage:  skiff {def.Usage}");
            stderr.WriteLine();
            stderr.WriteLine($"Run 'skiff {def.Name} --help' for more information");
            return 125;
        }
        if (parsed.Bool("help"))
        {
            PrintCommandHelp(stdout, def);
            return 0;
        }
        if (ArgCountError(def, parsed.Positionals.Count) is { } countError)
        {
            stderr.WriteLine($"skiff: 'skiff {def.Name}' {countError}");
            stderr.WriteLine();
            stderr.WriteLine($"Usage:  skiff {def.Usage}");
            stderr.WriteLine();
            stderr.WriteLine($"{(def.Name is "run" or "create" ? "See" : "Run")} 'skiff {def.Name} --help' for more information");
            return 1;
        }

        try
        {
            return await def.Run(ctx, parsed).ConfigureAwait(false);
        }
        catch (CliException e)
        {
            stdout.Flush();
            if (e.Message.Length > 0) stderr.WriteLine(e.Message);
            return e.ExitCode;
        }
        catch (EngineApiException e)
        {
            stdout.Flush();
            stderr.WriteLine(e.DisplayMessage);
            return 1;
        }
        catch (EngineConnectionException e)
        {
            stdout.Flush();
            stderr.WriteLine(e.Message);
            return 1;
        }
        catch (EngineStreamException e)
        {
            stdout.Flush();
            stderr.WriteLine(e.Message);
            return 1;
        }
        catch (TemplateException e)
        {
            stdout.Flush();
            string prefix = def.Name.Contains("inspect", StringComparison.Ordinal) ? "template parsing error: " : e.Execution ? "failed to execute template: " : "failed to parse template: ";
            stderr.WriteLine(prefix + e.Message);
            return 1;
        }
        catch (HttpRequestException e)
        {
            stdout.Flush();
            stderr.WriteLine("error during connect: " + (e.InnerException?.Message ?? e.Message));
            return 1;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidDataException or FormatException or UnauthorizedAccessException)
        {
            stdout.Flush();
            stderr.WriteLine("Error: " + e.Message);
            return 1;
        }
        catch (BrokenPipeException)
        {
            return 141;
        }
        catch (IOException e) when (e.InnerException is BrokenPipeException)
        {
            return 141;
        }
        catch (IOException e)
        {
            stdout.Flush();
            stderr.WriteLine("error during connect: " + e.Message);
            return 1;
        }
    }

    /// <summary>Docker's cobra argument-count messages.</summary>
    public static string? ArgCountError(CommandDef def, int count)
    {
        static string Arg(int n) => n == 1 ? "argument" : "arguments";
        if (def.MaxArgs == 0 && count > 0) return "accepts no arguments";
        if (def.MinArgs == def.MaxArgs && count != def.MinArgs) return $"requires {def.MinArgs} {Arg(def.MinArgs)}";
        if (count < def.MinArgs) return $"requires at least {def.MinArgs} {Arg(def.MinArgs)}";
        if (def.MaxArgs >= 0 && count > def.MaxArgs) return $"requires at most {def.MaxArgs} {Arg(def.MaxArgs)}";
        return null;
    }

    /// <summary>Finds the command for the leading words; management forms ("container ls") map to the same definitions.</summary>
    public static (CommandDef? Def, string[] Args) Resolve(string[] rest)
    {
        string first = rest[0];
        if (Commands.Groups.TryGetValue(first, out var group))
        {
            if (rest.Length < 2 || rest[1].StartsWith('-'))
                return (null, rest);
            if (group.TryGetValue(rest[1], out var sub)) return (sub, rest[2..]);
            return (null, rest);
        }
        return Commands.TopLevel.TryGetValue(first, out var def) ? (def, rest[1..]) : (null, rest);
    }

    private static void PrintMainHelp(TextWriter w)
    {
        w.WriteLine("Usage:  skiff [OPTIONS] COMMAND");
        w.WriteLine();
        w.WriteLine("A Docker-compatible container engine client");
        w.WriteLine();
        w.WriteLine("Commands:");
        foreach (var d in Commands.TopLevel.Values.DistinctBy(d => d.Name).OrderBy(d => d.Name, StringComparer.Ordinal))
            w.WriteLine($"  {d.Name,-10} {d.Summary}");
        w.WriteLine();
        w.WriteLine("Management Commands:");
        foreach (var g in Commands.Groups.Keys.Order(StringComparer.Ordinal)) w.WriteLine($"  {g}");
        w.WriteLine();
        w.WriteLine("Global Options:");
        w.WriteLine("  -H, --host string   Daemon socket to connect to (default: $SKIFF_HOST, else unix:///run/skiff/skiff.sock)");
        w.WriteLine("  -v, --version       Print version information and quit");
    }

    private static void PrintCommandHelp(TextWriter w, CommandDef def)
    {
        var sb = new StringBuilder();
        sb.Append("\nUsage:  skiff ").Append(def.Usage).Append("\n\n").Append(def.Summary).Append("\n\nOptions:\n");
        var lines = def.Flags.OrderBy(f => f.Long, StringComparer.Ordinal).Select(f =>
        {
            string left = f.Short != '\0' ? $"  -{f.Short}, --{f.Long}" : $"      --{f.Long}";
            if (f.Kind != FlagKind.Bool) left += f.Kind == FlagKind.List ? " list" : " string";
            return (left, Help.Describe(f.Long));
        }).ToList();
        int width = lines.Count == 0 ? 0 : lines.Max(l => l.left.Length) + 3;
        foreach (var (left, text) in lines) sb.Append((left.PadRight(width) + text).TrimEnd()).Append('\n');
        if (lines.Count == 0) sb.Length -= "\nOptions:\n".Length;
        w.Write(sb.ToString());
    }
}
