using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Skiff.Client;
using Skiff.Client.Models;

namespace Skiff.Compose;

/// <summary>
/// Runs compose commands against any Docker Engine API daemon (skiffd or dockerd) with the
/// standard endpoints only, so the resources it makes are the ones Docker Compose would make:
/// the same names and the same <c>com.docker.compose.*</c> labels. Progress goes to
/// <see cref="Err"/> as Docker Compose prints it without a terminal; command output to <see cref="Out"/>.
/// </summary>
public sealed partial class ComposeEngine(EngineClient client, Project project, TextWriter stdout, TextWriter stderr)
{
    /// <summary>The daemon.</summary>
    public EngineClient Client { get; } = client;

    /// <summary>The loaded project.</summary>
    public Project Project { get; } = project;

    /// <summary>Command output (ps tables, logs).</summary>
    public TextWriter Out { get; } = stdout;

    /// <summary>Progress lines.</summary>
    public TextWriter Err { get; } = stderr;

    /// <summary>The X-Registry-Auth header value for an image reference (pull, push); null sends none.</summary>
    public Func<string, string>? RegistryAuth { get; init; }

    private readonly Lock _printLock = new();

    /// <summary>Prints one progress line (" Container proj-web-1  Started"); safe from parallel tasks.</summary>
    public void Progress(string kind, string name, string status)
    {
        lock (_printLock) Err.WriteLine($" {kind} {name}  {status}");
    }

    // ---- names -------------------------------------------------------------------------------

    /// <summary><c>project-service-n</c>, or the service's container_name.</summary>
    public string ContainerName(Service s, int number) => s.ContainerName ?? $"{Project.Name}-{s.Name}-{number}";

    /// <summary>The image a service runs: its image, else <c>project-service</c> for a build.</summary>
    public string ImageName(Service s) => s.Image ?? $"{Project.Name}-{s.Name}";

    /// <summary>
    /// The configuration hash label value, as docker-compose 1.29 computes it (<see cref="Compose.ConfigHash"/>), with the
    /// ID the service's image has now (none when there is no such image).
    /// </summary>
    public async Task<string> ConfigHashAsync(Service s, CancellationToken ct)
    {
        string? imageId = null;
        try
        {
            using var doc = await Client.GetDocumentAsync("/images/" + P(ImageName(s)) + "/json", ct).ConfigureAwait(false);
            if (doc.RootElement.TryGetProperty("Id", out var id)) imageId = id.GetString();
        }
        catch (EngineApiException e) when (e.Status == HttpStatusCode.NotFound)
        {
        }
        return Compose.ConfigHash.Compute(Project, s, imageId);
    }

    private static string P(string s) => Uri.EscapeDataString(s);

