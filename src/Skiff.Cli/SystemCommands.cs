using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Skiff.Client;
using Skiff.Client.Models;
using static Skiff.Cli.Api;

namespace Skiff.Cli;

/// <summary>version, info, inspect, events, stats, volume, network, system and login commands.</summary>
public static class SystemCommands
{
    /// <summary>skiff version [--format]</summary>
    public static async Task<int> Version(CliContext ctx, ParsedArgs a)
    {
        var client = new JsonObject
        {
            ["Version"] = App.Version,
            ["ApiVersion"] = EngineClient.MaxApiVersion,
            ["DefaultAPIVersion"] = EngineClient.MaxApiVersion,
            ["GoVersion"] = "",
            ["Runtime"] = RuntimeInformation.FrameworkDescription,
            ["Os"] = "linux",
            ["Arch"] = RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "arm64" : "amd64",
            ["Context"] = "default",
        };
        JsonNode? server = null;
        Exception? serverError = null;
        try
        {
            string negotiated = await ctx.Client.GetApiVersionAsync().ConfigureAwait(false);
            client["ApiVersion"] = negotiated;
            using var doc = await ctx.Client.GetDocumentAsync("/version").ConfigureAwait(false);
            server = JsonNode.Parse(doc.RootElement.GetRawText());
        }
        catch (Exception e) when (e is EngineApiException or EngineConnectionException or IOException)
        {
            serverError = e;
        }
        var data = new JsonObject { ["Client"] = client, ["Server"] = server };
        if (a.Get("format") is { } format)
        {
            ctx.Out.Write(Formatting.Render(format, [data], null));
        }
        else
        {
            var sb = new StringBuilder();
            string api = (string)client["ApiVersion"]!;
            sb.Append("Client:\n");
            sb.Append($" Version:           {App.Version}\n");
            sb.Append($" API version:       {api}{(api != EngineClient.MaxApiVersion ? $" (downgraded from {EngineClient.MaxApiVersion})" : "")}\n");
            sb.Append($" Runtime:           {client["Runtime"]}\n");
            sb.Append($" OS/Arch:           linux/{client["Arch"]}\n");
            sb.Append(" Context:           default\n");
            if (server is JsonObject s)
            {
                sb.Append("\nServer:\n");
                var components = s["Components"] as JsonArray;
                bool engineDone = false;
                foreach (var c in components ?? [])
                {
                    string name = c?["Name"]?.GetValue<string>() ?? "";
                    var details = c?["Details"] as JsonObject;
                    if (name == "Engine")
                    {
                        engineDone = true;
                        sb.Append(" Engine:\n");
                        sb.Append($"  Version:          {c?["Version"]}\n");
                        sb.Append($"  API version:      {details?["ApiVersion"]} (minimum version {details?["MinAPIVersion"]})\n");
                        if (details?["GoVersion"] is { } gv) sb.Append($"  Go version:       {gv}\n");
                        sb.Append($"  Git commit:       {details?["GitCommit"]}\n");
                        sb.Append($"  Built:            {GoAnsic(details?["BuildTime"]?.GetValue<string>())}\n");
                        sb.Append($"  OS/Arch:          {details?["Os"]}/{details?["Arch"]}\n");
                        sb.Append($"  Experimental:     {details?["Experimental"]}\n");
                    }
                    else
                    {
                        sb.Append($" {name}:\n");
                        sb.Append($"  Version:          {c?["Version"]}\n");
                        foreach (var kv in details ?? [])
                            sb.Append($"  {kv.Key + ":",-17} {kv.Value}\n");
                    }
                }
                if (!engineDone)
                {
                    sb.Append(" Engine:\n");
                    sb.Append($"  Version:          {s["Version"]}\n");
                    sb.Append($"  API version:      {s["ApiVersion"]} (minimum version {s["MinAPIVersion"]})\n");
                    sb.Append($"  OS/Arch:          {s["Os"]}/{s["Arch"]}\n");
                }
            }
            ctx.Out.Write(sb.ToString());
        }
        if (serverError is not null)
        {
            ctx.Out.Flush();
            ctx.Err.WriteLine(serverError is EngineApiException ae ? ae.DisplayMessage : serverError.Message);
            return 1;
        }
        return 0;
    }

