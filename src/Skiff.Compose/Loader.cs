using System.Text.RegularExpressions;

namespace Skiff.Compose;

/// <summary>What selects and shapes a project: Docker Compose's global flags and environment.</summary>
public sealed class LoadOptions
{
    /// <summary>-f files in order; empty: COMPOSE_FILE, else compose.yaml (and the other default names) in the working directory or a parent.</summary>
    public List<string> Files { get; init; } = [];
    /// <summary>-p.</summary>
    public string? ProjectName { get; init; }
    /// <summary>--project-directory (default: the first file's directory).</summary>
    public string? ProjectDirectory { get; init; }
    /// <summary>--env-file (default: .env in the project directory, when it exists).</summary>
    public List<string> EnvFiles { get; init; } = [];
    /// <summary>--profile (default: COMPOSE_PROFILES, comma-separated).</summary>
    public List<string> Profiles { get; init; } = [];
    /// <summary>The process environment (takes precedence over the .env file).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
    /// <summary>The directory the command runs in.</summary>
    public string CurrentDirectory { get; init; } = System.Environment.CurrentDirectory;
    /// <summary>Receives warnings (unset variables, obsolete keys).</summary>
    public Action<string>? Warn { get; init; }
}

/// <summary>
/// Loads a project the way the compose specification says: read each file, interpolate variables
/// from the environment and the .env file, merge the files in order, normalise short syntaxes to
/// long ones, resolve relative paths, apply profiles, and add the implicit <c>default</c> network.
/// </summary>
public static partial class ProjectLoader
{
    /// <summary>The file names looked for when no -f and no COMPOSE_FILE are given, in Docker Compose's order.</summary>
    public static readonly string[] DefaultFileNames = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"];

    private static readonly HashSet<string> TopLevelKeys = ["version", "name", "services", "networks", "volumes", "secrets", "configs", "include"];

    /// <summary>Loads and normalises the project; throws <see cref="ComposeException"/> with Docker Compose's wording.</summary>
    public static Project Load(LoadOptions o)
    {
        var files = ResolveFiles(o);
        string projectDir = Path.GetFullPath(o.ProjectDirectory ?? Path.GetDirectoryName(files[0])!, o.CurrentDirectory);

        // The .env file feeds interpolation and COMPOSE_* settings; the process environment wins.
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        var envFiles = o.EnvFiles.Count > 0 ? o.EnvFiles.Select(f => Path.GetFullPath(f, o.CurrentDirectory)).ToList() : [Path.Combine(projectDir, ".env")];
        foreach (string ef in envFiles)
        {
            if (!File.Exists(ef))
            {
                if (o.EnvFiles.Count > 0) throw new ComposeException($"couldn't find env file: {ef}");
                continue;
            }
            foreach (var (k, v) in DotEnv.Parse(File.ReadAllText(ef), ef, n => o.Environment.TryGetValue(n, out var pv) ? pv : env.GetValueOrDefault(n)))
                env[k] = v;
        }
        foreach (var (k, v) in o.Environment) env[k] = v;

        var interp = new Interpolator(n => env.TryGetValue(n, out var v) ? v : null, o.Warn);
        YMap? merged = null;
        foreach (string file in files)
        {
            string text;
            try
            {
                text = File.ReadAllText(file);
            }
            catch (IOException e)
            {
                throw new ComposeException($"open {file}: {e.Message}");
            }
            var node = YamlReader.Parse(text, file);
            if (node is not YMap map) throw new ComposeException($"Top-level object must be a mapping ({file})");
            foreach (var k in map.Items.Keys)
                if (!TopLevelKeys.Contains(k) && !k.StartsWith("x-", StringComparison.Ordinal))
                    throw new ComposeException($"{file}: (root) Additional property {k} is not allowed");
            interp.ApplyTree(map, "");
            PrepareForMerge(map);
            merged = merged is null ? map : (YMap)Merge(merged, map, "")!;
        }
        merged ??= new YMap();
        if (merged.Has("version")) o.Warn?.Invoke($"{files[0]}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion");
        foreach (string unsupported in new[] { "secrets", "configs", "include" })
            if (merged[unsupported] is YMap { Items.Count: > 0 }) throw new ComposeException($"top-level `{unsupported}` is not supported by skiff compose");

        string name = ProjectName(o, env, merged, projectDir);
        var profiles = o.Profiles.Count > 0 ? o.Profiles
            : env.TryGetValue("COMPOSE_PROFILES", out var cp) ? cp.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList() : [];
        var project = new Project { Name = name, WorkingDir = projectDir, ConfigFiles = files, Environment = env };
        Build(project, merged, profiles, o.Environment);
        return project;
    }

