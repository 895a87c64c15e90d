using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Skiff.Archive;
using Skiff.Build.Dockerfile;
using Skiff.Images;

namespace Skiff.Build;

/// <summary>
/// Docker's classic builder on Skiff's image store: one image per instruction, like <c>docker build</c> with
/// <c>DOCKER_BUILDKIT=0</c>. RUN runs through an <see cref="IBuildRunner"/> and its overlay upper dir becomes the step's
/// layer; COPY/ADD write their layer tar straight from the context (never extracting the context onto the host);
/// metadata instructions make config-only images (<c>empty_layer</c> history). Multi-stage builds only build the stages
/// the target needs. Each step is looked up in the <see cref="BuildCache"/> first; a miss says why.
/// </summary>
public sealed partial class Builder
{
    private static readonly string[] DefaultShell = ["/bin/sh", "-c"];
    private const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    private const int MaxRecordedFiles = 2000;

    private readonly ImageStore _store;
    private readonly BuildCache _cache;
    private readonly IBuildRunner _runner;
    private readonly IBaseImageSource? _images;
    private readonly string _tempRoot;

    /// <param name="tempRoot">Scratch space for RUN steps' upper dirs (must be on a file system that supports overlay upper dirs).</param>
    public Builder(ImageStore store, BuildCache cache, IBuildRunner runner, IBaseImageSource? images, string tempRoot)
    {
        _store = store;
        _cache = cache;
        _runner = runner;
        _images = images;
        _tempRoot = tempRoot;
    }

    private sealed class Stage
    {
        public required string Name { get; init; }
        public required int Index { get; init; }
        public required Instruction From { get; init; }
        public List<Instruction> Instructions { get; } = [];
        public string? ImageId { get; set; }
        public bool Built { get; set; }
    }

    /// <summary>The state of the stage being built: its current image and the variables in scope.</summary>
    private sealed class State
    {
        public string? ImageId { get; set; }
        public ContainerConfig Config { get; set; } = new();
        /// <summary>ARGs declared in this stage, with their values (null = declared without a value).</summary>
        public List<KeyValuePair<string, string?>> Args { get; } = [];
        public bool CmdSet { get; set; }
        /// <summary>The stage's MAINTAINER: the <c>author</c> of every image committed after it (Docker's classic builder).</summary>
        public string? Maintainer { get; set; }
        /// <summary>Set once a step was not taken from the cache: every later step of the stage is rebuilt too.</summary>
        public bool Rebuilt { get; set; }
    }

    private sealed class Run
    {
        public required BuildContext Context { get; init; }
        public required BuildOptions Options { get; init; }
        public required IBuildProgress Progress { get; init; }
        public required DockerfileAst Ast { get; init; }
        public required Dictionary<string, string?> MetaArgs { get; init; }
        public required List<Stage> Stages { get; init; }
        /// <summary>The build's target platform (<c>--platform</c> or the engine's).</summary>
        public required BuildPlatform Platform { get; init; }
        public HashSet<string> UsedArgs { get; } = new(StringComparer.Ordinal);
        public int Step { get; set; }
        public int TotalSteps { get; set; }
        public CancellationToken Ct { get; init; }
    }