    /// <summary>Docker prints build times in Go's ANSIC layout, local time: "Thu May  7 21:09:36 2026".</summary>
    public static string GoAnsic(string? rfc3339)
    {
        if (rfc3339 is null || !DateTimeOffset.TryParse(rfc3339, CultureInfo.InvariantCulture, DateTimeStyles.None, out var t)) return rfc3339 ?? "";
        t = t.ToLocalTime();
        return t.ToString("ddd MMM ", CultureInfo.InvariantCulture) + t.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2) + t.ToString(" HH:mm:ss yyyy", CultureInfo.InvariantCulture);
    }

    /// <summary>skiff info [--format]</summary>
    public static async Task<int> Info(CliContext ctx, ParsedArgs a)
    {
        JsonObject info;
        try
        {
            using var doc = await ctx.Client.GetDocumentAsync("/info").ConfigureAwait(false);
            info = JsonNode.Parse(doc.RootElement.GetRawText())!.AsObject();
        }
        catch (Exception e) when (e is EngineConnectionException or EngineApiException && a.Get("format") is null)
        {
            // Like Docker: the client part is still shown, the server part reports the error.
            ctx.Out.Write($"Client:\n Version:    {App.Version}\n Context:    default\n Debug Mode: false\n\nServer:\n");
            ctx.Out.Flush();
            throw new CliException(e is EngineApiException ae ? ae.DisplayMessage : e.Message, 1);
        }
        if (a.Get("format") is { } format)
        {
            ctx.Out.Write(Formatting.Render(format, [info], null));
            return 0;
        }
        string S(string key) => info[key] is JsonNode n ? PrintScalar(n) : "";
        var sb = new StringBuilder();
        sb.Append("Client:\n");
        sb.Append($" Version:    {App.Version}\n");
        sb.Append(" Context:    default\n");
        sb.Append(" Debug Mode: false\n");
        sb.Append("\nServer:\n");
        sb.Append($" Containers: {S("Containers")}\n");
        sb.Append($"  Running: {S("ContainersRunning")}\n");
        sb.Append($"  Paused: {S("ContainersPaused")}\n");
        sb.Append($"  Stopped: {S("ContainersStopped")}\n");
        sb.Append($" Images: {S("Images")}\n");
        sb.Append($" Server Version: {S("ServerVersion")}\n");
        sb.Append($" Storage Driver: {S("Driver")}\n");
        foreach (var pair in info["DriverStatus"] as JsonArray ?? [])
            if (pair is JsonArray p && p.Count == 2) sb.Append($"  {PrintScalar(p[0]!)}: {PrintScalar(p[1]!)}\n");
        sb.Append($" Logging Driver: {S("LoggingDriver")}\n");
        sb.Append($" Cgroup Driver: {S("CgroupDriver")}\n");
        sb.Append($" Cgroup Version: {S("CgroupVersion")}\n");
        if (info["Plugins"] is JsonObject plugins)
        {
            sb.Append(" Plugins:\n");
            foreach (string kind in new[] { "Volume", "Network", "Authorization", "Log" })
                if (plugins[kind] is JsonArray list && list.Count > 0)
                    sb.Append($"  {kind}: {string.Join(' ', list.Select(x => PrintScalar(x!)))}\n");
        }
        if (info["Swarm"]?["LocalNodeState"] is JsonNode swarm) sb.Append($" Swarm: {PrintScalar(swarm)}\n");
        if (info["Runtimes"] is JsonObject rts) sb.Append($" Runtimes: {string.Join(' ', rts.Select(k => k.Key).Order(StringComparer.Ordinal))}\n");
        sb.Append($" Default Runtime: {S("DefaultRuntime")}\n");
        sb.Append($" Init Binary: {S("InitBinary")}\n");
        if (info["ContainerdCommit"]?["ID"] is JsonNode cdc) sb.Append($" containerd version: {PrintScalar(cdc)}\n");
        if (info["RuncCommit"]?["ID"] is JsonNode rc) sb.Append($" runc version: {PrintScalar(rc)}\n");
        if (info["InitCommit"]?["ID"] is JsonNode ic) sb.Append($" init version: {PrintScalar(ic)}\n");
        if (info["SecurityOptions"] is JsonArray so && so.Count > 0)
        {
            sb.Append(" Security Options:\n");
            foreach (var o in so)
            {
                foreach (string part in PrintScalar(o!).Split(','))
                {
                    int eq = part.IndexOf('=');
                    if (part.StartsWith("name=", StringComparison.Ordinal)) sb.Append($"  {part[5..]}\n");
                    else if (eq > 0) sb.Append($"   {char.ToUpperInvariant(part[0])}{part[1..eq]}: {part[(eq + 1)..]}\n");
                }
            }
        }
        sb.Append($" Kernel Version: {S("KernelVersion")}\n");
        sb.Append($" Operating System: {S("OperatingSystem")}\n");
        sb.Append($" OSType: {S("OSType")}\n");
        sb.Append($" Architecture: {S("Architecture")}\n");
        sb.Append($" CPUs: {S("NCPU")}\n");
        sb.Append($" Total Memory: {(info["MemTotal"] is JsonNode mt ? Units.BytesSize(mt.GetValue<double>()) : "")}\n");
        sb.Append($" Name: {S("Name")}\n");
        sb.Append($" ID: {S("ID")}\n");
        sb.Append($" Docker Root Dir: {S("DockerRootDir")}\n");
        sb.Append($" Debug Mode: {S("Debug")}\n");
        sb.Append($" Experimental: {S("ExperimentalBuild")}\n");
        if (info["RegistryConfig"] is JsonObject reg)
        {
            var insecure = new List<string>();
            foreach (var (name, cfg) in (reg["IndexConfigs"] as JsonObject ?? []).OrderBy(k => k.Key, StringComparer.Ordinal))
                if (cfg?["Secure"]?.GetValueKind() == JsonValueKind.False) insecure.Add(name);
            foreach (var cidr in reg["InsecureRegistryCIDRs"] as JsonArray ?? []) insecure.Add(PrintScalar(cidr!));
            if (insecure.Count > 0)
            {
                sb.Append(" Insecure Registries:\n");
                foreach (string i in insecure) sb.Append($"  {i}\n");
            }
            if (reg["Mirrors"] is JsonArray mirrors && mirrors.Count > 0)
            {
                sb.Append(" Registry Mirrors:\n");
                foreach (var m in mirrors) sb.Append($"  {PrintScalar(m!)}\n");
            }
        }
        sb.Append($" Live Restore Enabled: {S("LiveRestoreEnabled")}\n\n");
        ctx.Out.Write(sb.ToString());
        if (info["Warnings"] is JsonArray warnings && warnings.Count > 0)
        {
            ctx.Out.Flush();
            foreach (var w in warnings) ctx.Err.WriteLine(PrintScalar(w!));
        }
        return 0;
    }

    private static string PrintScalar(JsonNode n) => n.GetValueKind() switch
    {
        JsonValueKind.String => n.GetValue<string>(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => n.ToJsonString(),
    };

    /// <summary>
    /// skiff inspect [-f] [-s] [--type] NAME...: without --type tries container, image, volume,
    /// network in that order; prints a 4-space indented JSON array or the template per object.
    /// </summary>
    public static async Task<int> Inspect(CliContext ctx, ParsedArgs a, string? fixedType)
    {
        string? type = fixedType ?? a.Get("type");
        if (type is not (null or "container" or "image" or "volume" or "network"))
            throw new CliException($"\"{type}\" is not a valid value for --type", 1);
        var found = new List<JsonElement>();
        var docs = new List<JsonDocument>();
        int rc = 0;
        try
        {
            foreach (string name in a.Positionals)
            {
                JsonDocument? doc = null;
                foreach (string t in type is null ? ["container", "image", "volume", "network"] : new[] { type })
                {
                    string path = t switch
                    {
                        "container" => "/containers/" + P(name) + "/json" + Q(("size", B(a.Bool("size")))),
                        "image" => "/images/" + P(name) + "/json",
                        "volume" => "/volumes/" + P(name),
                        _ => "/networks/" + P(name),
                    };
                    try
                    {
                        doc = await ctx.Client.GetDocumentAsync(path).ConfigureAwait(false);
                        break;
                    }
                    catch (EngineApiException e) when (e.Status == HttpStatusCode.NotFound)
                    {
                        if (type is not null)
                        {
                            ctx.Err.WriteLine("Error response from daemon: " + e.Message);
                            rc = 1;
                        }
                    }
                    catch (EngineApiException e) when (e.Status == HttpStatusCode.BadRequest && type is null)
                    {
                    }
                }
                if (doc is null)
                {
                    if (type is null)
                    {
                        ctx.Err.WriteLine($"Error: No such object: {name}");
                        rc = 1;
                    }
                    continue;
                }
                docs.Add(doc);
                found.Add(doc.RootElement);
            }
            if (a.Get("format") is { } format)
            {
                foreach (var e in found) ctx.Out.Write(Formatting.Render(format, [JsonNode.Parse(e.GetRawText())], null));
            }
            else
                ctx.Out.Write(IndentedArray(found));
        }
        finally
        {
            foreach (var d in docs) d.Dispose();
        }
        return rc;
    }

    /// <summary>skiff events [--since] [--until] [--filter] [--format]</summary>
    public static async Task<int> Events(CliContext ctx, ParsedArgs a)
    {
        var now = DateTimeOffset.UtcNow;
        string path = "/events" + Q(
            ("since", a.Get("since") is { } s ? Units.GetTimestamp(s, now) : null),
            ("until", a.Get("until") is { } u ? Units.GetTimestamp(u, now) : null),
            ("filters", Filters(a.GetAll("filter"))));
        using var resp = await ctx.Client.SendAsync(HttpMethod.Get, path, stream: true).ConfigureAwait(false);
        await using var body = await resp.Content.ReadAsStreamAsync().ConfigureAwait(false);
        using var reader = new StreamReader(body);
        string? format = a.Get("format");
        GoTemplate? tmpl = format is null ? null : GoTemplate.Parse(format == "json" ? "{{json .}}" : format);
        string? line;
        while ((line = await reader.ReadLineAsync().ConfigureAwait(false)) is not null)
        {
            if (line.Length == 0) continue;
            var ev = JsonNode.Parse(line);
            if (ev is null) continue;
            if (tmpl is not null) ctx.Out.WriteLine(tmpl.Execute(ev));
            else ctx.Out.WriteLine(FormatEvent(ev));
            ctx.Out.Flush();
        }
        return 0;
    }

    /// <summary>Docker's default event line: "TIME TYPE ACTION ID (k=v, ...)".</summary>
    public static string FormatEvent(JsonNode ev)
    {
        long nanos = ev["timeNano"]?.GetValue<long>() ?? (ev["time"]?.GetValue<long>() ?? 0) * 1_000_000_000;
        var t = DateTimeOffset.FromUnixTimeMilliseconds(nanos / 1_000_000).ToLocalTime();
        string ts = t.ToString("yyyy-MM-dd'T'HH:mm:ss.", CultureInfo.InvariantCulture) + (nanos % 1_000_000_000).ToString("D9", CultureInfo.InvariantCulture)
            + (t.Offset == TimeSpan.Zero ? "Z" : t.ToString("zzz", CultureInfo.InvariantCulture));
        string type = ev["Type"]?.GetValue<string>() ?? "";
        string action = ev["Action"]?.GetValue<string>() ?? "";
        string id = ev["Actor"]?["ID"]?.GetValue<string>() ?? "";
        var attrs = (ev["Actor"]?["Attributes"] as JsonObject ?? []).OrderBy(k => k.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value?.GetValue<string>());
        string attrText = string.Join(", ", attrs);
        return $"{ts} {type} {action} {id}" + (attrText.Length > 0 ? $" ({attrText})" : "");
    }

    /// <summary>
    /// skiff stats [--no-stream] [-a] [CONTAINER...]: with --no-stream one sample per container
    /// (GET stats?stream=0); otherwise one streaming request per container and a table redrawn every
    /// second (clear screen, cursor home) until interrupted or every stream ended.
    /// </summary>
    public static async Task<int> Stats(CliContext ctx, ParsedArgs a)
    {
        var names = a.Positionals.ToList();
        if (names.Count == 0)
        {
            var list = await ctx.Client.GetJsonAsync("/containers/json" + Q(("all", B(a.Bool("all")))), ApiJson.Default.ListContainerSummary).ConfigureAwait(false);
            names = list.Select(c => c.Id).ToList();
        }
        bool noTrunc = a.Bool("no-trunc");
        string format = UserFormat(a) ?? "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
        var headers = new JsonObject
        {
            ["BlockIO"] = "BLOCK I/O", ["CPUPerc"] = "CPU %", ["Container"] = "CONTAINER", ["ID"] = "CONTAINER ID", ["MemPerc"] = "MEM %",
            ["MemUsage"] = "MEM USAGE / LIMIT", ["Name"] = "NAME", ["NetIO"] = "NET I/O", ["PIDs"] = "PIDS",
        };
        if (a.Bool("no-stream"))
        {
            var rows = new List<JsonNode?>();
            int rc = 0;
            foreach (string name in names)
            {
                try
                {
                    using var doc = await ctx.Client.GetDocumentAsync("/containers/" + P(name) + "/stats" + Q(("stream", "0"))).ConfigureAwait(false);
                    rows.Add(StatsRow(doc.RootElement, name, noTrunc));
                }
                catch (EngineApiException e)
                {
                    ctx.Err.WriteLine(e.DisplayMessage);
                    rc = 1;
                }
            }
            ctx.Out.Write(Formatting.Render(format, rows, headers));
            return rc;
        }

        var latest = new JsonNode?[names.Count];
        var gate = new Lock();
        var readers = names.Select((name, i) => Task.Run(async () =>
        {
            try
            {
                using var resp = await ctx.Client.SendAsync(HttpMethod.Get, "/containers/" + P(name) + "/stats" + Q(("stream", "1")), stream: true).ConfigureAwait(false);
                using var reader = new StreamReader(await resp.Content.ReadAsStreamAsync().ConfigureAwait(false));
                string? line;
                while ((line = await reader.ReadLineAsync().ConfigureAwait(false)) is not null)
                {
                    if (line.Length == 0) continue;
                    using var doc = JsonDocument.Parse(line);
                    var row = StatsRow(doc.RootElement, name, noTrunc);
                    lock (gate) latest[i] = row;
                }
            }
            catch (Exception e) when (e is EngineApiException or IOException or HttpRequestException or JsonException)
            {
            }
        })).ToArray();
        var all = Task.WhenAll(readers);
        while (true)
        {
            bool finished = await Task.WhenAny(all, Task.Delay(1000)).ConfigureAwait(false) == all;
            JsonNode?[] snapshot;
            lock (gate) snapshot = latest.Where(r => r is not null).Select(r => r!.DeepClone()).ToArray();
            ctx.Out.Write("\u001b[2J\u001b[H");
            ctx.Out.Write(Formatting.Render(format, snapshot, headers));
            ctx.Out.Flush();
            if (finished) return 0;
        }
    }

    /// <summary>Docker's stats row computations (cgroup v1 and v2 memory, CPU delta percentage).</summary>
    public static JsonObject StatsRow(JsonElement s, string container, bool noTrunc)
    {
        static double Num(JsonElement e, params string[] path)
        {
            foreach (string p in path)
            {
                if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(p, out e)) return 0;
            }
            return e.ValueKind == JsonValueKind.Number ? e.GetDouble() : 0;
        }
        double cpuDelta = Num(s, "cpu_stats", "cpu_usage", "total_usage") - Num(s, "precpu_stats", "cpu_usage", "total_usage");
        double sysDelta = Num(s, "cpu_stats", "system_cpu_usage") - Num(s, "precpu_stats", "system_cpu_usage");
        double online = Num(s, "cpu_stats", "online_cpus");
        if (online == 0 && s.TryGetProperty("cpu_stats", out var cs) && cs.TryGetProperty("cpu_usage", out var cu) && cu.TryGetProperty("percpu_usage", out var per) && per.ValueKind == JsonValueKind.Array) online = per.GetArrayLength();
        double cpu = sysDelta > 0 && cpuDelta > 0 ? cpuDelta / sysDelta * online * 100 : 0;
        double usage = Num(s, "memory_stats", "usage");
        double cache = Num(s, "memory_stats", "stats", "total_inactive_file");
        if (cache == 0) cache = Num(s, "memory_stats", "stats", "inactive_file");
        double mem = cache < usage ? usage - cache : usage;
        double limit = Num(s, "memory_stats", "limit");
        double rx = 0, tx = 0;
        if (s.TryGetProperty("networks", out var nets) && nets.ValueKind == JsonValueKind.Object)
            foreach (var n in nets.EnumerateObject()) { rx += Num(n.Value, "rx_bytes"); tx += Num(n.Value, "tx_bytes"); }
        double read = 0, write = 0;
        if (s.TryGetProperty("blkio_stats", out var blk) && blk.TryGetProperty("io_service_bytes_recursive", out var ios) && ios.ValueKind == JsonValueKind.Array)
            foreach (var e in ios.EnumerateArray())
            {
                string op = e.TryGetProperty("op", out var o) ? (o.GetString() ?? "").ToLowerInvariant() : "";
                if (op == "read") read += Num(e, "value");
                else if (op == "write") write += Num(e, "value");
            }
        string id = s.TryGetProperty("id", out var idp) ? idp.GetString() ?? "" : "";
        string name = s.TryGetProperty("name", out var np) ? (np.GetString() ?? "").TrimStart('/') : "";
        return new JsonObject
        {
            ["BlockIO"] = $"{Units.HumanSize(read, 3)} / {Units.HumanSize(write, 3)}",
            ["CPUPerc"] = (cpu).ToString("F2", CultureInfo.InvariantCulture) + "%",
            ["Container"] = container,
            ["ID"] = noTrunc ? id : Formatting.ShortId(id),
            ["MemPerc"] = (limit > 0 ? mem / limit * 100 : 0).ToString("F2", CultureInfo.InvariantCulture) + "%",
            ["MemUsage"] = $"{Units.BytesSize(mem)} / {Units.BytesSize(limit)}",
            ["Name"] = name,
            ["NetIO"] = $"{Units.HumanSize(rx, 3)} / {Units.HumanSize(tx, 3)}",
            ["PIDs"] = ((long)Num(s, "pids_stats", "current")).ToString(CultureInfo.InvariantCulture),
        };
    }

    /// <summary>skiff volume create [-d] [-o] [--label] [NAME]</summary>
    public static async Task<int> VolumeCreate(CliContext ctx, ParsedArgs a)
    {
        var req = new VolumeCreateRequest { Name = a.Positionals.Count > 0 ? a.Positionals[0] : a.Get("name"), Driver = a.Get("driver") ?? "local" };
        foreach (string o in a.GetAll("opt")) { int eq = o.IndexOf('='); (req.DriverOpts ??= new())[eq < 0 ? o : o[..eq]] = eq < 0 ? "" : o[(eq + 1)..]; }
        foreach (string l in a.GetAll("label")) { int eq = l.IndexOf('='); (req.Labels ??= new())[eq < 0 ? l : l[..eq]] = eq < 0 ? "" : l[(eq + 1)..]; }
        var v = await ctx.Client.PostJsonAsync("/volumes/create", req, ApiJson.Default.VolumeCreateRequest, ApiJson.Default.Volume).ConfigureAwait(false);
        ctx.Out.WriteLine(v.Name);
        return 0;
    }

    /// <summary>skiff volume ls [-q] [--filter] [--format]</summary>
    public static async Task<int> VolumeList(CliContext ctx, ParsedArgs a)
    {
        var r = await ctx.Client.GetJsonAsync("/volumes" + Q(("filters", Filters(a.GetAll("filter")))), ApiJson.Default.VolumeListResponse).ConfigureAwait(false);
        var rows = (r.Volumes ?? []).OrderBy(v => v.Name, StringComparer.Ordinal).Select(v => (JsonNode?)new JsonObject
        {
            ["Driver"] = v.Driver ?? "",
            ["Labels"] = string.Join(',', (v.Labels ?? []).OrderBy(k => k.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value)),
            ["Mountpoint"] = v.Mountpoint ?? "",
            ["Name"] = v.Name,
            ["Scope"] = v.Scope ?? "local",
        });
        string format = a.Bool("quiet") ? "{{.Name}}" : UserFormat(a) ?? "table {{.Driver}}\t{{.Name}}";
        var headers = new JsonObject { ["Driver"] = "DRIVER", ["Labels"] = "LABELS", ["Mountpoint"] = "MOUNTPOINT", ["Name"] = "VOLUME NAME", ["Scope"] = "SCOPE" };
        ctx.Out.Write(Formatting.Render(format, rows, headers));
        return 0;
    }

    /// <summary>skiff volume rm [-f] VOLUME...</summary>
    public static Task<int> VolumeRemove(CliContext ctx, ParsedArgs a)
        => ContainerCommands.ForEach(ctx, a.Positionals, n => ctx.Client.SendNoContentAsync(HttpMethod.Delete, "/volumes/" + P(n) + Q(("force", B(a.Bool("force"))))));

    /// <summary>skiff volume prune [-a] [-f]</summary>
    public static async Task<int> VolumePrune(CliContext ctx, ParsedArgs a)
    {
        if (!a.Bool("force") && !ContainerCommands.Confirm(ctx, "WARNING! This will remove anonymous local volumes not used by at least one container.")) return 0;
        var filters = a.GetAll("filter").ToList();
        if (a.Bool("all")) filters.Add("all=true");
        var r = await ContainerCommands.PostPrune(ctx, "/volumes/prune" + Q(("filters", Filters(filters)))).ConfigureAwait(false);
        if (r.VolumesDeleted is { Count: > 0 } d)
        {
            ctx.Out.WriteLine("Deleted Volumes:");
            foreach (string v in d) ctx.Out.WriteLine(v);
            ctx.Out.WriteLine();
        }
        ctx.Out.WriteLine("Total reclaimed space: " + Units.HumanSize(r.SpaceReclaimed));
        return 0;
    }

    /// <summary>skiff network create [-d DRIVER] [--internal] [--label] NAME</summary>
    public static async Task<int> NetworkCreate(CliContext ctx, ParsedArgs a)
    {
        var req = new NetworkCreateRequest { Name = a.Positionals[0], Driver = a.Get("driver") ?? "bridge", Internal = a.Bool("internal") ? true : null, EnableIPv6 = a.Bool("ipv6") ? true : null };
        foreach (string l in a.GetAll("label")) { int eq = l.IndexOf('='); (req.Labels ??= new())[eq < 0 ? l : l[..eq]] = eq < 0 ? "" : l[(eq + 1)..]; }
        var subnets = a.GetAll("subnet");
        if (subnets.Count > 0)
        {
            // Each --gateway and --ip-range goes with the subnet of its address family (one IPv4, one IPv6 subnet).
            static bool V6(string s) => s.Contains(':');
            req.IPAM = new IpamRequest
            {
                Config = subnets.Select(s => new IpamPool
                {
                    Subnet = s,
                    Gateway = a.GetAll("gateway").FirstOrDefault(g => V6(g) == V6(s)),
                    IPRange = a.GetAll("ip-range").FirstOrDefault(r => V6(r) == V6(s)),
                }).ToList(),
            };
        }
        else if (a.GetAll("gateway").Count > 0 || a.GetAll("ip-range").Count > 0)
            throw new FlagException("a --gateway or --ip-range needs a --subnet");
        var r = await ctx.Client.PostJsonAsync("/networks/create", req, ApiJson.Default.NetworkCreateRequest, ApiJson.Default.IdResponse).ConfigureAwait(false);
        ctx.Out.WriteLine(r.Id);
        return 0;
    }

    /// <summary>skiff network ls [-q] [--no-trunc] [--filter] [--format]</summary>
    public static async Task<int> NetworkList(CliContext ctx, ParsedArgs a)
    {
        var list = await ctx.Client.GetJsonAsync("/networks" + Q(("filters", Filters(a.GetAll("filter")))), ApiJson.Default.ListNetworkSummary).ConfigureAwait(false);
        bool noTrunc = a.Bool("no-trunc");
        var rows = list.OrderBy(n => n.Name, StringComparer.Ordinal).Select(n => (JsonNode?)new JsonObject
        {
            ["Driver"] = n.Driver ?? "",
            ["ID"] = noTrunc ? n.Id : Formatting.ShortId(n.Id),
            ["Internal"] = n.Internal ? "true" : "false",
            ["Labels"] = string.Join(',', (n.Labels ?? []).OrderBy(k => k.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value)),
            ["Name"] = n.Name,
            ["Scope"] = n.Scope ?? "local",
        });
        string format = a.Bool("quiet") ? "{{.ID}}" : UserFormat(a) ?? "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";
        var headers = new JsonObject { ["Driver"] = "DRIVER", ["ID"] = "NETWORK ID", ["Internal"] = "INTERNAL", ["Labels"] = "LABELS", ["Name"] = "NAME", ["Scope"] = "SCOPE" };
        ctx.Out.Write(Formatting.Render(format, rows, headers));
        return 0;
    }

    /// <summary>skiff network rm NETWORK...</summary>
    public static Task<int> NetworkRemove(CliContext ctx, ParsedArgs a)
        => ContainerCommands.ForEach(ctx, a.Positionals, n => ctx.Client.SendNoContentAsync(HttpMethod.Delete, "/networks/" + P(n)));

    /// <summary>skiff network connect|disconnect NETWORK CONTAINER</summary>
    public static async Task<int> NetworkConnect(CliContext ctx, ParsedArgs a, bool connect)
    {
        var req = new NetworkConnectRequest { Container = a.Positionals[1], Force = !connect && a.Bool("force") ? true : null };
        if (connect && (a.GetAll("alias").Count > 0 || a.Get("ip") is not null))
            req.EndpointConfig = new EndpointSettings
            {
                Aliases = a.GetAll("alias").Count > 0 ? a.GetAll("alias").ToList() : null,
                IPAMConfig = a.Get("ip") is { } ip ? new EndpointIpamConfig { IPv4Address = ip } : null,
            };
        await ctx.Client.SendNoContentAsync(HttpMethod.Post, "/networks/" + P(a.Positionals[0]) + (connect ? "/connect" : "/disconnect"), EngineClient.JsonContent(req, ApiJson.Default.NetworkConnectRequest)).ConfigureAwait(false);
        return 0;
    }

    /// <summary>skiff network prune [-f]</summary>
    public static async Task<int> NetworkPrune(CliContext ctx, ParsedArgs a)
    {
        if (!a.Bool("force") && !ContainerCommands.Confirm(ctx, "WARNING! This will remove all custom networks not used by at least one container.")) return 0;
        var r = await ContainerCommands.PostPrune(ctx, "/networks/prune" + Q(("filters", Filters(a.GetAll("filter"))))).ConfigureAwait(false);
        if (r.NetworksDeleted is { Count: > 0 } d)
        {
            ctx.Out.WriteLine("Deleted Networks:");
            foreach (string n in d) ctx.Out.WriteLine(n);
        }
        return 0;
    }

    /// <summary>skiff system prune [-a] [-f] [--volumes]: containers, networks, images, build cache (and volumes).</summary>
    public static async Task<int> SystemPrune(CliContext ctx, ParsedArgs a)
    {
        bool all = a.Bool("all"), volumes = a.Bool("volumes");
        var warn = new StringBuilder("WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n");
        if (volumes) warn.Append("  - all anonymous volumes not used by at least one container\n");
        warn.Append(all ? "  - all images without at least one container associated to them\n  - all build cache\n" : "  - all dangling images\n  - unused build cache\n");
        if (!a.Bool("force") && !ContainerCommands.Confirm(ctx, warn.ToString().TrimEnd('\n'))) return 0;
        long total = 0;
        var c = await ContainerCommands.PostPrune(ctx, "/containers/prune").ConfigureAwait(false);
        total += c.SpaceReclaimed;
        if (c.ContainersDeleted is { Count: > 0 } cd) { ctx.Out.WriteLine("Deleted Containers:"); foreach (string x in cd) ctx.Out.WriteLine(x); ctx.Out.WriteLine(); }
        var n = await ContainerCommands.PostPrune(ctx, "/networks/prune").ConfigureAwait(false);
        if (n.NetworksDeleted is { Count: > 0 } nd) { ctx.Out.WriteLine("Deleted Networks:"); foreach (string x in nd) ctx.Out.WriteLine(x); ctx.Out.WriteLine(); }
        if (volumes)
        {
            var v = await ContainerCommands.PostPrune(ctx, "/volumes/prune").ConfigureAwait(false);
            total += v.SpaceReclaimed;
            if (v.VolumesDeleted is { Count: > 0 } vd) { ctx.Out.WriteLine("Deleted Volumes:"); foreach (string x in vd) ctx.Out.WriteLine(x); ctx.Out.WriteLine(); }
        }
        var i = await ContainerCommands.PostPrune(ctx, "/images/prune" + Q(("filters", Filters(["dangling=" + (all ? "false" : "true")])))).ConfigureAwait(false);
        total += i.SpaceReclaimed;
        if (i.ImagesDeleted is { Count: > 0 } id)
        {
            ctx.Out.WriteLine("Deleted Images:");
            foreach (var x in id)
            {
                if (x.Untagged is { } u) ctx.Out.WriteLine("untagged: " + u);
                if (x.Deleted is { } d) ctx.Out.WriteLine("deleted: " + d);
            }
            ctx.Out.WriteLine();
        }
        using (var resp = await ctx.Client.SendAsync(HttpMethod.Post, "/build/prune" + Q(("all", all ? "1" : null))).ConfigureAwait(false))
        {
            await using var body = await resp.Content.ReadAsStreamAsync().ConfigureAwait(false);
            using var doc = await System.Text.Json.JsonDocument.ParseAsync(body).ConfigureAwait(false);
            if (doc.RootElement.TryGetProperty("SpaceReclaimed", out var sr)) total += sr.GetInt64();
        }
        ctx.Out.WriteLine("Total reclaimed space: " + Units.HumanSize(total));
        return 0;
    }

    /// <summary>skiff system df: totals per type from GET /system/df.</summary>
    public static async Task<int> SystemDf(CliContext ctx, ParsedArgs a)
    {
        using var doc = await ctx.Client.GetDocumentAsync("/system/df").ConfigureAwait(false);
        var root = doc.RootElement;
        static IEnumerable<JsonElement> Arr(JsonElement r, string name) => r.TryGetProperty(name, out var e) && e.ValueKind == JsonValueKind.Array ? e.EnumerateArray() : [];
        static long L(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : 0;
        var images = Arr(root, "Images").ToList();
        var containers = Arr(root, "Containers").ToList();
        var volumes = Arr(root, "Volumes").ToList();
        // Docker's disk-usage formulas (cli/command/formatter/disk_usage.go): image reclaimable is
        // the layers total minus the unique size of images in use; 4-digit human sizes.
        long layers = L(root, "LayersSize");
        long imgUsed = images.Where(i => L(i, "Containers") != 0 && L(i, "Size") != -1 && L(i, "SharedSize") != -1).Sum(i => L(i, "Size") - L(i, "SharedSize"));
        long imgActive = images.Count(i => L(i, "Containers") > 0);
        static bool Active(JsonElement c) => c.TryGetProperty("State", out var s) && s.GetString() is "running" or "paused" or "restarting";
        long ctrSize = containers.Sum(c => L(c, "SizeRw"));
        long ctrActive = containers.Count(Active);
        long ctrReclaim = containers.Where(c => !Active(c)).Sum(c => L(c, "SizeRw"));
        static long VolSize(JsonElement v) => v.TryGetProperty("UsageData", out var u) && u.ValueKind == JsonValueKind.Object ? L(u, "Size") : -1;
        static long VolRefs(JsonElement v) => v.TryGetProperty("UsageData", out var u) && u.ValueKind == JsonValueKind.Object ? L(u, "RefCount") : 0;
        long volSize = volumes.Where(v => VolSize(v) != -1).Sum(VolSize);
        long volReclaim = volumes.Where(v => VolSize(v) != -1 && VolRefs(v) == 0).Sum(VolSize);
        long volActive = volumes.Count(v => VolRefs(v) > 0);
        static string Reclaim(long part, long whole) => whole > 0 ? $"{Units.HumanSize(part)} ({part * 100 / whole}%)" : Units.HumanSize(part);
        static string N(long v) => v.ToString(CultureInfo.InvariantCulture);
        var rows = new List<JsonNode?>
        {
            new JsonObject { ["Type"] = "Images", ["TotalCount"] = N(images.Count), ["Active"] = N(imgActive), ["Size"] = Units.HumanSize(layers), ["Reclaimable"] = Reclaim(layers - imgUsed, layers) },
            new JsonObject { ["Type"] = "Containers", ["TotalCount"] = N(containers.Count), ["Active"] = N(ctrActive), ["Size"] = Units.HumanSize(ctrSize), ["Reclaimable"] = Reclaim(ctrReclaim, ctrSize) },
            new JsonObject { ["Type"] = "Local Volumes", ["TotalCount"] = N(volumes.Count), ["Active"] = N(volActive), ["Size"] = Units.HumanSize(volSize), ["Reclaimable"] = Reclaim(volReclaim, volSize) },
            new JsonObject { ["Type"] = "Build Cache", ["TotalCount"] = "0", ["Active"] = "0", ["Size"] = "0B", ["Reclaimable"] = "0B" },
        };
        string format = UserFormat(a) ?? "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";
        var headers = new JsonObject { ["Type"] = "TYPE", ["TotalCount"] = "TOTAL", ["Active"] = "ACTIVE", ["Size"] = "SIZE", ["Reclaimable"] = "RECLAIMABLE" };
        ctx.Out.Write(Formatting.Render(format, rows, headers));
        return 0;
    }

    /// <summary>
    /// skiff login [-u USER] [-p PASS | --password-stdin] [SERVER]: prompts on a terminal for what
    /// is missing, checks the credentials with POST /auth, then stores them for pull/push.
    /// </summary>
    public static async Task<int> Login(CliContext ctx, ParsedArgs a)
    {
        string server = Credentials.NormalizeServer(a.Positionals.Count > 0 ? a.Positionals[0] : null);
        string? user = a.Get("username");
        string? password = a.Get("password");
        if (a.Bool("password-stdin"))
        {
            if (password is not null) throw new CliException("--password and --password-stdin are mutually exclusive", 1);
            if (user is null) throw new CliException("Must provide --username with --password-stdin", 1);
            password = new StreamReader(FdStream.Stdin()).ReadToEnd().TrimEnd('\n', '\r');
        }
        else if (password is not null)
        {
            ctx.Err.WriteLine("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        }
        if (user is null || password is null)
        {
            if (!Terminal.IsTerminal(0)) throw new CliException("Error: Cannot perform an interactive login from a non TTY device", 1);
            var stdin = new StreamReader(FdStream.Stdin());
            if (user is null)
            {
                ctx.Out.Write("Username: ");
                ctx.Out.Flush();
                user = stdin.ReadLine()?.Trim() ?? "";
            }
            if (password is null)
            {
                ctx.Out.Write("Password: ");
                ctx.Out.Flush();
                Terminal.SetEcho(false);
                try { password = stdin.ReadLine() ?? ""; }
                finally { Terminal.SetEcho(true); }
                ctx.Out.WriteLine();
            }
        }
        if (user.Length == 0) throw new CliException("Error: Non-null Username Required", 1);
        var req = new AuthConfig { Username = user, Password = password, ServerAddress = server };
        var r = await ctx.Client.PostJsonAsync("/auth", req, ApiJson.Default.AuthConfig, ApiJson.Default.AuthResponse).ConfigureAwait(false);
        Credentials.Store(server, user, password);
        ctx.Out.WriteLine(string.IsNullOrEmpty(r.Status) ? "Login Succeeded" : r.Status);
        return 0;
    }

    /// <summary>skiff logout [SERVER]: forgets stored credentials.</summary>
    public static Task<int> Logout(CliContext ctx, ParsedArgs a)
    {
        string server = Credentials.NormalizeServer(a.Positionals.Count > 0 ? a.Positionals[0] : null);
        if (!Credentials.Remove(server))
        {
            ctx.Out.WriteLine($"Not logged in to {server}");
            return Task.FromResult(0);
        }
        ctx.Out.WriteLine($"Removing login credentials for {server}");
        return Task.FromResult(0);
    }
}