    /// <summary>The -f list, COMPOSE_FILE, or the default file found in the directory or a parent.</summary>
    public static List<string> ResolveFiles(LoadOptions o)
    {
        if (o.Files.Count > 0) return o.Files.Select(f => f == "-" ? throw new ComposeException("reading the compose file from stdin is not supported") : Path.GetFullPath(f, o.CurrentDirectory)).ToList();
        if (o.Environment.TryGetValue("COMPOSE_FILE", out var cf) && cf.Length > 0)
        {
            string sep = o.Environment.TryGetValue("COMPOSE_PATH_SEPARATOR", out var s) && s.Length > 0 ? s : ":";
            return cf.Split(sep, StringSplitOptions.RemoveEmptyEntries).Select(f => Path.GetFullPath(f, o.CurrentDirectory)).ToList();
        }
        for (var dir = new DirectoryInfo(o.CurrentDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (string n in DefaultFileNames)
            {
                string p = Path.Combine(dir.FullName, n);
                if (File.Exists(p))
                {
                    // docker-compose.override.yml / compose.override.yaml are merged after the main file.
                    var list = new List<string> { p };
                    string ov = Path.Combine(dir.FullName, Path.GetFileNameWithoutExtension(n) + ".override" + Path.GetExtension(n));
                    if (File.Exists(ov)) list.Add(ov);
                    return list;
                }
            }
        }
        throw new ComposeException("no configuration file provided: not found");
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]*$")]
    private static partial Regex ValidProjectName();

    /// <summary>Lowercases and drops characters outside [a-z0-9_-], then leading '_' and '-' (Docker Compose's rule for directory names).</summary>
    public static string NormalizeProjectName(string s)
    {
        var chars = s.ToLowerInvariant().Where(c => c is >= 'a' and <= 'z' or >= '0' and <= '9' or '_' or '-').ToArray();
        return new string(chars).TrimStart('_', '-');
    }

    private static string ProjectName(LoadOptions o, Dictionary<string, string> env, YMap merged, string projectDir)
    {
        string? explicitName = o.ProjectName;
        if (string.IsNullOrEmpty(explicitName) && env.TryGetValue("COMPOSE_PROJECT_NAME", out var e) && e.Length > 0) explicitName = e;
        if (string.IsNullOrEmpty(explicitName) && merged["name"] is YScalar n && n.Value.Length > 0) explicitName = n.Value;
        if (!string.IsNullOrEmpty(explicitName))
        {
            if (!ValidProjectName().IsMatch(explicitName))
                throw new ComposeException($"invalid project name \"{explicitName}\": must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number");
            return explicitName;
        }
        string normalized = NormalizeProjectName(Path.GetFileName(projectDir.TrimEnd('/')));
        if (normalized.Length == 0) throw new ComposeException($"project name must not be empty: the directory \"{projectDir}\" has no usable characters; use -p");
        return normalized;
    }

    // ---- merge -------------------------------------------------------------------------------

    /// <summary>Rewrites the list forms that merge by key (environment, labels, depends_on, networks, build) as mappings.</summary>
    private static void PrepareForMerge(YMap root)
    {
        if (root["services"] is not YMap services) return;
        foreach (var (sname, sv) in services.Items)
        {
            if (sv is null) { services.Items[sname] = new YMap(); continue; }
            if (sv is not YMap s) throw new ComposeException($"services.{sname} must be a mapping");
            foreach (string key in new[] { "environment", "labels" })
                if (s[key] is YSeq seq) s[key] = ListToMap(seq, $"services.{sname}.{key}", '=');
            if (s["build"] is YScalar ctx) s["build"] = new YMap { ["context"] = ctx };
            if (s["build"] is YMap b)
                foreach (string key in new[] { "args", "labels" })
                    if (b[key] is YSeq seq) b[key] = ListToMap(seq, $"services.{sname}.build.{key}", '=');
            if (s["depends_on"] is YSeq deps)
            {
                var m = new YMap();
                foreach (var d in deps.Items) m[Text(d, $"services.{sname}.depends_on")] = new YMap { ["condition"] = new YScalar("service_started") };
                s["depends_on"] = m;
            }
            if (s["networks"] is YSeq nets)
            {
                var m = new YMap();
                foreach (var d in nets.Items) m[Text(d, $"services.{sname}.networks")] = null;
                s["networks"] = m;
            }
        }
    }

    private static YMap ListToMap(YSeq seq, string where, char sep)
    {
        var m = new YMap();
        foreach (var item in seq.Items)
        {
            string t = Text(item, where);
            int i = t.IndexOf(sep);
            m[i < 0 ? t : t[..i]] = i < 0 ? null : new YScalar(t[(i + 1)..], true);
        }
        return m;
    }

    /// <summary>
    /// The compose specification's merge: mappings merge key by key, scalars are replaced,
    /// command/entrypoint/healthcheck.test are replaced whole, ports and other sets are
    /// appended without duplicates, service volumes are merged by target path.
    /// </summary>
    public static YNode? Merge(YNode? a, YNode? b, string path)
    {
        if (a is YMap ma && b is YMap mb)
        {
            var r = (YMap)ma.Clone();
            foreach (var (k, v) in mb.Items)
            {
                string p = path.Length == 0 ? k : path + "." + (path == "services" || path is "networks" or "volumes" ? "*" : k);
                r[k] = r.Has(k) ? Merge(r[k], v, p) : v?.Clone();
            }
            return r;
        }
        if (a is YSeq sa && b is YSeq sb)
        {
            string last = path[(path.LastIndexOf('.') + 1)..];
            if (path.StartsWith("services.*.", StringComparison.Ordinal) && last is "command" or "entrypoint" || path == "services.*.healthcheck.test")
                return sb.Clone();
            var r = (YSeq)sa.Clone();
            if (path == "services.*.volumes")
            {
                foreach (var item in sb.Items)
                {
                    string? t = VolumeTarget(item);
                    int idx = r.Items.FindIndex(x => VolumeTarget(x) == t);
                    if (idx >= 0) r.Items[idx] = item?.Clone();
                    else r.Items.Add(item?.Clone());
                }
                return r;
            }
            foreach (var item in sb.Items)
            {
                string key = YamlWriter.Write(item);
                if (!r.Items.Any(x => YamlWriter.Write(x) == key)) r.Items.Add(item?.Clone());
            }
            return r;
        }
        return b?.Clone();
    }

    private static string? VolumeTarget(YNode? n) => n switch
    {
        YScalar s => SplitVolumeSpec(s.Value).Target,
        YMap m => m["target"] is YScalar t ? t.Value : null,
        _ => null,
    };

    // ---- normalisation -----------------------------------------------------------------------

    private static void Build(Project p, YMap root, List<string> profiles, IReadOnlyDictionary<string, string> processEnv)
    {
        if (root["networks"] is YMap nets)
            foreach (var (k, v) in nets.Items) p.Networks[k] = ParseNetwork(p.Name, k, v as YMap);
        else if (root.Has("networks") && root["networks"] is not null) throw new ComposeException("networks must be a mapping");
        if (root["volumes"] is YMap vols)
            foreach (var (k, v) in vols.Items) p.Volumes[k] = ParseVolume(p.Name, k, v as YMap);
        else if (root.Has("volumes") && root["volumes"] is not null) throw new ComposeException("volumes must be a mapping");

        if (root["services"] is YMap services)
        {
            foreach (var (name, node) in services.Items)
            {
                var svc = ParseService(p, name, (YMap)node!, processEnv);
                bool enabled = svc.Profiles.Count == 0 || svc.Profiles.Any(x => profiles.Contains(x) || profiles.Contains("*"));
                (enabled ? p.Services : p.DisabledServices)[name] = svc;
            }
        }
        else if (root.Has("services") && root["services"] is not null) throw new ComposeException("services must be a mapping");

        foreach (var svc in p.Services.Values)
        {
            foreach (var dep in svc.DependsOn.Keys)
            {
                if (p.DisabledServices.ContainsKey(dep) && svc.DependsOn[dep].Required)
                    throw new ComposeException($"service \"{dep}\" is required by \"{svc.Name}\" but is disabled by its profiles");
                if (!p.Services.ContainsKey(dep) && !p.DisabledServices.ContainsKey(dep))
                    throw new ComposeException($"service \"{svc.Name}\" depends on undefined service \"{dep}\": invalid compose project");
            }
            if (svc.Networks.Count == 0 && svc.NetworkMode is null) svc.Networks["default"] = new ServiceNetwork();
            foreach (var net in svc.Networks.Keys)
            {
                if (net == "default" && !p.Networks.ContainsKey("default")) p.Networks["default"] = new NetworkConfig { Name = p.Name + "_default" };
                if (!p.Networks.ContainsKey(net)) throw new ComposeException($"service \"{svc.Name}\" refers to undefined network {net}: invalid compose project");
            }
            foreach (var m in svc.Volumes)
                if (m.Type == "volume" && m.Source is not null && !p.Volumes.ContainsKey(m.Source))
                    throw new ComposeException($"service \"{svc.Name}\" refers to undefined volume {m.Source}: invalid compose project");
            if (svc.Image is null && svc.Build is null)
                throw new ComposeException($"service \"{svc.Name}\" has neither an image nor a build context specified: invalid compose project");
        }
        DependencyOrder(p.Services.Values.ToList(), p);
    }

    /// <summary>Services ordered so every dependency comes first; throws on a cycle.</summary>
    public static List<Service> DependencyOrder(IReadOnlyCollection<Service> services, Project p)
    {
        var order = new List<Service>();
        var state = new Dictionary<string, int>(StringComparer.Ordinal);
        void Visit(Service s, List<string> stack)
        {
            if (state.TryGetValue(s.Name, out int st))
            {
                if (st == 1) throw new ComposeException($"dependency cycle detected: {string.Join(" -> ", stack.SkipWhile(x => x != s.Name).Append(s.Name))}");
                return;
            }
            state[s.Name] = 1;
            stack.Add(s.Name);
            foreach (var d in s.DependsOn.Keys)
                if (p.Services.TryGetValue(d, out var ds)) Visit(ds, stack);
            stack.RemoveAt(stack.Count - 1);
            state[s.Name] = 2;
            order.Add(s);
        }
        foreach (var s in services) Visit(s, []);
        return order;
    }

    private static NetworkConfig ParseNetwork(string project, string key, YMap? m)
        => ParseTopLevel(new NetworkConfig { Name = project + "_" + key }, "networks." + key, key, m, static (n, k, v, where) =>
        {
            switch (k)
            {
                case "internal": n.Internal = Bool(v, where); return true;
                case "attachable": n.Attachable = Bool(v, where); return true;
                case "enable_ipv6": n.EnableIpv6 = Bool(v, where); return true;
                case "ipam":
                    if (v is YMap ipam && ipam["config"] is YSeq cfgs)
                        foreach (var c in cfgs.Items.OfType<YMap>())
                            n.IpamConfig.Add((c["subnet"]?.ToString(), c["gateway"]?.ToString()));
                    return true;
                default: return false;
            }
        });

    private static VolumeConfig ParseVolume(string project, string key, YMap? m)
        => ParseTopLevel(new VolumeConfig { Name = project + "_" + key }, "volumes." + key, key, m, static (_, _, _, _) => false);

    /// <summary>
    /// Fills a top-level network or volume from its map: the keys both have (name, driver, driver_opts, external,
    /// labels) here, the others through <paramref name="own"/> (false for a key it does not know; x- keys are ignored).
    /// An external one without a name is called by its key.
    /// </summary>
    private static T ParseTopLevel<T>(T n, string where, string key, YMap? m, Func<T, string, YNode?, string, bool> own) where T : TopLevelConfig
    {
        if (m is null) return n;
        foreach (var (k, v) in m.Items)
        {
            switch (k)
            {
                case "name": n.Name = Text(v, where + ".name"); break;
                case "driver": n.Driver = Text(v, where + ".driver"); break;
                case "driver_opts": foreach (var (ok, ov) in Map(v, where + ".driver_opts")) n.DriverOpts[ok] = ov ?? ""; break;
                case "external":
                    n.External = v is YMap ? true : Bool(v, where + ".external");
                    if (v is YMap em && em["name"] is YScalar en) n.Name = en.Value;
                    break;
                case "labels": foreach (var (lk, lv) in Map(v, where + ".labels")) n.Labels[lk] = lv ?? ""; break;
                default:
                    if (!own(n, k, v, where + "." + k) && !k.StartsWith("x-", StringComparison.Ordinal))
                        throw new ComposeException($"{where} Additional property {k} is not allowed");
                    break;
            }
        }
        if (n.External && !m.Has("name") && m["external"] is not YMap) n.Name = key;
        return n;
    }

    private static Service ParseService(Project p, string name, YMap m, IReadOnlyDictionary<string, string> processEnv)
    {
        string W(string k) => $"services.{name}.{k}";
        var s = new Service { Name = name, Definition = (YMap)m.Clone() };
        // env_file first: environment entries override it regardless of key order.
        if (m["env_file"] is { } envFiles)
        {
            var items = envFiles is YSeq seq ? seq.Items : [envFiles];
            foreach (var item in items)
            {
                string path;
                bool required = true;
                if (item is YMap em)
                {
                    path = Text(em["path"], W("env_file.path"));
                    if (em["required"] is { } req) required = Bool(req, W("env_file.required"));
                }
                else path = Text(item, W("env_file"));
                string full = Path.GetFullPath(path, p.WorkingDir);
                if (!File.Exists(full))
                {
                    if (required) throw new ComposeException($"env file {full} not found: stat {full}: no such file or directory");
                    continue;
                }
                foreach (var (k, v) in DotEnv.Parse(File.ReadAllText(full), full, n => p.Environment.TryGetValue(n, out var pv) ? pv : null))
                    s.Environment[k] = v;
            }
        }
        foreach (var (k, v) in m.Items)
        {
            switch (k)
            {
                case "image": s.Image = Text(v, W(k)); break;
                case "build": s.Build = ParseBuild(p, (YMap)v!, W(k)); break;
                case "command": s.Command = Command(v, W(k)); break;
                case "entrypoint": s.Entrypoint = Command(v, W(k)); break;
                case "environment":
                    foreach (var (ek, ev) in Map(v, W(k)))
                    {
                        // A bare KEY takes its value from the shell environment, or is left unset.
                        if (ev is not null) s.Environment[ek] = ev;
                        else if (processEnv.TryGetValue(ek, out var pv) || p.Environment.TryGetValue(ek, out pv)) s.Environment[ek] = pv;
                        else s.Environment[ek] = null;
                    }
                    break;
                case "env_file": break;
                case "ports":
                    foreach (var item in Seq(v, W(k))) s.Ports.AddRange(ParsePorts(item, W(k)));
                    break;
                case "expose": foreach (var item in Seq(v, W(k))) s.Expose.Add(Text(item, W(k))); break;
                case "volumes":
                    foreach (var item in Seq(v, W(k))) s.Volumes.Add(ParseMount(p, item, W(k)));
                    break;
                case "tmpfs": s.Tmpfs.AddRange(StringList(v, W(k))); break;
                case "networks":
                    foreach (var (nk, nv) in ((YMap?)v ?? new YMap()).Items)
                    {
                        var sn = new ServiceNetwork();
                        if (nv is YMap nm)
                        {
                            if (nm["aliases"] is { } al) sn.Aliases.AddRange(StringList(al, W("networks." + nk + ".aliases")));
                            foreach (var extra in nm.Items.Keys.Where(x => x != "aliases"))
                                throw new ComposeException($"{W("networks." + nk + "." + extra)} is not supported by skiff compose");
                        }
                        s.Networks[nk] = sn;
                    }
                    break;
                case "network_mode": s.NetworkMode = Text(v, W(k)); break;
                case "depends_on":
                    foreach (var (dk, dv) in ((YMap?)v ?? new YMap()).Items)
                    {
                        var d = new DependsOn();
                        if (dv is YMap dm)
                        {
                            if (dm["condition"] is { } c) d.Condition = Text(c, W("depends_on." + dk + ".condition"));
                            if (dm["required"] is { } r) d.Required = Bool(r, W("depends_on." + dk + ".required"));
                            if (dm["restart"] is { } rs) d.Restart = Bool(rs, W("depends_on." + dk + ".restart"));
                        }
                        if (d.Condition is not ("service_started" or "service_healthy" or "service_completed_successfully"))
                            throw new ComposeException($"{W("depends_on." + dk + ".condition")} must be one of the following: \"service_started\", \"service_healthy\", \"service_completed_successfully\"");
                        s.DependsOn[dk] = d;
                    }
                    break;
                case "healthcheck": s.Healthcheck = ParseHealthcheck(v as YMap, W(k)); break;
                case "restart":
                    s.Restart = Text(v, W(k));
                    if (!Regex.IsMatch(s.Restart, "^(no|always|unless-stopped|on-failure(:[0-9]+)?)$"))
                        throw new ComposeException($"invalid restart policy \"{s.Restart}\" for service {name}");
                    break;
                case "deploy":
                    if (v is YMap dep)
                        foreach (var (dk, dv) in dep.Items)
                        {
                            if (dk == "replicas") s.Replicas = Int(dv, W("deploy.replicas"));
                            else if (dk is "resources" or "restart_policy" or "labels" or "mode" or "placement" or "update_config" or "rollback_config" or "endpoint_mode")
                                throw new ComposeException($"{W("deploy." + dk)} is not supported by skiff compose");
                            else if (!dk.StartsWith("x-", StringComparison.Ordinal)) throw new ComposeException($"{W("deploy")} Additional property {dk} is not allowed");
                        }
                    break;
                case "scale": s.Replicas ??= Int(v, W(k)); break;
                case "labels": foreach (var (lk, lv) in Map(v, W(k))) s.Labels[lk] = lv ?? ""; break;
                case "user": s.User = Text(v, W(k)); break;
                case "working_dir": s.WorkingDir = Text(v, W(k)); break;
                case "profiles": s.Profiles.AddRange(StringList(v, W(k))); break;
                case "container_name": s.ContainerName = Text(v, W(k)); break;
                case "hostname": s.Hostname = Text(v, W(k)); break;
                case "domainname": s.Domainname = Text(v, W(k)); break;
                case "tty": s.Tty = Bool(v, W(k)); break;
                case "stdin_open": s.StdinOpen = Bool(v, W(k)); break;
                case "stop_signal": s.StopSignal = Text(v, W(k)); break;
                case "stop_grace_period": s.StopGracePeriod = Duration(v, W(k)); break;
                case "extra_hosts":
                    if (v is YMap hm) foreach (var (hk, hv) in hm.Items) s.ExtraHosts.Add(hk + ":" + Text(hv, W(k)));
                    else s.ExtraHosts.AddRange(StringList(v, W(k)).Select(h => h.Replace('=', ':')));
                    break;
                case "dns": s.Dns.AddRange(StringList(v, W(k))); break;
                case "cap_add": s.CapAdd.AddRange(StringList(v, W(k))); break;
                case "cap_drop": s.CapDrop.AddRange(StringList(v, W(k))); break;
                case "privileged": s.Privileged = Bool(v, W(k)); break;
                case "read_only": s.ReadOnly = Bool(v, W(k)); break;
                case "init": s.Init = Bool(v, W(k)); break;
                case "pull_policy":
                    s.PullPolicy = Text(v, W(k));
                    if (s.PullPolicy is not ("always" or "never" or "missing" or "if_not_present" or "build"))
                        throw new ComposeException($"invalid pull_policy \"{s.PullPolicy}\" for service {name}");
                    break;
                case "platform": s.Platform = Text(v, W(k)); break;
                default:
                    if (!k.StartsWith("x-", StringComparison.Ordinal)) throw new ComposeException($"services.{name} Additional property {k} is not allowed");
                    break;
            }
        }
        if (s.ContainerName is not null && s.Replicas > 1)
            throw new ComposeException($"services.{name}: can't set container_name and {name} as container name must be unique: invalid compose project");
        return s;
    }

    private static BuildConfig ParseBuild(Project p, YMap m, string where)
    {
        var b = new BuildConfig { Context = p.WorkingDir };
        foreach (var (k, v) in m.Items)
        {
            switch (k)
            {
                case "context": b.Context = Path.GetFullPath(Text(v, where + ".context"), p.WorkingDir); break;
                case "dockerfile": b.Dockerfile = Text(v, where + ".dockerfile"); break;
                case "args":
                    foreach (var (ak, av) in Map(v, where + ".args"))
                        b.Args[ak] = av ?? (p.Environment.TryGetValue(ak, out var ev) ? ev : null);
                    break;
                case "target": b.Target = Text(v, where + ".target"); break;
                case "labels": foreach (var (lk, lv) in Map(v, where + ".labels")) b.Labels[lk] = lv ?? ""; break;
                case "no_cache": b.NoCache = Bool(v, where + ".no_cache"); break;
                case "pull": b.Pull = Bool(v, where + ".pull"); break;
                default:
                    if (!k.StartsWith("x-", StringComparison.Ordinal)) throw new ComposeException($"{where} Additional property {k} is not allowed");
                    break;
            }
        }
        return b;
    }

    private static HealthcheckConfig? ParseHealthcheck(YMap? m, string where)
    {
        if (m is null) return null;
        var h = new HealthcheckConfig();
        foreach (var (k, v) in m.Items)
        {
            switch (k)
            {
                case "test":
                    h.Test = v is YScalar ts ? ["CMD-SHELL", ts.Value] : StringList(v, where + ".test");
                    if (h.Test.Count > 0 && h.Test[0] is not ("NONE" or "CMD" or "CMD-SHELL"))
                        throw new ComposeException($"{where}.test must start either by \"CMD\", \"CMD-SHELL\" or \"NONE\"");
                    break;
                case "interval": h.Interval = Duration(v, where + ".interval"); break;
                case "timeout": h.Timeout = Duration(v, where + ".timeout"); break;
                case "start_period": h.StartPeriod = Duration(v, where + ".start_period"); break;
                case "start_interval": h.StartInterval = Duration(v, where + ".start_interval"); break;
                case "retries": h.Retries = Int(v, where + ".retries"); break;
                case "disable": h.Disable = Bool(v, where + ".disable"); break;
                default: throw new ComposeException($"{where} Additional property {k} is not allowed");
            }
        }
        if (h.Disable) h.Test = ["NONE"];
        return h;
    }

    // ---- ports and volumes -------------------------------------------------------------------

    /// <summary>Parses a short (<c>[ip:][host:]container[/proto]</c>, ranges allowed) or long port entry.</summary>
    public static List<PortConfig> ParsePorts(YNode? item, string where)
    {
        if (item is YMap m)
        {
            var pc = new PortConfig { Target = Int(m["target"], where + ".target") };
            if (m["published"] is { } pub) pc.Published = Text(pub, where + ".published");
            if (m["host_ip"] is { } hip) pc.HostIp = Text(hip, where + ".host_ip");
            if (m["protocol"] is { } pr) pc.Protocol = Text(pr, where + ".protocol");
            if (m["mode"] is { } mo) pc.Mode = Text(mo, where + ".mode");
            return [pc];
        }
        string spec = Text(item, where);
        string proto = "tcp";
        int slash = spec.LastIndexOf('/');
        if (slash >= 0) { proto = spec[(slash + 1)..]; spec = spec[..slash]; }
        string? ip = null;
        if (spec.StartsWith('['))
        {
            int close = spec.IndexOf(']');
            if (close < 0) throw new ComposeException($"invalid port specification: \"{Text(item, where)}\"");
            ip = spec[1..close];
            spec = spec[(close + 1)..].TrimStart(':');
        }
        var parts = spec.Split(':');
        string container, host = "";
        switch (parts.Length)
        {
            case 1: container = parts[0]; break;
            case 2: host = parts[0]; container = parts[1]; break;
            case 3: ip = parts[0]; host = parts[1]; container = parts[2]; break;
            default: throw new ComposeException($"invalid port specification: \"{Text(item, where)}\"");
        }
        var (c0, c1) = Range(container, Text(item, where));
        var result = new List<PortConfig>();
        if (host.Length == 0)
        {
            for (int c = c0; c <= c1; c++) result.Add(new PortConfig { Target = c, HostIp = ip, Protocol = proto });
            return result;
        }
        var (h0, h1) = Range(host, Text(item, where));
        if (c0 == c1 && h0 != h1)
        {
            // One container port on a range of host ports: the daemon picks one of them.
            result.Add(new PortConfig { Target = c0, Published = host, HostIp = ip, Protocol = proto });
            return result;
        }
        if (h1 - h0 != c1 - c0) throw new ComposeException($"invalid port specification: \"{Text(item, where)}\": port ranges don't match");
        for (int i = 0; i <= c1 - c0; i++)
            result.Add(new PortConfig { Target = c0 + i, Published = (h0 + i).ToString(System.Globalization.CultureInfo.InvariantCulture), HostIp = ip, Protocol = proto });
        return result;
    }

    private static (int, int) Range(string s, string whole)
    {
        int dash = s.IndexOf('-');
        if (dash < 0) return (Port(s, whole), Port(s, whole));
        var (a, b) = (Port(s[..dash], whole), Port(s[(dash + 1)..], whole));
        if (b < a) throw new ComposeException($"invalid port specification: \"{whole}\"");
        return (a, b);
    }

    private static int Port(string s, string whole) => int.TryParse(s, out int v) && v is > 0 and <= 65535 ? v : throw new ComposeException($"invalid port specification: \"{whole}\"");

    /// <summary>Splits <c>source:target[:mode]</c> (or a bare target) into its parts.</summary>
    public static (string? Source, string Target, string? Mode) SplitVolumeSpec(string spec)
    {
        var parts = spec.Split(':');
        return parts.Length switch
        {
            1 => (null, parts[0], null),
            2 => parts[1].StartsWith('/') ? (parts[0], parts[1], null) : (null, parts[0], parts[1]),
            _ => (parts[0], parts[1], string.Join(':', parts[2..])),
        };
    }

    private static MountConfig ParseMount(Project p, YNode? item, string where)
    {
        if (item is YMap m)
        {
            string type = m["type"] is { } t ? Text(t, where + ".type") : "volume";
            if (type is not ("volume" or "bind" or "tmpfs")) throw new ComposeException($"{where}.type \"{type}\" is not supported by skiff compose");
            var mc = new MountConfig { Type = type, Target = Text(m["target"], where + ".target"), Source = m["source"] is { } src ? Text(src, where + ".source") : null };
            if (m["read_only"] is { } ro) mc.ReadOnly = Bool(ro, where + ".read_only");
            if (m["volume"] is YMap vo && vo["nocopy"] is { } nc) mc.NoCopy = Bool(nc, where + ".volume.nocopy");
            if (m["bind"] is YMap bo && bo["create_host_path"] is { } ch) mc.CreateHostPath = Bool(ch, where + ".bind.create_host_path");
            if (m["tmpfs"] is YMap to && to["size"] is { } size) mc.TmpfsSize = Bytes(size, where + ".tmpfs.size");
            if (type == "bind")
            {
                if (mc.Source is null) throw new ComposeException($"{where}: a bind mount needs a source");
                mc.Source = HostPath(mc.Source, p.WorkingDir);
            }
            return mc;
        }
        string spec = Text(item, where);
        var (source, target, mode) = SplitVolumeSpec(spec);
        if (!target.StartsWith('/')) throw new ComposeException($"invalid volume specification: \"{spec}\": the target must be an absolute path");
        var modes = (mode ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        foreach (var md in modes)
            if (md is not ("ro" or "rw" or "z" or "Z" or "nocopy" or "cached" or "delegated" or "consistent" or "rprivate" or "private" or "rshared" or "shared" or "rslave" or "slave"))
                throw new ComposeException($"invalid volume specification: \"{spec}\": unknown mode {md}");
        bool readOnly = modes.Contains("ro");
        if (source is null) return new MountConfig { Type = "volume", Target = target, ReadOnly = readOnly };
        if (source.StartsWith('.') || source.StartsWith('/') || source.StartsWith('~'))
            return new MountConfig { Type = "bind", Source = HostPath(source, p.WorkingDir), Target = target, ReadOnly = readOnly, CreateHostPath = true };
        return new MountConfig { Type = "volume", Source = source, Target = target, ReadOnly = readOnly, NoCopy = modes.Contains("nocopy") ? true : null };
    }

    private static string HostPath(string path, string workingDir)
    {
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal))
            path = Path.Combine(Environment.GetEnvironmentVariable("HOME") ?? "/", path.Length > 2 ? path[2..] : "");
        return Path.GetFullPath(path, workingDir).TrimEnd('/') is { Length: > 0 } full ? full : "/";
    }