    /// <summary>Builds the Dockerfile of <paramref name="context"/>; throws <see cref="BuildException"/> (message for the user) on failure.</summary>
    public async Task<BuildResult> BuildAsync(BuildContext context, BuildOptions options, IBuildProgress progress, CancellationToken ct)
    {
        string dockerfilePath = string.IsNullOrEmpty(options.Dockerfile) ? "Dockerfile" : options.Dockerfile;
        string text = context.ReadText(dockerfilePath)
            ?? throw new BuildException($"Cannot locate specified Dockerfile: {dockerfilePath}");
        DockerfileAst ast;
        try { ast = Parser.Parse(text); }
        catch (DockerfileException e) { throw new BuildException(e.Message, e); }

        string? ignore = context.ReadText(".dockerignore");
        if (ignore is not null) context.Apply(DockerIgnore.Parse(ignore));

        // Global ARGs (before the first FROM) and the stages.
        var platform = string.IsNullOrEmpty(options.Platform) ? BuildPlatform.Host : BuildPlatform.Parse(options.Platform);
        var meta = new Dictionary<string, string?>(StringComparer.Ordinal);
        // BuildKit's automatic platform arguments: in scope for FROM lines, and in a stage once it declares them.
        foreach (var (k, v) in BuildPlatform.AutomaticArgs(platform)) meta[k] = options.BuildArgs.TryGetValue(k, out var given) && given is not null ? given : v;
        var stages = new List<Stage>();
        var run = new Run { Context = context, Options = options, Progress = progress, Ast = ast, MetaArgs = meta, Stages = stages, Platform = platform, Ct = ct };
        foreach (var ins in ast.Instructions)
        {
            if (ins.Keyword == "FROM")
            {
                string name = ins.Args.Count == 3 ? ins.Args[2].ToLowerInvariant() : stages.Count.ToString(CultureInfo.InvariantCulture);
                if (ins.Args.Count == 3 && stages.Any(s => s.Name == name))
                    throw Fail(ins, $"duplicate stage name \"{ins.Args[2]}\"");
                stages.Add(new Stage { Name = name, Index = stages.Count, From = ins });
                continue;
            }
            if (stages.Count == 0)
            {
                if (ins.Keyword != "ARG") throw Fail(ins, "no build stage in current context");
                var lex = Lex(ast, k => meta.GetValueOrDefault(k));
                foreach (var p in ins.Pairs)
                {
                    run.UsedArgs.Add(p.Key);
                    meta[p.Key] = options.BuildArgs.TryGetValue(p.Key, out var v) && v is not null ? v
                        : p.Value is null ? (AutomaticArgNames.Contains(p.Key) ? meta.GetValueOrDefault(p.Key) : null) : Expand(ins, () => lex.Word(p.Value));
                }
                continue;
            }
            stages[^1].Instructions.Add(ins);
        }
        if (stages.Count == 0) throw new BuildException("the Dockerfile (" + dockerfilePath + ") cannot be empty");

        Stage target = stages[^1];
        if (!string.IsNullOrEmpty(options.Target))
        {
            target = stages.FirstOrDefault(s => s.Name == options.Target.ToLowerInvariant() && s.From.Args.Count == 3)
                ?? throw new BuildException($"failed to reach build target {options.Target} in Dockerfile");
        }
        if (options.Labels.Count > 0)
        {
            var label = new Instruction
            {
                Keyword = "LABEL", Line = 0,
                Original = "LABEL " + string.Join(' ', options.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => Quote(l.Key) + "=" + Quote(l.Value))),
            };
            foreach (var (k, v) in options.Labels.OrderBy(l => l.Key, StringComparer.Ordinal)) label.Pairs.Add(new KeyValue(Quote(k), Quote(v)));
            target.Instructions.Add(label);
        }

        var needed = Needed(stages, target, ast);
        run.TotalSteps = stages.Where(s => needed.Contains(s.Index)).Sum(s => 1 + s.Instructions.Count);
        foreach (var stage in stages)
        {
            if (!needed.Contains(stage.Index)) continue;
            await BuildStageAsync(run, stage).ConfigureAwait(false);
            if (stage == target) break;
        }

