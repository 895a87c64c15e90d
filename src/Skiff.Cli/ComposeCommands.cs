using System.Collections;
using System.Runtime.InteropServices;
using System.Text;
using Skiff.Client.Models;
using Skiff.Compose;

namespace Skiff.Cli;

/// <summary>
/// <c>skiff compose</c>: Docker Compose's command group. This file only parses flags and prints;
/// loading and running the project is Skiff.Compose's.
/// </summary>
public static class ComposeCommands
{
    private static FlagSpec F(string l, char s = '\0') => new(l, s, FlagKind.Bool);
    private static FlagSpec S(string l, char s = '\0') => new(l, s, FlagKind.String);
    private static FlagSpec L(string l, char s = '\0') => new(l, s, FlagKind.List);

    /// <summary>The compose group's own flags (before the subcommand).</summary>
    public static readonly FlagSpec[] GlobalFlags =
    [
        L("file", 'f'), S("project-name", 'p'), L("profile"), S("project-directory"), L("env-file"),
        S("ansi"), F("compatibility"), S("parallel"), F("dry-run"), S("progress"),
    ];

    private sealed record Sub(string Usage, string Summary, FlagSpec[] Flags, Func<CliContext, ParsedArgs, ParsedArgs, Task<int>> Run, int Min = 0, int Max = -1, bool StopAtFirst = false);

    private static readonly Dictionary<string, Sub> Subs = new(StringComparer.Ordinal)
    {
        ["up"] = new("up [OPTIONS] [SERVICE...]", "Create and start containers",
            [F("detach", 'd'), F("build"), F("no-build"), F("force-recreate"), F("no-recreate"), F("no-start"), F("no-deps"), F("remove-orphans"),
             L("scale"), S("timeout", 't'), F("abort-on-container-exit"), S("exit-code-from"), F("wait"), S("pull"), F("no-color"), F("no-log-prefix"),
             F("quiet-pull"), F("attach-dependencies"), F("always-recreate-deps"), F("renew-anon-volumes", 'V'), F("timestamps"), S("wait-timeout")], Up),
        ["down"] = new("down [OPTIONS] [SERVICES]", "Stop and remove containers, networks", [F("volumes", 'v'), S("rmi"), S("timeout", 't'), F("remove-orphans")], Down, 0, 0),
        ["ps"] = new("ps [OPTIONS] [SERVICE...]", "List containers", [F("all", 'a'), F("quiet", 'q'), F("services"), S("format"), L("status"), L("filter"), F("no-trunc")], Ps),
        ["logs"] = new("logs [OPTIONS] [SERVICE...]", "View output from containers", [F("follow", 'f'), S("tail", 'n'), S("since"), S("until"), F("timestamps", 't'), F("no-color"), F("no-log-prefix"), S("index")], Logs),
        ["exec"] = new("exec [OPTIONS] SERVICE COMMAND [ARGS...]", "Execute a command in a running container",
            [F("detach", 'd'), F("no-TTY", 'T'), F("interactive", 'i'), F("tty", 't'), S("user", 'u'), S("workdir", 'w'), L("env", 'e'), S("index"), F("privileged")], Exec, 2, -1, true),
        ["run"] = new("run [OPTIONS] SERVICE [COMMAND] [ARGS...]", "Run a one-off command on a service",
            [F("detach", 'd'), F("rm"), S("name"), S("entrypoint"), L("env", 'e'), L("label", 'l'), S("user", 'u'), S("workdir", 'w'), F("no-deps"), F("service-ports"),
             F("no-TTY", 'T'), F("interactive", 'i'), F("tty", 't'), F("build"), S("pull"), F("quiet-pull"), F("use-aliases"), L("publish", 'p'), L("volume", 'v'), F("remove-orphans")], Run, 1, -1, true),
        ["build"] = new("build [OPTIONS] [SERVICE...]", "Build or rebuild services", [L("build-arg"), F("no-cache"), F("pull"), F("quiet", 'q'), S("progress")], Build),
        ["pull"] = new("pull [OPTIONS] [SERVICE...]", "Pull service images", [F("ignore-pull-failures"), F("quiet", 'q'), F("include-deps"), F("ignore-buildable"), S("policy")], Pull),
        ["push"] = new("push [OPTIONS] [SERVICE...]", "Push service images", [F("ignore-push-failures"), F("quiet", 'q'), F("include-deps")], Push),
        ["config"] = new("config [OPTIONS] [SERVICE...]", "Parse, resolve and render compose file in canonical format",
            [F("services"), F("volumes"), F("networks"), F("profiles"), F("images"), F("quiet", 'q'), S("output", 'o'), S("format"), F("no-interpolate"), F("resolve-image-digests")], Config),
        ["restart"] = new("restart [OPTIONS] [SERVICE...]", "Restart service containers", [S("timeout", 't'), F("no-deps")], Restart),
        ["stop"] = new("stop [OPTIONS] [SERVICE...]", "Stop services", [S("timeout", 't')], Stop),
        ["start"] = new("start [SERVICE...]", "Start services", [], Start),
        ["rm"] = new("rm [OPTIONS] [SERVICE...]", "Removes stopped service containers", [F("force", 'f'), F("stop", 's'), F("volumes", 'v')], Rm),
        ["version"] = new("version [OPTIONS]", "Show the Docker Compose version information", [S("format", 'f'), F("short")], Version, 0, 0),
    };