    // ---- scalar helpers ----------------------------------------------------------------------

    /// <summary>The scalar's text; throws for mappings, sequences and null.</summary>
    public static string Text(YNode? n, string where) => n is YScalar s ? s.Value : throw new ComposeException($"{where} must be a string");

    private static bool Bool(YNode? n, string where)
    {
        string t = Text(n, where).ToLowerInvariant();
        return t switch
        {
            "true" or "yes" or "on" or "y" => true,
            "false" or "no" or "off" or "n" => false,
            _ => throw new ComposeException($"{where} must be a boolean"),
        };
    }

    private static int Int(YNode? n, string where) => int.TryParse(Text(n, where), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int v) ? v : throw new ComposeException($"{where} must be an integer");

    private static List<YNode?> Seq(YNode? n, string where) => n switch
    {
        YSeq s => s.Items,
        null => [],
        _ => throw new ComposeException($"{where} must be a list"),
    };

    private static List<string> StringList(YNode? n, string where) => n switch
    {
        YScalar s => [s.Value],
        YSeq q => q.Items.Select(i => Text(i, where)).ToList(),
        null => [],
        _ => throw new ComposeException($"{where} must be a string or a list of strings"),
    };

    private static List<(string Key, string? Value)> Map(YNode? n, string where) => n switch
    {
        YMap m => m.Items.Select(kv => (kv.Key, kv.Value is null ? null : kv.Value is YScalar s ? s.Value : throw new ComposeException($"{where}.{kv.Key} must be a string, number or boolean"))).ToList(),
        YSeq q => ListToMap(q, where, '=').Items.Select(kv => (kv.Key, kv.Value?.ToString())).ToList(),
        null => [],
        _ => throw new ComposeException($"{where} must be a mapping"),
    };

