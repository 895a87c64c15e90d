using System.Globalization;
using Skiff.Client.Models;

namespace Skiff.Cli;

/// <summary>What <c>run</c>/<c>create</c> flags turn into: the create body plus the client-side settings.</summary>
public sealed class ContainerSpec
{
    /// <summary>Body of POST /containers/create.</summary>
    public required ContainerCreateRequest Body { get; init; }
    /// <summary>The <c>name</c> query parameter.</summary>
    public string? Name { get; init; }
    /// <summary>The <c>platform</c> query parameter.</summary>
    public string? Platform { get; init; }
    /// <summary>--pull: missing (default), always, never.</summary>
    public string Pull { get; init; } = "missing";
    /// <summary>-d: start and print the ID instead of attaching.</summary>
    public bool Detach { get; init; }
    /// <summary>--detach-keys, passed to attach and used by the local escape detector.</summary>
    public string? DetachKeys { get; init; }
    /// <summary>--sig-proxy: forward SIGINT/SIGTERM to the container (non-tty attached runs).</summary>
    public bool SigProxy { get; init; } = true;
    /// <summary>--cidfile: where to write the new container's ID.</summary>
    public string? CidFile { get; init; }
}

/// <summary>
/// Maps Docker's run/create flags onto the Engine API create body, following Docker's CLI
/// (cli/command/container/opts.go): env files before -e, label files before -l, -v with a
/// container path is a bind else an anonymous volume, attach streams default to stdout+stderr
/// (+stdin with -i) unless -d or -a, --entrypoint "" resets the entrypoint.
/// </summary>
public static class RunOptions
{
    private static string? Size(string v) => Units.TryParseRamInBytes(v, out _);
    private static string? SizeOrMinusOne(string v) => v == "-1" ? null : Units.TryParseRamInBytes(v, out _);
    private static string? Int64(string v) => long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out _) ? null : $"strconv.ParseInt: parsing \"{v}\": invalid syntax";
    private static string? Int32(string v) => int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out _) ? null : $"strconv.ParseInt: parsing \"{v}\": invalid syntax";
    private static string? Duration(string v) => Units.TryParseGoDuration(v, out _) ? null : $"time: invalid duration \"{v}\"";
    private static string? Decimal(string v) => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out _) ? null : $"failed to parse {v} as a rational number";

    /// <summary>The flags of <c>run</c> (and, minus -d/--rm semantics, <c>create</c>).</summary>
    public static readonly FlagSpec[] Flags =
    [
        new("detach", 'd', FlagKind.Bool),
        new("rm", '\0', FlagKind.Bool),
        new("interactive", 'i', FlagKind.Bool),
        new("tty", 't', FlagKind.Bool),
        new("init", '\0', FlagKind.Bool),
        new("privileged", '\0', FlagKind.Bool),
        new("read-only", '\0', FlagKind.Bool),
        new("no-healthcheck", '\0', FlagKind.Bool),
        new("publish-all", 'P', FlagKind.Bool),
        new("oom-kill-disable", '\0', FlagKind.Bool),
        new("sig-proxy", '\0', FlagKind.Bool),
        new("disable-content-trust", '\0', FlagKind.Bool),
        new("quiet", 'q', FlagKind.Bool),
        new("name", '\0', FlagKind.String),
        new("entrypoint", '\0', FlagKind.String),
        new("workdir", 'w', FlagKind.String),
        new("user", 'u', FlagKind.String),
        new("hostname", 'h', FlagKind.String),
        new("domainname", '\0', FlagKind.String),
        new("network", '\0', FlagKind.String),
        new("net", '\0', FlagKind.String),
        new("network-alias", '\0', FlagKind.List),
        new("ip", '\0', FlagKind.String),
        new("ip6", '\0', FlagKind.String),
        new("memory", 'm', FlagKind.String, Size),
        new("memory-swap", '\0', FlagKind.String, SizeOrMinusOne),
        new("memory-reservation", '\0', FlagKind.String, Size),
        new("shm-size", '\0', FlagKind.String, Size),
        new("cpus", '\0', FlagKind.String, Decimal),
        new("cpu-shares", 'c', FlagKind.String, Int64),
        new("cpu-period", '\0', FlagKind.String, Int64),
        new("cpu-quota", '\0', FlagKind.String, Int64),
        new("cpuset-cpus", '\0', FlagKind.String),
        new("cpuset-mems", '\0', FlagKind.String),
        new("pids-limit", '\0', FlagKind.String, Int64),
        new("oom-score-adj", '\0', FlagKind.String, Int32),
        new("restart", '\0', FlagKind.String),
        new("stop-signal", '\0', FlagKind.String),
        new("stop-timeout", '\0', FlagKind.String, Int32),
        new("health-cmd", '\0', FlagKind.String),
        new("health-interval", '\0', FlagKind.String, Duration),
        new("health-timeout", '\0', FlagKind.String, Duration),
        new("health-start-period", '\0', FlagKind.String, Duration),
        new("health-start-interval", '\0', FlagKind.String, Duration),
        new("health-retries", '\0', FlagKind.String, Int32),
        new("detach-keys", '\0', FlagKind.String),
        new("log-driver", '\0', FlagKind.String),
        new("log-opt", '\0', FlagKind.List),
        new("ipc", '\0', FlagKind.String),
        new("pid", '\0', FlagKind.String),
        new("uts", '\0', FlagKind.String),
        new("userns", '\0', FlagKind.String),
        new("cgroupns", '\0', FlagKind.String),
        new("cgroup-parent", '\0', FlagKind.String),
        new("memory-swappiness", '\0', FlagKind.String, Int64),
        new("runtime", '\0', FlagKind.String),
        new("platform", '\0', FlagKind.String),
        new("pull", '\0', FlagKind.String),
        new("cidfile", '\0', FlagKind.String),
        new("mac-address", '\0', FlagKind.String),
        new("volume-driver", '\0', FlagKind.String),
        new("env", 'e', FlagKind.List),
        new("env-file", '\0', FlagKind.List),
        new("label", 'l', FlagKind.List),
        new("label-file", '\0', FlagKind.List),
        new("volume", 'v', FlagKind.List),
        new("mount", '\0', FlagKind.List),
        new("publish", 'p', FlagKind.List),
        new("expose", '\0', FlagKind.List),
        new("cap-add", '\0', FlagKind.List),
        new("cap-drop", '\0', FlagKind.List),
        new("tmpfs", '\0', FlagKind.List),
        new("add-host", '\0', FlagKind.List),
        new("dns", '\0', FlagKind.List),
        new("dns-search", '\0', FlagKind.List),
        new("dns-option", '\0', FlagKind.List),
        new("ulimit", '\0', FlagKind.List),
        new("device", '\0', FlagKind.List),
        new("sysctl", '\0', FlagKind.List),
        new("attach", 'a', FlagKind.List),
        new("security-opt", '\0', FlagKind.List),
        new("volumes-from", '\0', FlagKind.List),
        new("link", '\0', FlagKind.List),
        new("group-add", '\0', FlagKind.List),
    ];

    /// <summary>
    /// Builds the create request. Positionals are IMAGE [COMMAND] [ARG...]. <paramref name="getEnv"/>
    /// resolves bare <c>-e KEY</c>; <paramref name="readFile"/> reads --env-file/--label-file.
    /// Invalid combinations throw <see cref="FlagException"/> (exit 125, as Docker).
    /// </summary>
    public static ContainerSpec Build(ParsedArgs a, Func<string, string?> getEnv, Func<string, string> readFile)
    {
        var hc = new HostConfig();
        var body = new ContainerCreateRequest { Image = a.Positionals[0], HostConfig = hc };
        if (a.Positionals.Count > 1) body.Cmd = a.Positionals.Skip(1).ToList();

        bool detach = a.Bool("detach");
        bool interactive = a.Bool("interactive");
        body.Tty = a.Bool("tty");
        body.OpenStdin = interactive;

        var attach = a.GetAll("attach");
        if (attach.Count > 0)
        {
            if (detach) throw new FlagException("Conflicting options: -a and -d");
            foreach (string s in attach)
            {
                switch (s.ToLowerInvariant())
                {
                    case "stdin": body.AttachStdin = true; break;
                    case "stdout": body.AttachStdout = true; break;
                    case "stderr": body.AttachStderr = true; break;
                    default: throw new FlagException($"invalid argument \"{s}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR");
                }
            }
        }
        else if (!detach)
        {
            body.AttachStdout = true;
            body.AttachStderr = true;
            body.AttachStdin = interactive;
        }
        if (body.AttachStdin) body.StdinOnce = true;

        // Environment: files first, then -e, in order.
        var env = new List<string>();
        foreach (string file in a.GetAll("env-file")) env.AddRange(ParseEnvFile(readFile(file), getEnv));
        foreach (string e in a.GetAll("env")) if (ParseEnvValue(e, getEnv) is { } v) env.Add(v);
        if (env.Count > 0) body.Env = env;

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string file in a.GetAll("label-file"))
            foreach (string line in ReadLines(readFile(file))) AddKeyValue(labels, line);
        foreach (string l in a.GetAll("label")) AddKeyValue(labels, l);
        if (labels.Count > 0) body.Labels = labels;

        if (a.Has("entrypoint")) body.Entrypoint = [a.Get("entrypoint")!];
        if (a.Get("workdir") is { } wd) body.WorkingDir = wd;
        if (a.Get("user") is { } user) body.User = user;
        if (a.Get("hostname") is { } hn) body.Hostname = hn;
        if (a.Get("domainname") is { } dn) body.Domainname = dn;
        if (a.Get("mac-address") is { } mac) body.MacAddress = mac;
        if (a.Get("stop-signal") is { } ss) body.StopSignal = ss;
        if (a.Get("stop-timeout") is { } st) body.StopTimeout = int.Parse(st, CultureInfo.InvariantCulture);

        // Volumes: a container path after ':' makes a bind (or named volume), else an anonymous volume.
        foreach (string v in a.GetAll("volume"))
        {
            if (v.Length == 0) throw new FlagException($"invalid argument \"{v}\" for \"-v, --volume\" flag: invalid empty volume spec");
            if (v.Contains(':'))
                (hc.Binds ??= []).Add(v);
            else
                (body.Volumes ??= new())[v] = new EmptyObject();
        }
        foreach (string m in a.GetAll("mount")) (hc.Mounts ??= []).Add(ParseMount(m));

        foreach (string p in a.GetAll("publish")) AddPortSpec(body, hc, p);
        foreach (string e in a.GetAll("expose"))
        {
            string proto = "tcp", port = e;
            int slash = e.IndexOf('/');
            if (slash >= 0) { port = e[..slash]; proto = e[(slash + 1)..]; }
            foreach (string one in ExpandRange(port, "--expose")) (body.ExposedPorts ??= new())[one + "/" + proto] = new EmptyObject();
        }
        if (a.Bool("publish-all")) hc.PublishAllPorts = true;

        string? network = a.Get("network") ?? a.Get("net");
        hc.NetworkMode = network ?? "default";
        var aliases = a.GetAll("network-alias");
        var ip = a.Get("ip");
        var ip6 = a.Get("ip6");
        var links = a.GetAll("link");
        foreach (var l in links)
            if (l.Length == 0 || l.Split(':').Length > 2) throw new FlagException($"invalid argument \"{l}\" for \"--link\" flag: bad format for links: {l}");
        // As the Docker CLI: on a user-defined network the links go to its endpoint too.
        var userNetwork = network is not (null or "default" or "bridge" or "host" or "none") && !network.StartsWith("container:", StringComparison.Ordinal);
        if (aliases.Count > 0 || ip is not null || ip6 is not null || (links.Count > 0 && userNetwork))
        {
            if (network is null or "default" or "bridge" or "host" or "none")
                throw new FlagException(aliases.Count > 0 ? "network-scoped aliases are only supported for user-defined networks" : "user specified IP address is supported on user defined networks only");
            body.NetworkingConfig = new NetworkingConfig
            {
                EndpointsConfig = new()
                {
                    [network] = new EndpointSettings
                    {
                        Aliases = aliases.Count > 0 ? aliases.ToList() : null,
                        IPAMConfig = ip is null && ip6 is null ? null : new EndpointIpamConfig { IPv4Address = ip, IPv6Address = ip6 },
                        Links = links.Count > 0 && userNetwork ? links.ToList() : null,
                    },
                },
            };
        }

        if (a.Get("memory") is { } mem) hc.Memory = Units.RamInBytes(mem);
        if (a.Get("memory-swap") is { } swap) hc.MemorySwap = swap == "-1" ? -1 : Units.RamInBytes(swap);
        if (a.Get("memory-reservation") is { } mr) hc.MemoryReservation = Units.RamInBytes(mr);
        if (a.Get("shm-size") is { } shm) hc.ShmSize = Units.RamInBytes(shm);
        if (a.Get("cpus") is { } cpus)
        {
            double c = double.Parse(cpus, CultureInfo.InvariantCulture);
            hc.NanoCpus = (long)Math.Round(c * 1e9);
        }
        if (a.Get("cpu-shares") is { } shares) hc.CpuShares = long.Parse(shares, CultureInfo.InvariantCulture);
        if (a.Get("cpu-period") is { } period) hc.CpuPeriod = long.Parse(period, CultureInfo.InvariantCulture);
        if (a.Get("cpu-quota") is { } quota) hc.CpuQuota = long.Parse(quota, CultureInfo.InvariantCulture);
        if (hc.NanoCpus is not null && (hc.CpuPeriod is not null || hc.CpuQuota is not null))
            throw new FlagException("Conflicting options: Nano CPUs and CPU Period/Quota cannot both be set");
        if (a.Get("cpuset-cpus") is { } cs) hc.CpusetCpus = cs;
        if (a.Get("cpuset-mems") is { } cm) hc.CpusetMems = cm;
        if (a.Get("pids-limit") is { } pl) hc.PidsLimit = long.Parse(pl, CultureInfo.InvariantCulture);
        if (a.Get("oom-score-adj") is { } osa) hc.OomScoreAdj = int.Parse(osa, CultureInfo.InvariantCulture);
        if (a.Bool("oom-kill-disable")) hc.OomKillDisable = true;

        bool rm = a.Bool("rm");
        hc.RestartPolicy = new RestartPolicy { Name = "no" };
        if (a.Get("restart") is { } restart)
        {
            hc.RestartPolicy = ParseRestart(restart);
            if (rm && hc.RestartPolicy.Name is not ("" or "no"))
                throw new FlagException("Conflicting options: cannot specify both --restart and --rm");
        }
        if (rm) hc.AutoRemove = true;

        if (a.Has("init")) hc.Init = a.Bool("init");
        if (a.Bool("privileged")) hc.Privileged = true;
        if (a.Bool("read-only")) hc.ReadonlyRootfs = true;
        List<string>? L(string flag) => a.GetAll(flag) is { Count: > 0 } l ? l.ToList() : null;
        hc.CapAdd = L("cap-add")?.Select(NormalizeCapability).ToList();
        hc.CapDrop = L("cap-drop")?.Select(NormalizeCapability).ToList();
        hc.Dns = L("dns");
        hc.DnsSearch = L("dns-search");
        hc.DnsOptions = L("dns-option");
        hc.SecurityOpt = L("security-opt");
        hc.VolumesFrom = L("volumes-from");
        hc.Links = L("link");
        hc.GroupAdd = L("group-add");
        foreach (string h in a.GetAll("add-host"))
        {
            int sep = h.IndexOfAny(['=', ':']);
            if (sep <= 0) throw new FlagException($"invalid argument \"{h}\" for \"--add-host\" flag: bad format for add-host: \"{h}\"");
            (hc.ExtraHosts ??= []).Add(h[..sep] + ":" + h[(sep + 1)..]);
        }
        foreach (string t in a.GetAll("tmpfs"))
        {
            int colon = t.IndexOf(':');
            (hc.Tmpfs ??= new())[colon < 0 ? t : t[..colon]] = colon < 0 ? "" : t[(colon + 1)..];
        }
        foreach (string u in a.GetAll("ulimit")) (hc.Ulimits ??= []).Add(ParseUlimit(u));
        foreach (string d in a.GetAll("device")) (hc.Devices ??= []).Add(ParseDevice(d));
        foreach (string s in a.GetAll("sysctl"))
        {
            int eq = s.IndexOf('=');
            if (eq <= 0) throw new FlagException($"invalid argument \"{s}\" for \"--sysctl\" flag: sysctl '{s}' is not allowed");
            (hc.Sysctls ??= new())[s[..eq]] = s[(eq + 1)..];
        }
        if (a.Get("log-driver") is { } ld) (hc.LogConfig ??= new()).Type = ld;
        foreach (string o in a.GetAll("log-opt"))
        {
            int eq = o.IndexOf('=');
            if (eq <= 0) throw new FlagException($"invalid argument \"{o}\" for \"--log-opt\" flag: invalid key value pair format in log-opt: {o}");
            ((hc.LogConfig ??= new()).Config ??= new())[o[..eq]] = o[(eq + 1)..];
        }
        if (a.Get("ipc") is { } ipc) hc.IpcMode = ipc;
        if (a.Get("pid") is { } pid) hc.PidMode = pid;
        if (a.Get("uts") is { } uts) hc.UTSMode = uts;
        if (a.Get("userns") is { } userns) hc.UsernsMode = userns;
        if (a.Get("cgroupns") is { } cgns) hc.CgroupnsMode = cgns;
        if (a.Get("cgroup-parent") is { } cgp) hc.CgroupParent = cgp;
        if (a.Get("memory-swappiness") is { } msw) hc.MemorySwappiness = long.Parse(msw, CultureInfo.InvariantCulture);
        if (a.Get("runtime") is { } rt) hc.Runtime = rt;
        if (a.Get("volume-driver") is { } vd) hc.VolumeDriver = vd;
        if (a.Get("cidfile") is { } cid) hc.ContainerIDFile = cid;

        body.Healthcheck = ParseHealth(a);

        string pull = a.Get("pull") ?? "missing";
        if (pull is not ("missing" or "always" or "never"))
            throw new FlagException($"invalid pull option: '{pull}': must be one of \"always\", \"missing\" or \"never\"");

        return new ContainerSpec
        {
            Body = body,
            Name = a.Get("name"),
            Platform = a.Get("platform"),
            Pull = pull,
            Detach = detach,
            DetachKeys = a.Get("detach-keys"),
            SigProxy = !a.Has("sig-proxy") || a.Bool("sig-proxy"),
            CidFile = a.Get("cidfile"),
        };
    }

    private static HealthConfig? ParseHealth(ParsedArgs a)
    {
        bool any = a.Has("health-cmd") || a.Has("health-interval") || a.Has("health-timeout") || a.Has("health-start-period") || a.Has("health-start-interval") || a.Has("health-retries");
        if (a.Bool("no-healthcheck"))
        {
            if (any) throw new FlagException("--no-healthcheck conflicts with --health-* options");
            return new HealthConfig { Test = ["NONE"] };
        }
        if (!any) return null;
        var h = new HealthConfig();
        if (a.Get("health-cmd") is { Length: > 0 } cmd) h.Test = ["CMD-SHELL", cmd];
        static long Ns(string v) => Units.TryParseGoDuration(v, out long ns) ? ns : 0;
        if (a.Get("health-interval") is { } i) h.Interval = Check(Ns(i), "--health-interval");
        if (a.Get("health-timeout") is { } t) h.Timeout = Check(Ns(t), "--health-timeout");
        if (a.Get("health-start-period") is { } sp) h.StartPeriod = Check(Ns(sp), "--health-start-period");
        if (a.Get("health-start-interval") is { } si) h.StartInterval = Check(Ns(si), "--health-start-interval");
        if (a.Get("health-retries") is { } r)
        {
            h.Retries = int.Parse(r, CultureInfo.InvariantCulture);
            if (h.Retries < 0) throw new FlagException("--health-retries cannot be negative");
        }
        return h;
    }

    private static long Check(long ns, string flag) => ns < 0 ? throw new FlagException($"{flag} cannot be negative") : ns;

    /// <summary>Docker's capability normalization: upper case with a CAP_ prefix, except ALL.</summary>
    public static string NormalizeCapability(string cap)
    {
        string c = cap.ToUpperInvariant();
        return c == "ALL" || c.StartsWith("CAP_", StringComparison.Ordinal) ? c : "CAP_" + c;
    }

    /// <summary>Parses --restart: no, always, unless-stopped, on-failure[:max-retries].</summary>
    public static RestartPolicy ParseRestart(string s)
    {
        string name = s, count = "";
        int colon = s.IndexOf(':');
        if (colon >= 0) { name = s[..colon]; count = s[(colon + 1)..]; }
        var p = new RestartPolicy { Name = name };
        switch (name)
        {
            case "" or "no" or "always" or "unless-stopped":
                if (count.Length > 0) throw new FlagException($"invalid restart policy format: maximum retry count can only be used with 'on-failure'");
                break;
            case "on-failure":
                if (count.Length > 0)
                {
                    if (!int.TryParse(count, out int n)) throw new FlagException($"invalid restart policy format: maximum retry count must be an integer");
                    p.MaximumRetryCount = n;
                }
                break;
            default:
                throw new FlagException($"invalid restart policy format: unknown policy '{name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'");
        }
        return p;
    }

    /// <summary>Parses --ulimit name=soft[:hard] (hard defaults to soft).</summary>
    public static Ulimit ParseUlimit(string s)
    {
        int eq = s.IndexOf('=');
        if (eq <= 0) throw new FlagException($"invalid argument \"{s}\" for \"--ulimit\" flag: invalid ulimit argument: {s}");
        string name = s[..eq], limits = s[(eq + 1)..];
        int colon = limits.IndexOf(':');
        string soft = colon < 0 ? limits : limits[..colon];
        string hard = colon < 0 ? limits : limits[(colon + 1)..];
        if (!long.TryParse(soft, out long sv) || !long.TryParse(hard, out long hv))
            throw new FlagException($"invalid argument \"{s}\" for \"--ulimit\" flag: invalid ulimit argument: {s}");
        if (sv > hv) throw new FlagException($"invalid argument \"{s}\" for \"--ulimit\" flag: ulimit soft limit must be less than or equal to hard limit: {sv} > {hv}");
        return new Ulimit { Name = name, Soft = sv, Hard = hv };
    }

    /// <summary>Parses --device host[:container][:permissions].</summary>
    public static DeviceMapping ParseDevice(string s)
    {
        static bool IsPerms(string p) => p.Length is > 0 and <= 3 && p.All(c => c is 'r' or 'w' or 'm');
        var parts = s.Split(':');
        var d = new DeviceMapping { PathOnHost = parts[0], PathInContainer = parts[0], CgroupPermissions = "rwm" };
        switch (parts.Length)
        {
            case 1: break;
            case 2:
                if (IsPerms(parts[1])) d.CgroupPermissions = parts[1];
                else d.PathInContainer = parts[1];
                break;
            case 3:
                d.PathInContainer = parts[1];
                if (!IsPerms(parts[2])) throw new FlagException($"invalid argument \"{s}\" for \"--device\" flag: invalid device mode: {parts[2]}");
                d.CgroupPermissions = parts[2];
                break;
            default:
                throw new FlagException($"invalid argument \"{s}\" for \"--device\" flag: invalid device specification: {s}");
        }
        return d;
    }

    /// <summary>Parses --mount type=..,source=..,target=..[,readonly].</summary>
    public static Mount ParseMount(string s)
    {
        var m = new Mount { Type = "volume" };
        foreach (string field in s.Split(','))
        {
            int eq = field.IndexOf('=');
            string key = (eq < 0 ? field : field[..eq]).ToLowerInvariant();
            string val = eq < 0 ? "" : field[(eq + 1)..];
            switch (key)
            {
                case "type": m.Type = val; break;
                case "source" or "src": m.Source = val; break;
                case "target" or "dst" or "destination": m.Target = val; break;
                case "readonly" or "ro": m.ReadOnly = eq < 0 || val is "1" or "true"; break;
                case "consistency": m.Consistency = val; break;
                case "bind-propagation": (m.BindOptions ??= new()).Propagation = val; break;
                case "bind-nonrecursive": (m.BindOptions ??= new()).NonRecursive = eq < 0 || val is "1" or "true"; break;
                case "bind-create-mountpoint": (m.BindOptions ??= new()).CreateMountpoint = eq < 0 || val is "1" or "true"; break;
                case "volume-nocopy": (m.VolumeOptions ??= new()).NoCopy = eq < 0 || val is "1" or "true"; break;
                case "volume-subpath": (m.VolumeOptions ??= new()).Subpath = val; break;
                case "volume-label":
                {
                    int e2 = val.IndexOf('=');
                    ((m.VolumeOptions ??= new()).Labels ??= new())[e2 < 0 ? val : val[..e2]] = e2 < 0 ? "" : val[(e2 + 1)..];
                    break;
                }
                case "tmpfs-size":
                    if (Units.TryParseRamInBytes(val, out long size) is { } err) throw new FlagException($"invalid argument \"{s}\" for \"--mount\" flag: {err}");
                    (m.TmpfsOptions ??= new()).SizeBytes = size;
                    break;
                case "tmpfs-mode":
                    try { (m.TmpfsOptions ??= new()).Mode = Convert.ToInt32(val, 8); }
                    catch (FormatException) { throw new FlagException($"invalid argument \"{s}\" for \"--mount\" flag: invalid value for tmpfs-mode: {val}"); }
                    break;
                default:
                    throw new FlagException($"invalid argument \"{s}\" for \"--mount\" flag: unexpected key '{key}' in '{field}'");
            }
        }
        if (string.IsNullOrEmpty(m.Target)) throw new FlagException($"invalid argument \"{s}\" for \"--mount\" flag: target is required");
        return m;
    }

    /// <summary>
    /// Adds one -p spec: [ip:][hostPort:]containerPort[/proto], ports may be ranges; an IPv6
    /// address is written in brackets. Equal-length ranges map one to one.
    /// </summary>
    public static void AddPortSpec(ContainerCreateRequest body, HostConfig hc, string spec)
    {
        string proto = "tcp";
        string rest = spec;
        int slash = rest.LastIndexOf('/');
        if (slash >= 0) { proto = rest[(slash + 1)..].ToLowerInvariant(); rest = rest[..slash]; }
        string ip = "", host = "", container;
        if (rest.StartsWith('['))
        {
            int close = rest.IndexOf(']');
            if (close < 0) throw new FlagException($"invalid argument \"{spec}\" for \"-p, --publish\" flag: invalid IP address: {rest}");
            ip = rest[1..close];
            rest = rest[(close + 1)..].TrimStart(':');
            int c = rest.IndexOf(':');
            if (c >= 0) { host = rest[..c]; container = rest[(c + 1)..]; } else container = rest;
        }
        else
        {
            var parts = rest.Split(':');
            switch (parts.Length)
            {
                case 1: container = parts[0]; break;
                case 2: host = parts[0]; container = parts[1]; break;
                case 3: ip = parts[0]; host = parts[1]; container = parts[2]; break;
                default:
                    ip = string.Join(':', parts[..^2]); host = parts[^2]; container = parts[^1]; break;
            }
        }
        if (container.Length == 0) throw new FlagException($"invalid argument \"{spec}\" for \"-p, --publish\" flag: no port specified: {spec}<empty>");
        var cports = ExpandRange(container, "-p, --publish");
        List<string> hports = host.Length == 0 ? [] : ExpandRange(host, "-p, --publish");
        for (int i = 0; i < cports.Count; i++)
        {
            string key = cports[i] + "/" + proto;
            (body.ExposedPorts ??= new())[key] = new EmptyObject();
            string hp = hports.Count == 0 ? "" : hports.Count == cports.Count ? hports[i] : cports.Count == 1 ? host : throw new FlagException($"invalid argument \"{spec}\" for \"-p, --publish\" flag: invalid ranges specified for container and host Ports: {container} and {host}");
            hc.PortBindings ??= new();
            if (!hc.PortBindings.TryGetValue(key, out var list)) hc.PortBindings[key] = list = [];
            list.Add(new PortBinding { HostIp = ip, HostPort = hp });
        }
    }

    private static List<string> ExpandRange(string s, string flag)
    {
        int dash = s.IndexOf('-');
        if (dash < 0)
        {
            if (!int.TryParse(s, out int p) || p < 0 || p > 65535) throw new FlagException($"invalid argument \"{s}\" for \"{flag}\" flag: invalid containerPort: {s}");
            return [s];
        }
        if (!int.TryParse(s[..dash], out int lo) || !int.TryParse(s[(dash + 1)..], out int hi) || hi < lo || hi > 65535)
            throw new FlagException($"invalid argument \"{s}\" for \"{flag}\" flag: invalid range: {s}");
        var r = new List<string>();
        for (int i = lo; i <= hi; i++) r.Add(i.ToString(CultureInfo.InvariantCulture));
        return r;
    }

    /// <summary>Docker's ValidateEnv: "K=V" as is; bare "K" takes the local value when set, else stays bare.</summary>
    public static string? ParseEnvValue(string e, Func<string, string?> getEnv)
    {
        if (e.Length == 0 || e[0] == '=') throw new FlagException($"invalid argument \"{e}\" for \"-e, --env\" flag: invalid environment variable: {e}");
        if (e.Contains('=')) return e;
        return getEnv(e) is { } v ? e + "=" + v : e;
    }

    /// <summary>Parses an env file: KEY=VALUE lines, '#' comments and blanks skipped, bare KEY taken from the local environment when set.</summary>
    public static List<string> ParseEnvFile(string content, Func<string, string?> getEnv)
    {
        var list = new List<string>();
        foreach (string line in ReadLines(content))
        {
            int eq = line.IndexOf('=');
            if (eq == 0) throw new FlagException($"invalid environment variable: {line}");
            if (eq > 0)
            {
                string key = line[..eq].TrimStart();
                if (key.Contains(' ')) throw new FlagException($"variable '{key}' contains whitespaces");
                list.Add(key + line[eq..]);
            }
            else
            {
                string key = line.Trim();
                if (getEnv(key) is { } v) list.Add(key + "=" + v);
            }
        }
        return list;
    }

    private static IEnumerable<string> ReadLines(string content)
    {
        foreach (string raw in content.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            string trimmed = line.TrimStart();
            if (trimmed.Length == 0 || trimmed.StartsWith('#')) continue;
            yield return line;
        }
    }

    private static void AddKeyValue(Dictionary<string, string> map, string kv)
    {
        int eq = kv.IndexOf('=');
        if (eq < 0) map[kv] = "";
        else map[kv[..eq]] = kv[(eq + 1)..];
    }
}