    private static string Filters(params (string Key, string Value)[] filters)
    {
        var d = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (k, v) in filters)
        {
            if (!d.TryGetValue(k, out var l)) d[k] = l = [];
            l.Add(v);
        }
        return "filters=" + P(JsonSerializer.Serialize(d, ComposeJson.Default.DictionaryStringListString));
    }

    // ---- containers --------------------------------------------------------------------------

    /// <summary>The project's containers (all states), optionally of some services only, sorted by service and number.</summary>
    public async Task<List<ContainerSummary>> ListContainersAsync(IReadOnlyCollection<string>? services = null, bool? oneOff = false, CancellationToken ct = default)
    {
        var filters = new List<(string, string)> { ("label", $"{Labels.Project}={Project.Name}") };
        if (oneOff is { } o) filters.Add(("label", $"{Labels.OneOff}={(o ? "True" : "False")}"));
        var list = await Client.GetJsonAsync("/containers/json?all=1&" + Filters([.. filters]), ApiJson.Default.ListContainerSummary, ct).ConfigureAwait(false);
        return list
            .Where(c => services is null || services.Count == 0 || services.Contains(ServiceOf(c)))
            .OrderBy(c => ServiceOf(c), StringComparer.Ordinal).ThenBy(NumberOf).ToList();
    }

    /// <summary>The service label of a container.</summary>
    public static string ServiceOf(ContainerSummary c) => c.Labels?.GetValueOrDefault(Labels.Service) ?? "";

    /// <summary>The container-number label of a container (0 when missing).</summary>
    public static int NumberOf(ContainerSummary c) => int.TryParse(c.Labels?.GetValueOrDefault(Labels.ContainerNumber), out int n) ? n : 0;

    /// <summary>The container's name without the leading '/'.</summary>
    /// <summary>A listed container's own name: its link names ("/parent/alias") are listed too.</summary>
    public static string NameOf(ContainerSummary c) => c.Names is { Count: > 0 } n ? (n.FirstOrDefault(x => x.LastIndexOf('/') == 0) ?? n[0]).TrimStart('/') : c.Id[..12];

    /// <summary>GET /containers/{id}/json as a document.</summary>
    public Task<JsonDocument> InspectAsync(string id, CancellationToken ct = default) => Client.GetDocumentAsync("/containers/" + P(id) + "/json", ct);

    /// <summary>Builds the create request for one container of a service.</summary>
    public ContainerCreateRequest CreateRequest(Service s, int number, bool oneOff, string hash)
    {
        string name = ContainerName(s, number);
        var labels = new Dictionary<string, string>(s.Labels, StringComparer.Ordinal)
        {
            [Labels.Project] = Project.Name,
            [Labels.Service] = s.Name,
            [Labels.ContainerNumber] = number.ToString(CultureInfo.InvariantCulture),
            [Labels.OneOff] = oneOff ? "True" : "False",
            [Labels.ConfigHash] = hash,
            [Labels.WorkingDir] = Project.WorkingDir,
            [Labels.ConfigFiles] = string.Join(',', Project.ConfigFiles),
            [Labels.Version] = Labels.ComposeVersion,
            [Labels.Image] = ImageName(s),
        };
        var host = new HostConfig
        {
            CapAdd = s.CapAdd.Count > 0 ? s.CapAdd : null,
            CapDrop = s.CapDrop.Count > 0 ? s.CapDrop : null,
            Dns = s.Dns.Count > 0 ? s.Dns : null,
            ExtraHosts = s.ExtraHosts.Count > 0 ? s.ExtraHosts : null,
            Privileged = s.Privileged,
            ReadonlyRootfs = s.ReadOnly,
            Init = s.Init,
            RestartPolicy = s.Restart is { } r ? RestartPolicyOf(r) : null,
            Tmpfs = s.Tmpfs.Count > 0 ? s.Tmpfs.ToDictionary(t => t.Split(':', 2)[0], t => t.Contains(':') ? t.Split(':', 2)[1] : "") : null,
        };
        var mounts = new List<Mount>();
        var binds = new List<string>();
        var anonymous = new Dictionary<string, EmptyObject>();
        foreach (var m in s.Volumes)
        {
            switch (m.Type)
            {
                case "volume" when m.Source is null:
                    anonymous[m.Target] = new EmptyObject();
                    break;
                case "volume":
                    // Binds rather than Mounts for named volumes: the daemon then creates a volume
                    // that is missing instead of failing, and older daemons accept it too.
                    binds.Add($"{Project.Volumes[m.Source].Name}:{m.Target}:{(m.ReadOnly ? "ro" : "rw")}{(m.NoCopy == true ? ",nocopy" : "")}");
                    break;
                case "bind":
                    if (m.CreateHostPath == true) binds.Add($"{m.Source}:{m.Target}:{(m.ReadOnly ? "ro" : "rw")}");
                    else mounts.Add(new Mount { Type = "bind", Source = m.Source, Target = m.Target, ReadOnly = m.ReadOnly ? true : null });
                    break;
                case "tmpfs":
                    mounts.Add(new Mount { Type = "tmpfs", Target = m.Target, ReadOnly = m.ReadOnly ? true : null, TmpfsOptions = m.TmpfsSize is { } size ? new TmpfsOptions { SizeBytes = size } : null });
                    break;
            }
        }
        host.Binds = binds.Count > 0 ? binds : null;
        host.Mounts = mounts.Count > 0 ? mounts : null;

        Dictionary<string, EmptyObject>? exposed = null;
        if (!oneOff || s.Ports.Count > 0)
        {
            foreach (var e in s.Expose)
                (exposed ??= [])[e.Contains('/') ? e : e + "/tcp"] = new EmptyObject();
        }
        if (!oneOff && s.Ports.Count > 0)
        {
            host.PortBindings = [];
            foreach (var pc in s.Ports)
            {
                string key = $"{pc.Target}/{pc.Protocol}";
                (exposed ??= [])[key] = new EmptyObject();
                if (!host.PortBindings.TryGetValue(key, out var list)) host.PortBindings[key] = list = [];
                list.Add(new PortBinding { HostIp = pc.HostIp ?? "", HostPort = pc.Published ?? "" });
            }
        }

        NetworkingConfig? networking = null;
        if (s.NetworkMode is { } mode)
        {
            host.NetworkMode = mode.StartsWith("service:", StringComparison.Ordinal)
                ? "container:" + ContainerName(Project.Services[mode["service:".Length..]], 1)
                : mode;
        }
        else if (s.Networks.Count > 0)
        {
            // The first network goes into the create request; the others are connected before start
            // (daemons before API 1.44 take a single endpoint at create).
            var (key, sn) = s.Networks.First();
            string netName = Project.Networks[key].Name;
            host.NetworkMode = netName;
            networking = new NetworkingConfig { EndpointsConfig = new() { [netName] = new EndpointSettings { Aliases = Aliases(s, sn, name, oneOff) } } };
        }

        return new ContainerCreateRequest
        {
            Image = ImageName(s),
            Cmd = s.Command,
            Entrypoint = s.Entrypoint,
            Env = s.Environment.Where(kv => kv.Value is not null).Select(kv => kv.Key + "=" + kv.Value).ToList() is { Count: > 0 } env ? env : null,
            User = s.User,
            WorkingDir = s.WorkingDir,
            Hostname = s.Hostname,
            Domainname = s.Domainname,
            Tty = s.Tty ?? false,
            OpenStdin = s.StdinOpen ?? false,
            Labels = labels,
            StopSignal = s.StopSignal,
            StopTimeout = s.StopGracePeriod is { } g ? (int)(g / 1_000_000_000) : null,
            ExposedPorts = exposed,
            Volumes = anonymous.Count > 0 ? anonymous : null,
            Healthcheck = s.Healthcheck is { } h ? new HealthConfig { Test = h.Test, Interval = h.Interval, Timeout = h.Timeout, StartPeriod = h.StartPeriod, StartInterval = h.StartInterval, Retries = h.Retries } : null,
            HostConfig = host,
            NetworkingConfig = networking,
        };
    }

    /// <summary>The DNS aliases of a container on a network: the service name, the container name, and the declared aliases.</summary>
    private static List<string> Aliases(Service s, ServiceNetwork sn, string containerName, bool oneOff)
    {
        var list = new List<string>();
        if (!oneOff) list.Add(s.Name);
        list.Add(containerName);
        foreach (var a in sn.Aliases) if (!list.Contains(a)) list.Add(a);
        return list;
    }

    private static RestartPolicy RestartPolicyOf(string r)
    {
        if (r.StartsWith("on-failure", StringComparison.Ordinal))
            return new RestartPolicy { Name = "on-failure", MaximumRetryCount = r.Contains(':') ? int.Parse(r[(r.IndexOf(':') + 1)..], CultureInfo.InvariantCulture) : 0 };
        return new RestartPolicy { Name = r };
    }

    /// <summary>Creates one container (and connects its extra networks); returns its ID.</summary>
    public async Task<string> CreateContainerAsync(Service s, int number, bool oneOff, string hash, string? nameOverride = null, Action<ContainerCreateRequest>? adjust = null, CancellationToken ct = default)
    {
        var req = CreateRequest(s, number, oneOff, hash);
        adjust?.Invoke(req);
        string name = nameOverride ?? ContainerName(s, number);
        var created = await Client.PostJsonAsync("/containers/create?name=" + P(name), req, ApiJson.Default.ContainerCreateRequest, ApiJson.Default.ContainerCreateResponse, ct).ConfigureAwait(false);
        if (s.NetworkMode is null)
        {
            foreach (var (key, sn) in s.Networks.Skip(1))
            {
                var body = new NetworkConnectBody { Container = created.Id, EndpointConfig = new EndpointBody { Aliases = Aliases(s, sn, name, oneOff) } };
                await Client.SendNoContentAsync(HttpMethod.Post, "/networks/" + P(Project.Networks[key].Name) + "/connect", EngineClient.JsonContent(body, ComposeJson.Default.NetworkConnectBody), ct).ConfigureAwait(false);
            }
        }
        return created.Id;
    }

    /// <summary>Stops a container (timeout in seconds; null: the container's own stop timeout).</summary>
    public Task StopContainerAsync(string id, int? timeout, CancellationToken ct = default)
        => Client.SendNoContentAsync(HttpMethod.Post, "/containers/" + P(id) + "/stop" + (timeout is { } t ? "?t=" + t.ToString(CultureInfo.InvariantCulture) : ""), ct: ct);

    /// <summary>Removes a container; a container already gone is not an error.</summary>
    public async Task RemoveContainerAsync(string id, bool force, bool volumes, CancellationToken ct = default)
    {
        try
        {
            await Client.SendNoContentAsync(HttpMethod.Delete, "/containers/" + P(id) + $"?force={(force ? 1 : 0)}&v={(volumes ? 1 : 0)}", ct: ct).ConfigureAwait(false);
        }
        catch (EngineApiException e) when (e.Status == HttpStatusCode.NotFound)
        {
        }
    }

    /// <summary>Starts a container; "already started" (304) is success.</summary>
    public Task StartContainerAsync(string id, CancellationToken ct = default)
        => Client.SendNoContentAsync(HttpMethod.Post, "/containers/" + P(id) + "/start", ct: ct);

    // ---- images ------------------------------------------------------------------------------

    /// <summary>True when the daemon has the image.</summary>
    public async Task<bool> ImageExistsAsync(string image, CancellationToken ct = default)
    {
        try
        {
            using var doc = await Client.GetDocumentAsync("/images/" + P(image) + "/json", ct).ConfigureAwait(false);
            return true;
        }
        catch (EngineApiException e) when (e.Status == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>Splits an image reference into repository and tag (default <c>latest</c>; digests kept in the repository part).</summary>
    public static (string Repo, string? Tag) SplitImage(string image)
    {
        if (image.Contains('@')) return (image, null);
        int slash = image.LastIndexOf('/');
        int colon = image.LastIndexOf(':');
        return colon > slash ? (image[..colon], image[(colon + 1)..]) : (image, "latest");
    }

    /// <summary>Reads a JSON message stream (pull, push, build); throws on an error message. Returns the last aux ID, if any.</summary>
    public static async Task<string?> ReadMessagesAsync(Stream body, Action<JsonMessage>? each, CancellationToken ct)
    {
        string? aux = null;
        using var reader = new StreamReader(body, Encoding.UTF8);
        string? line;
        while ((line = await reader.ReadLineAsync(ct).ConfigureAwait(false)) is not null)
        {
            if (line.Trim().Length == 0) continue;
            JsonMessage msg;
            try { msg = JsonSerializer.Deserialize(line, ApiJson.Default.JsonMessage)!; }
            catch (JsonException) { continue; }
            if (msg.Error is { Length: > 0 } err) throw new ComposeException(err);
            if (msg.ErrorDetail?.Message is { Length: > 0 } em) throw new ComposeException(em);
            if (msg.Aux?.ID is { } id) aux = id;
            each?.Invoke(msg);
        }
        return aux;
    }

    /// <summary>Pulls an image, reporting " Image x  Pulling/Pulled".</summary>
    public async Task PullImageAsync(string image, string? platform, CancellationToken ct = default)
    {
        var (repo, tag) = SplitImage(image);
        string q = "/images/create?fromImage=" + P(repo) + (tag is null ? "" : "&tag=" + P(tag)) + (platform is null ? "" : "&platform=" + P(platform));
        var headers = RegistryAuth is null ? null : new[] { new KeyValuePair<string, string>("X-Registry-Auth", RegistryAuth(image)) };
        Progress("Image", image, "Pulling");
        using var resp = await Client.SendAsync(HttpMethod.Post, q, stream: true, ct: ct, headers: headers).ConfigureAwait(false);
        await using var body = await resp.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        await ReadMessagesAsync(body, null, ct).ConfigureAwait(false);
        Progress("Image", image, "Pulled");
    }
}