    /// <summary>skiff compose [OPTIONS] COMMAND</summary>
    public static async Task<int> Run(CliContext ctx, ParsedArgs global)
    {
        if (global.Positionals.Count == 0 || global.Positionals[0] is "help" or "--help")
        {
            PrintHelp(ctx.Out);
            return 0;
        }
        string name = global.Positionals[0];
        if (!Subs.TryGetValue(name, out var sub))
        {
            ctx.Err.WriteLine($"unknown skiff command: \"compose {name}\"");
            return 1;
        }
        ParsedArgs a;
        try
        {
            a = FlagParser.Parse(global.Positionals.Skip(1).ToList(), [.. sub.Flags, new FlagSpec("help", '\0', FlagKind.Bool)], sub.StopAtFirst);
        }
        catch (FlagException e)
        {
            ctx.Err.WriteLine(e.Message);
            ctx.Err.WriteLine($"Usage:  skiff compose {sub.Usage}");
            return 1;
        }
        if (a.Bool("help"))
        {
            PrintSubHelp(ctx.Out, sub);
            return 0;
        }
        int count = a.Positionals.Count;
        if (count < sub.Min || (sub.Max >= 0 && count > sub.Max))
        {
            ctx.Err.WriteLine(sub.Max == 0 ? $"\"compose {name}\" accepts no arguments" : $"\"compose {name}\" requires at least {sub.Min} argument{(sub.Min == 1 ? "" : "s")}");
            ctx.Err.WriteLine($"Usage:  skiff compose {sub.Usage}");
            return 1;
        }
        try
        {
            return await sub.Run(ctx, global, a).ConfigureAwait(false);
        }
        catch (ComposeException e)
        {
            ctx.Out.Flush();
            ctx.Err.WriteLine(e.Message);
            return 1;
        }
    }

    private static void PrintHelp(TextWriter w)
    {
        var sb = new StringBuilder("\nUsage:  skiff compose [OPTIONS] COMMAND\n\nDefine and run multi-container applications\n\nCommands:\n");
        foreach (var (n, s) in Subs.OrderBy(kv => kv.Key, StringComparer.Ordinal)) sb.Append("  ").Append(n.PadRight(12)).Append(s.Summary).Append('\n');
        sb.Append("\nOptions:\n  -f, --file list              Compose configuration files\n  -p, --project-name string     Project name\n      --profile list            Specify a profile to enable\n      --project-directory string   Specify an alternate working directory\n      --env-file list           Specify an alternate environment file\n");
        w.Write(sb.ToString());
    }

    private static void PrintSubHelp(TextWriter w, Sub s)
    {
        var sb = new StringBuilder($"\nUsage:  skiff compose {s.Usage}\n\n{s.Summary}\n");
        if (s.Flags.Length > 0)
        {
            sb.Append("\nOptions:\n");
            foreach (var f in s.Flags.OrderBy(f => f.Long, StringComparer.Ordinal))
                sb.Append(f.Short != '\0' ? $"  -{f.Short}, --{f.Long}" : $"      --{f.Long}").Append(f.Kind == FlagKind.Bool ? "" : f.Kind == FlagKind.List ? " list" : " string").Append('\n');
        }
        w.Write(sb.ToString());
    }