        string id = target.ImageId ?? throw new BuildException("No image was generated. Is your Dockerfile empty?");
        var unused = options.BuildArgs.Keys.Where(k => !run.UsedArgs.Contains(k) && !PredefinedArgs.Contains(k) && !AutomaticArgNames.Contains(k)).Order(StringComparer.Ordinal).ToList();
        if (unused.Count > 0) progress.Stream($"[Warning] One or more build-args [{string.Join(' ', unused)}] were not consumed\n");
        progress.ImageId(id);
        progress.Stream($"Successfully built {id[7..19]}\n");
        var tags = new List<string>();
        foreach (var t in options.Tags)
        {
            try { _store.Tag(id, t); }
            catch (ImageStoreException e) { throw new BuildException(e.Message, e); }
            string shown = ImageReference.Parse(t).WithDefaultTag().Familiar;
            tags.Add(shown);
            progress.Stream($"Successfully tagged {shown}\n");
        }
        return new BuildResult(id, tags);
    }

    private static readonly HashSet<string> AutomaticArgNames = new(BuildPlatform.AutomaticArgs(BuildPlatform.Host).Select(a => a.Key), StringComparer.Ordinal);

    /// <summary>
    /// Docker's predefined arguments: given with <c>--build-arg</c>, RUN steps see them without an ARG, and they stay out of
    /// the image's history and the cache key unless the Dockerfile declares them.
    /// </summary>
    private static readonly HashSet<string> PredefinedArgs = new(StringComparer.Ordinal)
    {
        "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
    };

    /// <summary>The stages the target depends on (FROM another stage, COPY --from), including itself.</summary>
    private static HashSet<int> Needed(List<Stage> stages, Stage target, DockerfileAst ast)
    {
        var needed = new HashSet<int>();
        var queue = new Queue<Stage>([target]);
        while (queue.Count > 0)
        {
            var s = queue.Dequeue();
            if (!needed.Add(s.Index)) continue;
            var refs = new List<string> { s.From.Args[0] };
            foreach (var ins in s.Instructions)
            {
                if (ins.Keyword == "COPY" && ins.Flag("from") is { } f) refs.Add(f);
                if (ins.Keyword == "RUN") refs.AddRange(ins.Mounts.Where(m => m.From.Length > 0).Select(m => m.From));
            }
            foreach (var r in refs)
            {
                var dep = FindStage(stages, r.ToLowerInvariant(), s.Index);
                if (dep is not null) queue.Enqueue(dep);
            }
        }
        _ = ast;
        return needed;
    }

    private static Stage? FindStage(List<Stage> stages, string nameOrIndex, int before)
    {
        foreach (var s in stages)
        {
            if (s.Index >= before) break;
            if ((s.From.Args.Count == 3 && s.Name == nameOrIndex) || s.Index.ToString(CultureInfo.InvariantCulture) == nameOrIndex) return s;
        }
        return null;
    }

    private async Task BuildStageAsync(Run run, Stage stage)
    {
        var p = run.Progress;
        var from = stage.From;
        var metaLex = Lex(run.Ast, k => run.MetaArgs.GetValueOrDefault(k));
        string baseName = Expand(from, () => metaLex.Word(from.Args[0]));
        string? platform = from.Flag("platform") is { } fp ? Expand(from, () => metaLex.Word(fp)) : run.Options.Platform;
        if (platform is { Length: > 0 }) platform = BuildPlatform.Parse(platform).ToString();
        else platform = null;
        run.Step++;
        p.Stream($"Step {run.Step}/{run.TotalSteps} : {from.Original}\n");
        var state = new State();
        if (baseName.Length == 0) throw Fail(from, "base name (" + from.Args[0] + ") should not be blank");
        if (baseName.Equals("scratch", StringComparison.OrdinalIgnoreCase))
        {
            state.Config = new ContainerConfig { Env = ["PATH=" + DefaultPath] };
            p.Stream(" ---> \n");
        }
        else
        {
            var dep = FindStage(run.Stages, baseName.ToLowerInvariant(), stage.Index);
            string id;
            if (dep is not null)
            {
                id = dep.ImageId ?? throw Fail(from, $"stage {dep.Name} produced no image");
            }
            else
            {
                id = await ResolveBaseAsync(baseName, platform, run).ConfigureAwait(false);
            }
            state.ImageId = id;
            var image = _store.Find(id);
            state.Config = image.Config.Config?.Clone() ?? new ContainerConfig();
            p.Stream($" ---> {id[7..19]}\n");
            if (state.Config.OnBuild is { Count: > 0 } triggers)
            {
                p.Stream($"# Executing {triggers.Count} build trigger{(triggers.Count == 1 ? "" : "s")}\n");
                var parsed = new List<Instruction>();
                foreach (var t in triggers)
                {
                    try { parsed.AddRange(Parser.Parse(t).Instructions); }
                    catch (DockerfileException e) { throw new BuildException("failed to parse ONBUILD trigger: " + e.Message, e); }
                }
                state.Config.OnBuild = null;
                foreach (var t in parsed) await StepAsync(run, stage, state, t, trigger: true).ConfigureAwait(false);
            }
        }

        foreach (var ins in stage.Instructions)
        {
            run.Step++;
            p.Stream($"Step {run.Step}/{run.TotalSteps} : {ins.Original}\n");
            await StepAsync(run, stage, state, ins, trigger: false).ConfigureAwait(false);
        }
        stage.ImageId = state.ImageId;
        stage.Built = true;
    }

    private async Task<string> ResolveBaseAsync(string reference, string? platform, Run run)
    {
        if (!run.Options.Pull && _store.TryFind(reference) is { } local) return local.Id;
        if (_images is null)
        {
            if (_store.TryFind(reference) is { } existing) return existing.Id;
            throw new BuildException($"pull access denied for {reference}: the image is not in the local store and this engine cannot pull images");
        }
        try
        {
            return await _images.PullAsync(reference, platform, line => run.Progress.Stream(line + "\n"), run.Ct).ConfigureAwait(false);
        }
        catch (BuildException) when (!run.Options.Pull || _store.TryFind(reference) is null)
        {
            throw;
        }
        catch (BuildException) when (_store.TryFind(reference) is { } fallback)
        {
            return fallback.Id;
        }
    }

    /// <summary>Variables visible to expansion: ENV of the config wins over ARGs of the stage.</summary>
    private static string? Lookup(State s, string name)
    {
        if (s.Config.Env is { } env)
        {
            for (int i = env.Count - 1; i >= 0; i--)
            {
                var e = env[i];
                if (e.Length > name.Length && e[name.Length] == '=' && e.StartsWith(name, StringComparison.Ordinal)) return e[(name.Length + 1)..];
            }
        }
        for (int i = s.Args.Count - 1; i >= 0; i--)
            if (s.Args[i].Key == name) return s.Args[i].Value;
        return null;
    }

    private static ShellWords Lex(DockerfileAst ast, Func<string, string?> lookup) => new(ast.Escape, lookup);

    private static T Expand<T>(Instruction ins, Func<T> f)
    {
        try { return f(); }
        catch (DockerfileException e) { throw Fail(ins, e.Message); }
    }

    private static BuildException Fail(Instruction ins, string message) =>
        new(ins.Line > 0 ? $"dockerfile parse error on line {ins.Line}: {message}" : message);

    private async Task StepAsync(Run run, Stage stage, State state, Instruction ins, bool trigger)
    {
        _ = stage;
        _ = trigger;
        var lex = Lex(run.Ast, k => Lookup(state, k));
        switch (ins.Keyword)
        {
            case "ARG":
                foreach (var p in ins.Pairs)
                {
                    run.UsedArgs.Add(p.Key);
                    string? value;
                    if (run.Options.BuildArgs.TryGetValue(p.Key, out var given) && given is not null) value = given;
                    else if (p.Value is not null) value = Expand(ins, () => lex.Word(p.Value));
                    else value = run.MetaArgs.GetValueOrDefault(p.Key);
                    state.Args.RemoveAll(a => a.Key == p.Key);
                    state.Args.Add(new(p.Key, value));
                }
                await MetaStepAsync(run, state, ins, "ARG " + string.Join(' ', ins.Pairs.Select(p => p.Key + (Lookup(state, p.Key) is { } v ? "=" + v : ""))), _ => { }).ConfigureAwait(false);
                return;
            case "ENV":
            {
                var pairs = ins.Pairs.Select(p => (Key: Expand(ins, () => lex.Word(p.Key)), Value: Expand(ins, () => lex.Word(p.Value ?? "")))).ToList();
                await MetaStepAsync(run, state, ins, "ENV " + string.Join(' ', pairs.Select(p => p.Key + "=" + p.Value)), c =>
                {
                    c.Env ??= [];
                    foreach (var (k, v) in pairs)
                    {
                        c.Env.RemoveAll(e => e == k || e.StartsWith(k + "=", StringComparison.Ordinal));
                        c.Env.Add(k + "=" + v);
                    }
                }).ConfigureAwait(false);
                return;
            }
            case "LABEL":
            {
                var pairs = ins.Pairs.Select(p => (Key: Expand(ins, () => lex.Word(p.Key)), Value: Expand(ins, () => lex.Word(p.Value ?? "")))).ToList();
                await MetaStepAsync(run, state, ins, "LABEL " + string.Join(' ', pairs.Select(p => p.Key + "=" + p.Value)), c =>
                {
                    c.Labels ??= new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (var (k, v) in pairs) c.Labels[k] = v;
                }).ConfigureAwait(false);
                return;
            }
            case "MAINTAINER":
                // Taken as written: MAINTAINER is not among the instructions that expand variables.
                state.Maintainer = ins.Args[0];
                await MetaStepAsync(run, state, ins, ins.Original, _ => { }).ConfigureAwait(false);
                return;
            case "CMD":
            {
                var cmd = CommandLine(state, ins);
                state.CmdSet = true;
                await MetaStepAsync(run, state, ins, "CMD " + JsonSerializer.Serialize(cmd, ImageJsonContext.Default.ListString), c => c.Cmd = cmd).ConfigureAwait(false);
                return;
            }
            case "ENTRYPOINT":
            {
                var ep = CommandLine(state, ins);
                bool resetCmd = !state.CmdSet;
                await MetaStepAsync(run, state, ins, "ENTRYPOINT " + JsonSerializer.Serialize(ep, ImageJsonContext.Default.ListString), c =>
                {
                    c.Entrypoint = ep;
                    if (resetCmd) c.Cmd = null;
                }).ConfigureAwait(false);
                return;
            }
            case "SHELL":
                await MetaStepAsync(run, state, ins, "SHELL " + JsonSerializer.Serialize(ins.Args, ImageJsonContext.Default.ListString), c => c.Shell = [.. ins.Args]).ConfigureAwait(false);
                return;
            case "USER":
            {
                string user = Expand(ins, () => lex.Word(ins.Args[0]));
                await MetaStepAsync(run, state, ins, "USER " + user, c => c.User = user).ConfigureAwait(false);
                return;
            }
            case "STOPSIGNAL":
            {
                string sig = Expand(ins, () => lex.Word(ins.Args[0]));
                await MetaStepAsync(run, state, ins, "STOPSIGNAL " + sig, c => c.StopSignal = sig).ConfigureAwait(false);
                return;
            }
            case "EXPOSE":
            {
                var ports = new List<string>();
                foreach (var w in ins.Args)
                    foreach (var spec in Expand(ins, () => lex.Words(w))) ports.AddRange(Ports(ins, spec));
                await MetaStepAsync(run, state, ins, "EXPOSE " + string.Join(' ', ports), c =>
                {
                    c.ExposedPorts ??= new Dictionary<string, EmptyObject>(StringComparer.Ordinal);
                    foreach (var port in ports) c.ExposedPorts[port] = new EmptyObject();
                }).ConfigureAwait(false);
                return;
            }
            case "VOLUME":
            {
                var vols = new List<string>();
                foreach (var w in ins.Args) vols.AddRange(ins.Json ? [Expand(ins, () => lex.Word(w))] : Expand(ins, () => lex.Words(w)));
                if (vols.Any(v => v.Trim().Length == 0)) throw Fail(ins, "VOLUME specified can not be an empty string");
                await MetaStepAsync(run, state, ins, "VOLUME " + JsonSerializer.Serialize(vols, ImageJsonContext.Default.ListString), c =>
                {
                    c.Volumes ??= new Dictionary<string, EmptyObject>(StringComparer.Ordinal);
                    foreach (var v in vols) c.Volumes[v] = new EmptyObject();
                }).ConfigureAwait(false);
                return;
            }
            case "HEALTHCHECK":
            {
                var hc = new HealthConfig { Test = [.. ins.Args] };
                foreach (var (name, value) in ins.Flags)
                {
                    if (name == "retries") { hc.Retries = int.Parse(value, CultureInfo.InvariantCulture); continue; }
                    Durations.TryParse(value, out long ns);
                    switch (name)
                    {
                        case "interval": hc.Interval = ns; break;
                        case "timeout": hc.Timeout = ns; break;
                        case "start-period": hc.StartPeriod = ns; break;
                        case "start-interval": hc.StartInterval = ns; break;
                    }
                }
                await MetaStepAsync(run, state, ins, "HEALTHCHECK " + JsonSerializer.Serialize(hc.Test, ImageJsonContext.Default.ListString)
                    + string.Concat(ins.Flags.Select(f => " --" + f.Key + "=" + f.Value)), c => c.Healthcheck = hc).ConfigureAwait(false);
                return;
            }
            case "ONBUILD":
            {
                string trigger2 = ins.Original["ONBUILD".Length..].Trim();
                await MetaStepAsync(run, state, ins, "ONBUILD " + trigger2, c => (c.OnBuild ??= []).Add(trigger2)).ConfigureAwait(false);
                return;
            }
            case "WORKDIR":
                await WorkdirAsync(run, state, ins, lex).ConfigureAwait(false);
                return;
            case "RUN":
                await RunStepAsync(run, stage, state, ins, lex).ConfigureAwait(false);
                return;
            case "COPY":
            case "ADD":
                await CopyStepAsync(run, state, ins, lex).ConfigureAwait(false);
                return;
            default:
                throw Fail(ins, $"unknown instruction: {ins.Keyword}");
        }
    }

    private static List<string> CommandLine(State state, Instruction ins)
    {
        if (ins.Json) return [.. ins.Args];
        var shell = state.Config.Shell is { Count: > 0 } s ? s : [.. DefaultShell];
        return [.. shell, ins.Args[0]];
    }

    private static IEnumerable<string> Ports(Instruction ins, string spec)
    {
        string proto = "tcp";
        int slash = spec.IndexOf('/');
        if (slash >= 0) { proto = spec[(slash + 1)..].ToLowerInvariant(); spec = spec[..slash]; }
        if (proto is not ("tcp" or "udp" or "sctp")) throw Fail(ins, $"invalid proto: {proto}");
        int colon = spec.LastIndexOf(':');
        if (colon >= 0) spec = spec[(colon + 1)..];
        int dash = spec.IndexOf('-');
        if (!ushort.TryParse(dash < 0 ? spec : spec[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out ushort lo)
            || !ushort.TryParse(dash < 0 ? spec : spec[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out ushort hi) || hi < lo)
            throw Fail(ins, $"invalid containerPort: {spec}");
        for (int port = lo; port <= hi; port++) yield return $"{port}/{proto}";
    }

    private static string Quote(string s) => s.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '\\' or '$' or '=')
        ? "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("$", "\\$") + "\""
        : s;

    /// <summary>Build arguments in effect for RUN (declared in the stage, with a value), sorted.</summary>
    private static List<string> ArgsInEffect(State state) =>
        state.Args.Where(a => a.Value is not null).Select(a => a.Key + "=" + a.Value).Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// Looks the step up in the cache. On a hit the stage moves to the cached image; on a miss the reason is printed
    /// (unless the whole build runs without cache or an earlier step of the stage was already rebuilt).
    /// </summary>
    private bool TryCache(Run run, State state, string instruction, string key, StepRecord? previous, string argsHash, Dictionary<string, string>? files)
    {
        if (run.Options.NoCache) return false;
        if (previous is not null && previous.Key == key && _store.Exists(previous.ImageId))
        {
            state.ImageId = previous.ImageId;
            state.Config = _store.Find(previous.ImageId).Config.Config?.Clone() ?? new ContainerConfig();
            run.Progress.Stream($" ---> Using cache\n ---> {previous.ImageId[7..19]}\n");
            return true;
        }
        if (!state.Rebuilt || previous is not null)
            run.Progress.Stream(" ---> Cache miss: " + MissReason(previous, argsHash, files) + "\n");
        _ = instruction;
        return false;
    }

    private string MissReason(StepRecord? previous, string argsHash, Dictionary<string, string>? files)
    {
        if (previous is null) return "no earlier build of this step on this parent image";
        if (previous.Key.Length > 0 && !_store.Exists(previous.ImageId)) return "the cached image was removed";
        if (previous.Args != argsHash) return "build arguments changed";
        if (files is not null && previous.Files is not null)
        {
            var changed = files.Where(f => !previous.Files.TryGetValue(f.Key, out var h) || h != f.Value).Select(f => f.Key)
                .Concat(previous.Files.Keys.Where(k => !files.ContainsKey(k))).Distinct().Order(StringComparer.Ordinal).ToList();
            if (changed.Count > 0)
                return "source files changed: " + string.Join(", ", changed.Take(5)) + (changed.Count > 5 ? $" and {changed.Count - 5} more" : "");
        }
        return "source content changed";
    }

    private static string Key(params string?[] parts)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var p in parts)
        {
            h.AppendData(Encoding.UTF8.GetBytes(p ?? "<null>"));
            h.AppendData("\n"u8);
        }
        return Convert.ToHexStringLower(h.GetHashAndReset());
    }

    private void Remember(string stepId, string key, string imageId, string argsHash, Dictionary<string, string>? files)
    {
        _cache.Put(stepId, new StepRecord
        {
            Key = key, ImageId = imageId, Args = argsHash, Created = DateTime.UtcNow,
            Files = files is not null && files.Count <= MaxRecordedFiles ? files : null,
        });
    }

    /// <summary>A config-only step: cached on (parent, instruction after expansion).</summary>
    private Task MetaStepAsync(Run run, State state, Instruction ins, string canonical, Action<ContainerConfig> apply)
    {
        string stepId = BuildCache.StepId(state.ImageId, canonical);
        string key = Key(state.ImageId, canonical);
        var previous = _cache.Get(stepId);
        if (TryCache(run, state, canonical, key, previous, "", null)) return Task.CompletedTask;
        state.Rebuilt = true;
        string container = IntermediateContainer(run);
        var config = state.Config.Clone();
        apply(config);
        state.Config = config;
        var image = Commit(state, "/bin/sh -c #(nop)  " + canonical, null);
        Remember(stepId, key, image.Id, "", null);
        run.Progress.Stream($"Removing intermediate container {container}\n ---> {image.ShortId}\n");
        return Task.CompletedTask;
    }

    /// <summary>
    /// Prints Docker's " ---> Running in &lt;id&gt;" for a step that Docker's classic builder commits from a container
    /// (RUN, WORKDIR and the metadata instructions, never COPY/ADD or FROM) and returns the short ID to name when it is
    /// "removed". Metadata steps need no container here; the lines keep the output what scripts expect from Docker 20.10.
    /// </summary>
    private static string IntermediateContainer(Run run)
    {
        string id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        run.Progress.Stream($" ---> Running in {id}\n");
        return id;
    }

    private Image Commit(State state, string createdBy, Action<Stream>? layer)
    {
        Image image;
        try
        {
            image = _store.Derive(new DeriveOptions
            {
                ParentImageId = state.ImageId, Config = state.Config, CreatedBy = createdBy, WriteLayer = layer, Author = state.Maintainer,
            });
        }
        catch (ImageStoreException e)
        {
            throw new BuildException(e.Message, e);
        }
        state.ImageId = image.Id;
        state.Config = image.Config.Config?.Clone() ?? new ContainerConfig();
        return image;
    }

    private async Task WorkdirAsync(Run run, State state, Instruction ins, ShellWords lex)
    {
        string dir = Expand(ins, () => lex.Word(ins.Args[0]));
        if (!dir.StartsWith('/')) dir = (state.Config.WorkingDir is { Length: > 0 } wd ? wd : "/").TrimEnd('/') + "/" + dir;
        dir = "/" + SourceTrees.Clean(dir);
        string canonical = "WORKDIR " + dir;
        string stepId = BuildCache.StepId(state.ImageId, canonical);
        string key = Key(state.ImageId, canonical);
        var previous = _cache.Get(stepId);
        if (TryCache(run, state, canonical, key, previous, "", null)) return;
        state.Rebuilt = true;
        string container = IntermediateContainer(run);
        state.Config = state.Config.Clone();
        state.Config.WorkingDir = dir;
        var tree = ImageTreeOf(state.ImageId);
        string resolved = tree is null ? SourceTrees.Clean(dir) : SourceTrees.Resolve(tree, dir, followFinal: true);
        Action<Stream>? layer = null;
        if (tree?.Lookup(resolved) is not { Type: TarEntryType.Directory })
        {
            layer = s =>
            {
                using var w = new TarWriter(s, leaveOpen: true);
                WriteParents(w, tree, resolved, includeSelf: true, null, new HashSet<string>(StringComparer.Ordinal));
                w.Finish();
            };
        }
        var image = Commit(state, "/bin/sh -c #(nop) " + canonical, layer);
        Remember(stepId, key, image.Id, "", null);
        run.Progress.Stream($"Removing intermediate container {container}\n ---> {image.ShortId}\n");
        await Task.CompletedTask.ConfigureAwait(false);
    }

    private ImageTree? ImageTreeOf(string? imageId) => imageId is null ? null : new ImageTree(_store.LayerPaths(imageId), _store.Ids);

    private async Task RunStepAsync(Run run, Stage stage, State state, Instruction ins, ShellWords lex)
    {
        List<string> argv;
        if (ins.Json)
        {
            argv = [.. ins.Args];
        }
        else
        {
            string script = ins.Args[0];
            if (ins.Heredocs.Count > 0)
            {
                var lone = ins.Heredocs.Count == 1 && System.Text.RegularExpressions.Regex.IsMatch(script.Trim(), @"^<<-?[""']?" + ins.Heredocs[0].Name + @"[""']?$");
                script = lone ? ins.Heredocs[0].Content : script + "\n" + string.Concat(ins.Heredocs.Select(h => h.Content + h.Name + "\n"));
            }
            var shell = state.Config.Shell is { Count: > 0 } s ? s : [.. DefaultShell];
            argv = [.. shell, script];
        }
        var args = ArgsInEffect(state);
        string createdBy = (args.Count > 0 ? $"|{args.Count} {string.Join(' ', args)} " : "") + string.Join(' ', argv);
        string network = ins.Flag("network") ?? run.Options.Network;
        // BuildKit runs --security=insecure steps privileged only when the build grants the entitlement; Skiff grants none.
        if (ins.Flag("security") is { } security && security != "sandbox")
            throw Fail(ins, security == "insecure" ? "security.insecure is not allowed: builds run every step sandboxed" : $"unsupported security mode: {security}");
        if (network is not ("default" or "none" or "host")) throw Fail(ins, $"unsupported network mode: {network}");
        string id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        string dir = Path.Combine(_tempRoot, id[..16]);
        var mounts = await PrepareMountsAsync(run, stage, state, ins, lex, dir).ConfigureAwait(false);
        try
        {
            string canonical = "RUN " + createdBy + (network != "default" ? " --network=" + network : "")
                + string.Concat(mounts.KeyParts.Select(k => " --mount=" + k));
            string stepId = BuildCache.StepId(state.ImageId, "RUN " + string.Join(' ', argv));
            string argsHash = Key([.. args]);
            string key = Key(state.ImageId, canonical);
            var previous = _cache.Get(stepId);
            if (TryCache(run, state, canonical, key, previous, argsHash, null)) return;
            state.Rebuilt = true;
            await RunContainerAsync(run, state, ins, argv, createdBy, network, mounts, id, dir, stepId, key, argsHash).ConfigureAwait(false);
        }
        finally
        {
            ReleaseMounts(mounts);
        }
    }

    private async Task RunContainerAsync(Run run, State state, Instruction ins, List<string> argv, string createdBy, string network,
        PreparedMounts mounts, string id, string dir, string stepId, string key, string argsHash)
    {
        string upper = Path.Combine(dir, "upper"), work = Path.Combine(dir, "work");
        Directory.CreateDirectory(upper);
        Directory.CreateDirectory(work);
        // The upper dir is the root directory of the step's rootfs: it belongs to the (remapped) root.
        if (_store.Ids is { } ids) Skiff.Linux.LinuxException.ThrowIfError(Skiff.Linux.Libc.chown(upper, (uint)ids.RootUid, (uint)ids.RootGid), "chown", upper);
        try
        {
            MaterializeMounts(mounts);
            run.Progress.Stream($" ---> Running in {id[..12]}\n");
            var env = new List<string>(state.Config.Env ?? []);
            if (!env.Any(e => e.StartsWith("PATH=", StringComparison.Ordinal))) env.Insert(0, "PATH=" + DefaultPath);
            foreach (var a in state.Args)
            {
                if (a.Value is null || env.Any(e => e.StartsWith(a.Key + "=", StringComparison.Ordinal))) continue;
                env.Add(a.Key + "=" + a.Value);
            }
            foreach (var (k, v) in run.Options.BuildArgs)
            {
                if (v is null || !PredefinedArgs.Contains(k) || env.Any(e => e.StartsWith(k + "=", StringComparison.Ordinal))) continue;
                env.Add(k + "=" + v);
            }
            if (mounts.SshAuthSock is { } sock && !env.Any(e => e.StartsWith("SSH_AUTH_SOCK=", StringComparison.Ordinal)))
                env.Add("SSH_AUTH_SOCK=" + sock);
            var decoder = new Utf8Stream(run.Progress, run.Options.Quiet);
            int exit = await _runner.RunAsync(new BuildRunRequest
            {
                Id = id,
                LowerDirs = state.ImageId is null ? [] : _store.LayerPaths(state.ImageId),
                UpperDir = upper,
                WorkDir = work,
                Args = argv,
                Env = env,
                User = state.Config.User ?? "",
                WorkingDir = state.Config.WorkingDir is { Length: > 0 } wd ? wd : "/",
                Network = network,
                ExtraHosts = run.Options.ExtraHosts,
                Mounts = mounts.Mounts,
            }, decoder.Write, run.Ct).ConfigureAwait(false);
            decoder.Flush();
            RemoveMountPoints(state.ImageId, upper, mounts.Targets);
            if (exit != 0)
            {
                string shown = ins.Json ? JsonSerializer.Serialize(argv, ImageJsonContext.Default.ListString) : string.Join(' ', argv);
                throw new BuildStepFailedException($"The command '{shown}' returned a non-zero code: {exit}", exit);
            }
            var image = Commit(state, createdBy, s => DirectoryArchiver.WriteTree(upper, s, new ArchiveOptions { OverlayDiff = true, Ids = _store.Ids }));
            Remember(stepId, key, image.Id, argsHash, null);
            run.Progress.Stream($"Removing intermediate container {id[..12]}\n ---> {image.ShortId}\n");
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Forwards container output as text, never splitting a UTF-8 sequence across two messages.</summary>
    private sealed class Utf8Stream(IBuildProgress progress, bool quiet)
    {
        private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();
        private readonly Lock _lock = new();

        public void Write(ReadOnlyMemory<byte> data)
        {
            if (quiet) return;
            lock (_lock)
            {
                var chars = new char[Encoding.UTF8.GetMaxCharCount(data.Length)];
                int n = _decoder.GetChars(data.Span, chars, flush: false);
                if (n > 0) progress.Stream(new string(chars, 0, n));
            }
        }

        public void Flush()
        {
            lock (_lock)
            {
                var chars = new char[8];
                int n = _decoder.GetChars(ReadOnlySpan<byte>.Empty, chars, flush: true);
                if (n > 0) progress.Stream(new string(chars, 0, n));
            }
        }
    }
}