    private static List<string> Command(YNode? n, string where) => n switch
    {
        YScalar s => ShellWords.Split(s.Value, where),
        YSeq q => q.Items.Select(i => Text(i, where)).ToList(),
        null => [],
        _ => throw new ComposeException($"{where} must be a string or a list"),
    };

    /// <summary>Go duration syntax (<c>1m30s</c>, <c>500ms</c>, <c>10s</c>) in nanoseconds.</summary>
    public static long Duration(YNode? n, string where)
    {
        string t = Text(n, where).Trim();
        if (t == "0") return 0;
        var matches = Regex.Matches(t, "([0-9]+(?:\\.[0-9]+)?)(ns|us|µs|ms|s|m|h)");
        if (matches.Count == 0 || string.Concat(matches.Select(x => x.Value)) != t)
            throw new ComposeException($"{where}: invalid duration \"{t}\"");
        double total = 0;
        foreach (Match x in matches)
        {
            double v = double.Parse(x.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            total += v * x.Groups[2].Value switch { "ns" => 1, "us" or "µs" => 1e3, "ms" => 1e6, "s" => 1e9, "m" => 60e9, _ => 3600e9 };
        }
        return (long)total;
    }

    private static long Bytes(YNode? n, string where)
    {
        string t = Text(n, where).Trim().ToLowerInvariant();
        var m = Regex.Match(t, "^([0-9]+)([kmg]?)b?$");
        if (!m.Success) throw new ComposeException($"{where}: invalid size \"{t}\"");
        long v = long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        return v * m.Groups[2].Value switch { "k" => 1024L, "m" => 1024L * 1024, "g" => 1024L * 1024 * 1024, _ => 1 };
    }
}

/// <summary>Splits a command string into words the way a POSIX shell would (quotes and backslashes; no expansion).</summary>
public static class ShellWords
{
    /// <summary>Splits <paramref name="s"/>; throws on an unterminated quote.</summary>
    public static List<string> Split(string s, string where)
    {
        var words = new List<string>();
        var cur = new System.Text.StringBuilder();
        bool inWord = false;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is ' ' or '\t' or '\n')
            {
                if (inWord) { words.Add(cur.ToString()); cur.Clear(); inWord = false; }
                continue;
            }
            inWord = true;
            if (c == '\\' && i + 1 < s.Length) cur.Append(s[++i]);
            else if (c == '\'')
            {
                int end = s.IndexOf('\'', i + 1);
                if (end < 0) throw new ComposeException($"{where}: unterminated quote in \"{s}\"");
                cur.Append(s, i + 1, end - i - 1);
                i = end;
            }
            else if (c == '"')
            {
                int j = i + 1;
                for (; j < s.Length && s[j] != '"'; j++)
                {
                    if (s[j] == '\\' && j + 1 < s.Length && s[j + 1] is '"' or '\\' or '$' or '`') j++;
                    cur.Append(s[j]);
                }
                if (j >= s.Length) throw new ComposeException($"{where}: unterminated quote in \"{s}\"");
                i = j;
            }
            else cur.Append(c);
        }
        if (inWord) words.Add(cur.ToString());
        return words;
    }
}