    private static Project Load(CliContext ctx, ParsedArgs g)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables()) env[(string)e.Key] = (string?)e.Value ?? "";
        return ProjectLoader.Load(new LoadOptions
        {
            Files = g.GetAll("file").ToList(),
            ProjectName = g.Get("project-name"),
            ProjectDirectory = g.Get("project-directory"),
            EnvFiles = g.GetAll("env-file").ToList(),
            Profiles = g.GetAll("profile").SelectMany(p => p.Split(',', StringSplitOptions.RemoveEmptyEntries)).ToList(),
            Environment = env,
            Warn = w => ctx.Err.WriteLine("WARN[0000] " + w),
        });
    }

    private static ComposeEngine Engine(CliContext ctx, Project p) => new(ctx.Client, p, ctx.Out, ctx.Err) { RegistryAuth = Credentials.RegistryAuthHeader };

    private static int? Timeout(ParsedArgs a) => a.Get("timeout") is { } t ? int.TryParse(t, out int v) ? v : throw new ComposeException($"invalid argument \"{t}\" for \"-t, --timeout\" flag: strconv.ParseInt: parsing \"{t}\": invalid syntax") : null;

    private static async Task<int> Up(CliContext ctx, ParsedArgs g, ParsedArgs a)
    {
        var p = Load(ctx, g);
        var scale = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var s in a.GetAll("scale"))
        {
            int eq = s.IndexOf('=');
            if (eq <= 0 || !int.TryParse(s[(eq + 1)..], out int n) || n < 0) throw new ComposeException($"invalid --scale value \"{s}\": expected SERVICE=NUM");
            scale[s[..eq]] = n;
        }
        string? exitFrom = a.Get("exit-code-from");
        bool abort = a.Bool("abort-on-container-exit") || exitFrom is not null;
        bool detach = a.Bool("detach");
        if (detach && abort) throw new ComposeException("--abort-on-container-exit and --detach are incompatible");
        if (exitFrom is not null && !p.Services.ContainsKey(exitFrom)) throw new ComposeException($"no such service: {exitFrom}");
        var engine = Engine(ctx, p);
        long since = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var cts = new CancellationTokenSource();
        var containers = await engine.UpAsync(new UpOptions
        {
            Services = a.Positionals.ToList(),
            Build = a.Bool("build"),
            NoBuild = a.Bool("no-build"),
            ForceRecreate = a.Bool("force-recreate"),
            NoRecreate = a.Bool("no-recreate"),
            NoStart = a.Bool("no-start"),
            NoDeps = a.Bool("no-deps"),
            RemoveOrphans = a.Bool("remove-orphans"),
            Pull = a.Get("pull"),
            Scale = scale,
            Timeout = Timeout(a),
            Wait = a.Bool("wait"),
        }).ConfigureAwait(false);
        if (detach || a.Bool("no-start")) return 0;

        // Attached: follow the output of the named services (all when none are named; their
        // dependencies too with --attach-dependencies) until they stop; Ctrl-C stops them.
        var attachTo = a.Positionals.Count == 0 || a.Bool("attach-dependencies") ? containers : containers.Where(c => a.Positionals.Contains(ComposeEngine.ServiceOf(c))).ToList();
        bool colour = !a.Bool("no-color") && Terminal.IsTerminal(1);
        ctx.Out.Flush();
        var printer = new LogPrinter(ctx.Out, colour, a.Bool("no-log-prefix"));
        int interrupts = 0;
        var stopping = new TaskCompletionSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c =>
        {
            c.Cancel = true;
            if (Interlocked.Increment(ref interrupts) == 1)
            {
                ctx.Err.WriteLine("Gracefully stopping... (press Ctrl+C again to force)");
                _ = Task.Run(async () =>
                {
                    try { await engine.StopAsync(attachTo.Select(ComposeEngine.ServiceOf).Distinct().ToList(), Timeout(a)).ConfigureAwait(false); }
                    catch (Exception) { }
                    stopping.TrySetResult();
                });
            }
            else cts.Cancel();
        });
        try
        {
            int code = await Attacher.RunAsync(engine, attachTo, printer, new LogOptions { Since = since.ToString(System.Globalization.CultureInfo.InvariantCulture), Timestamps = a.Bool("timestamps") }, abort, exitFrom, Timeout(a), cts.Token).ConfigureAwait(false);
            if (interrupts > 0) await stopping.Task.ConfigureAwait(false);
            return interrupts > 0 ? 130 : code;
        }
        catch (OperationCanceledException)
        {
            return 130;
        }
    }

    private static async Task<int> Down(CliContext ctx, ParsedArgs g, ParsedArgs a)
    {
        var p = Load(ctx, g);
        await Engine(ctx, p).DownAsync(a.Bool("volumes"), a.Get("rmi"), Timeout(a), a.Bool("remove-orphans")).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> Ps(CliContext ctx, ParsedArgs g, ParsedArgs a)
    {
        var p = Load(ctx, g);
        var engine = Engine(ctx, p);
        var containers = await engine.ListContainersAsync(a.Positionals, false).ConfigureAwait(false);
        var oneOffs = await engine.ListContainersAsync(a.Positionals, true).ConfigureAwait(false);
        containers.AddRange(oneOffs);
        var statuses = a.GetAll("status").ToHashSet(StringComparer.Ordinal);
        foreach (var f in a.GetAll("filter"))
        {
            if (f.StartsWith("status=", StringComparison.Ordinal)) statuses.Add(f["status=".Length..]);
            else throw new ComposeException($"invalid filter \"{f}\": only status=... is supported");
        }
        if (!a.Bool("all") && statuses.Count == 0) containers = containers.Where(c => c.State is "running" or "paused" or "restarting").ToList();
        if (statuses.Count > 0) containers = containers.Where(c => statuses.Contains(c.State ?? "")).ToList();
        if (a.Bool("services"))
        {
            foreach (var s in containers.Select(ComposeEngine.ServiceOf).Distinct()) ctx.Out.WriteLine(s);
            return 0;
        }
        if (a.Bool("quiet"))
        {
            foreach (var c in containers) ctx.Out.WriteLine(c.Id);
            return 0;
        }
        if (a.Get("format") is { } fmt && fmt != "table") throw new ComposeException($"--format {fmt} is not supported by skiff compose ps");
        var tw = new TabWriter(0, 3);
        tw.Write("NAME\tIMAGE\tCOMMAND\tSERVICE\tCREATED\tSTATUS\tPORTS\n");
        var now = DateTimeOffset.UtcNow;
        bool noTrunc = a.Bool("no-trunc");
        foreach (var c in containers)
        {
            string command = Api.GoQuote(noTrunc ? c.Command ?? "" : Formatting.Ellipsis(c.Command ?? "", 20));
            string created = Units.HumanDuration(now - DateTimeOffset.FromUnixTimeSeconds(c.Created)) + " ago";
            tw.Write($"{ComposeEngine.NameOf(c)}\t{c.Image}\t{command}\t{ComposeEngine.ServiceOf(c)}\t{created}\t{c.Status}\t{ListCommands.DisplayablePorts(c.Ports ?? [])}\n");
        }
        ctx.Out.Write(tw.Flush());
        return 0;
    }

    private static async Task<int> Logs(CliContext ctx, ParsedArgs g, ParsedArgs a)
    {
        var p = Load(ctx, g);
        var engine = Engine(ctx, p);
        var containers = await engine.ListContainersAsync(a.Positionals, null).ConfigureAwait(false);
        if (a.Get("index") is { } idx) containers = containers.Where(c => ComposeEngine.NumberOf(c).ToString(System.Globalization.CultureInfo.InvariantCulture) == idx).ToList();
        var now = DateTimeOffset.UtcNow;
        var lo = new LogOptions
        {
            Follow = a.Bool("follow"),
            Tail = a.Get("tail"),
            Since = a.Get("since") is { } s ? Units.GetTimestamp(s, now) : null,
            Until = a.Get("until") is { } u ? Units.GetTimestamp(u, now) : null,
            Timestamps = a.Bool("timestamps"),
        };
        ctx.Out.Flush();
        var printer = new LogPrinter(ctx.Out, !a.Bool("no-color") && Terminal.IsTerminal(1), a.Bool("no-log-prefix"));
        var named = containers.Select(c => (c, name: LogPrinter.DisplayName(c, p.Name))).ToList();
        foreach (var (c, name) in named) printer.Register(name, ComposeEngine.ServiceOf(c));
        await Task.WhenAll(named.Select(async n =>
        {
            using var doc = await engine.InspectAsync(n.c.Id).ConfigureAwait(false);
            bool tty = doc.RootElement.GetProperty("Config").TryGetProperty("Tty", out var t) && t.GetBoolean();
            await printer.StreamAsync(ctx.Client, n.c, n.name, tty, lo, CancellationToken.None).ConfigureAwait(false);
        })).ConfigureAwait(false);
        return 0;
    }

    private static async Task<ContainerSummary> FindContainer(ComposeEngine engine, string service, string? index)
    {
        if (!engine.Project.Services.ContainsKey(service)) throw new ComposeException($"no such service: {service}");
        int n = 1;
        if (index is not null && !int.TryParse(index, out n)) throw new ComposeException($"invalid --index \"{index}\"");
        var list = await engine.ListContainersAsync([service], false).ConfigureAwait(false);
        var running = list.Where(c => c.State == "running").ToList();
        return (index is null ? running.FirstOrDefault() : running.FirstOrDefault(c => ComposeEngine.NumberOf(c) == n))
            ?? throw new ComposeException($"service \"{service}\" is not running");
    }

    private static async Task<int> Exec(CliContext ctx, ParsedArgs g, ParsedArgs a)
    {
        var p = Load(ctx, g);
        var engine = Engine(ctx, p);
        var c = await FindContainer(engine, a.Positionals[0], a.Get("index")).ConfigureAwait(false);
        bool tty = a.Has("tty") ? a.Bool("tty") : !a.Bool("no-TTY") && Terminal.IsTerminal(0);
        var args = new List<string>();
        if (a.Bool("detach")) args.Add("-d");
        if (!a.Has("interactive") || a.Bool("interactive")) args.Add("-i");
        if (tty) args.Add("-t");
        if (a.Get("user") is { } user) args.AddRange(["-u", user]);
        if (a.Get("workdir") is { } wd) args.AddRange(["-w", wd]);
        foreach (var e in a.GetAll("env")) args.AddRange(["-e", e]);
        if (a.Bool("privileged")) args.Add("--privileged");
        args.Add(c.Id);
        args.AddRange(a.Positionals.Skip(1));
        return await ContainerCommands.Exec(ctx, FlagParser.Parse(args, Commands.Exec.Flags, true)).ConfigureAwait(false);
    }

    private static async Task<int> Run(CliContext ctx, ParsedArgs g, ParsedArgs a)
    {
        if (a.GetAll("publish").Count > 0 || a.GetAll("volume").Count > 0)
            throw new ComposeException("compose run --publish and --volume are not supported by skiff compose");
        var p = Load(ctx, g);
        var engine = Engine(ctx, p);
        bool detach = a.Bool("detach");
        bool tty = a.Has("tty") ? a.Bool("tty") : !a.Bool("no-TTY") && !detach && Terminal.IsTerminal(0);
        bool interactive = !detach && (!a.Has("interactive") || a.Bool("interactive"));
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var l in a.GetAll("label")) labels[l.Split('=', 2)[0]] = l.Contains('=') ? l.Split('=', 2)[1] : "";
        var (id, name) = await engine.CreateRunContainerAsync(a.Positionals[0], new RunFlags
        {
            Command = a.Positionals.Skip(1).ToList(),
            Name = a.Get("name"),
            Entrypoint = a.Get("entrypoint"),
            User = a.Get("user"),
            WorkDir = a.Get("workdir"),
            Env = a.GetAll("env").ToList(),
            Labels = labels,
            Tty = tty,
            Interactive = interactive,
            Detach = detach,
            NoDeps = a.Bool("no-deps"),
            ServicePorts = a.Bool("service-ports"),
            Build = a.Bool("build"),
            Pull = a.Get("pull"),
        }).ConfigureAwait(false);
        if (detach)
        {
            await engine.StartContainerAsync(id).ConfigureAwait(false);
            ctx.Out.WriteLine(name);
            return 0;
        }
        ctx.Err.Flush();
        var args = new List<string> { "-a" };
        if (interactive) args.Add("-i");
        args.Add(id);
        try
        {
            return await ContainerCommands.Start(ctx, FlagParser.Parse(args, Commands.Start.Flags, false)).ConfigureAwait(false);
        }
        finally
        {
            if (a.Bool("rm")) await engine.RemoveContainerAsync(id, true, true).ConfigureAwait(false);
        }
    }

    private static async Task<int> Build(CliContext ctx, ParsedArgs g, ParsedArgs a)
    {
        var p = Load(ctx, g);
        var engine = Engine(ctx, p);
        var flags = new BuildFlags { BuildArgs = a.GetAll("build-arg").ToList(), NoCache = a.Bool("no-cache"), Pull = a.Bool("pull"), Quiet = a.Bool("quiet") };
        foreach (var s in engine.Select(a.Positionals, noDeps: true).Where(s => s.Build is not null))
            await engine.BuildServiceAsync(s, flags, CancellationToken.None).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> Pull(CliContext ctx, ParsedArgs g, ParsedArgs a)
    {
        var p = Load(ctx, g);
        var engine = Engine(ctx, p);
        var names = a.Bool("include-deps") ? engine.Select(a.Positionals).Select(s => s.Name).ToList() : a.Positionals.ToList();
        await engine.PullAsync(names, a.Bool("ignore-pull-failures")).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> Push(CliContext ctx, ParsedArgs g, ParsedArgs a)
    {
        var p = Load(ctx, g);
        var engine = Engine(ctx, p);
        var names = a.Bool("include-deps") ? engine.Select(a.Positionals).Select(s => s.Name).ToList() : a.Positionals.ToList();
        await engine.PushAsync(names, a.Bool("ignore-push-failures")).ConfigureAwait(false);
        return 0;
    }

    private static Task<int> Config(CliContext ctx, ParsedArgs g, ParsedArgs a)
    {
        if (a.Get("format") is { } fmt && fmt != "yaml") throw new ComposeException($"unsupported format \"{fmt}\": skiff compose config writes yaml");
        var p = Load(ctx, g);
        if (a.Positionals.Count > 0)
        {
            var keep = new ComposeEngine(ctx.Client, p, ctx.Out, ctx.Err).Select(a.Positionals).Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var k in p.Services.Keys.Where(k => !keep.Contains(k)).ToList()) p.Services.Remove(k);
        }
        var w = ctx.Out;
        if (a.Bool("quiet")) return Task.FromResult(0);
        if (a.Bool("services")) { foreach (var s in p.Services.Keys) w.WriteLine(s); return Task.FromResult(0); }
        if (a.Bool("volumes")) { foreach (var v in p.Volumes.Keys) w.WriteLine(v); return Task.FromResult(0); }
        if (a.Bool("networks")) { foreach (var n in p.Networks.Keys) w.WriteLine(n); return Task.FromResult(0); }
        if (a.Bool("profiles"))
        {
            foreach (var pr in p.Services.Values.Concat(p.DisabledServices.Values).SelectMany(s => s.Profiles).Distinct().Order(StringComparer.Ordinal)) w.WriteLine(pr);
            return Task.FromResult(0);
        }
        if (a.Bool("images")) { foreach (var s in p.Services.Values) w.WriteLine(s.Image ?? $"{p.Name}-{s.Name}"); return Task.FromResult(0); }
        string yaml = ConfigWriter.Write(p);
        if (a.Get("output") is { } file) File.WriteAllText(file, yaml);
        else w.Write(yaml);
        return Task.FromResult(0);
    }

    private static async Task<int> Restart(CliContext ctx, ParsedArgs g, ParsedArgs a)
    {
        var p = Load(ctx, g);
        await Engine(ctx, p).RestartAsync(a.Positionals, Timeout(a)).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> Stop(CliContext ctx, ParsedArgs g, ParsedArgs a)
    {
        var p = Load(ctx, g);
        await Engine(ctx, p).StopAsync(a.Positionals, Timeout(a)).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> Start(CliContext ctx, ParsedArgs g, ParsedArgs a)
    {
        var p = Load(ctx, g);
        await Engine(ctx, p).StartAsync(a.Positionals).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> Rm(CliContext ctx, ParsedArgs g, ParsedArgs a)
    {
        var p = Load(ctx, g);
        var engine = Engine(ctx, p);
        var list = await engine.RemovableAsync(a.Positionals, a.Bool("stop")).ConfigureAwait(false);
        if (list.Count == 0)
        {
            ctx.Err.WriteLine("No stopped containers");
            return 0;
        }
        if (!a.Bool("force"))
        {
            ctx.Err.Write($"Going to remove {string.Join(", ", list.Select(ComposeEngine.NameOf))}\n? Are you sure? [y/N] ");
            string? answer = Console.In.ReadLine();
            if (answer?.Trim().ToLowerInvariant() is not ("y" or "yes")) return 0;
        }
        await engine.RemoveAsync(list, a.Bool("volumes")).ConfigureAwait(false);
        return 0;
    }

    private static Task<int> Version(CliContext ctx, ParsedArgs g, ParsedArgs a)
    {
        ctx.Out.WriteLine(a.Bool("short") ? Labels.ComposeVersion : $"Skiff Compose version {Labels.ComposeVersion}");
        return Task.FromResult(0);
    }
}
