using System.Net;
using System.Text.Json;
using Skiff.Client;
using Skiff.Client.Models;

namespace Skiff.Compose;

/// <summary>Options of <c>compose up</c> (and of the service start <c>run</c> does for dependencies).</summary>
public sealed class UpOptions
{
    /// <summary>Services named on the command line (empty: all enabled services).</summary>
    public List<string> Services { get; init; } = [];
    public bool Build { get; init; }
    public bool NoBuild { get; init; }
    public bool ForceRecreate { get; init; }
    public bool NoRecreate { get; init; }
    public bool NoStart { get; init; }
    public bool NoDeps { get; init; }
    public bool RemoveOrphans { get; init; }
    /// <summary>--pull: always, missing, never (null: the service's pull_policy).</summary>
    public string? Pull { get; init; }
    /// <summary>--scale service=n.</summary>
    public Dictionary<string, int> Scale { get; init; } = new(StringComparer.Ordinal);
    /// <summary>-t: seconds to wait when stopping containers that are recreated or scaled down.</summary>
    public int? Timeout { get; init; }
    /// <summary>--wait: block until the services are running and healthy.</summary>
    public bool Wait { get; init; }
}

public sealed partial class ComposeEngine
{
    /// <summary>The named services plus, unless <paramref name="noDeps"/>, everything they depend on; in dependency order.</summary>
    public List<Service> Select(IReadOnlyCollection<string> names, bool noDeps = false)
    {
        foreach (var n in names)
            if (!Project.Services.ContainsKey(n))
                throw new ComposeException(Project.DisabledServices.ContainsKey(n) ? $"service \"{n}\" is disabled by its profiles" : $"no such service: {n}");
        var picked = new HashSet<string>(StringComparer.Ordinal);
        void Add(string n)
        {
            if (!picked.Add(n) || noDeps) return;
            foreach (var d in Project.Services[n].DependsOn.Keys)
                if (Project.Services.ContainsKey(d)) Add(d);
        }
        foreach (var n in names.Count == 0 ? Project.Services.Keys : names) Add(n);
        return ProjectLoader.DependencyOrder(Project.Services.Values.Where(s => picked.Contains(s.Name)).ToList(), Project);
    }

    /// <summary>
    /// Creates what is missing and starts the selected services in dependency order: images
    /// (pulled or built), networks and volumes, then containers. Services whose dependencies are
    /// satisfied run in parallel; a dependent waits for each dependency's condition
    /// (started, healthy, or exited 0). A container whose config hash changed is recreated;
    /// one that is up to date is only started. Returns the containers of the selected services.
    /// </summary>
    public async Task<List<ContainerSummary>> UpAsync(UpOptions o, CancellationToken ct = default)
    {
        var services = Select(o.Services, o.NoDeps);
        await EnsureImagesAsync(services, o.Build, o.NoBuild, o.Pull, ct).ConfigureAwait(false);
        await EnsureNetworksAsync(services, ct).ConfigureAwait(false);
        await EnsureVolumesAsync(services, ct).ConfigureAwait(false);
        var existing = await ListContainersAsync(null, false, ct).ConfigureAwait(false);
        if (o.RemoveOrphans) await RemoveOrphansAsync(existing, o.Timeout, ct).ConfigureAwait(false);
        else WarnOrphans(existing);

        var tasks = new Dictionary<string, Task>(StringComparer.Ordinal);
        foreach (var s in services)
        {
            var deps = s.DependsOn.Where(d => tasks.ContainsKey(d.Key)).Select(d => (d.Key, d.Value, Task: tasks[d.Key])).ToList();
            int scale = o.Scale.TryGetValue(s.Name, out int sc) ? sc : s.Scale;
            tasks[s.Name] = Task.Run(async () =>
            {
                foreach (var (name, dep, task) in deps)
                {
                    await task.ConfigureAwait(false);
                    if (!o.NoStart) await WaitForConditionAsync(Project.Services[name], dep.Condition, ct).ConfigureAwait(false);
                }
                await ConvergeAsync(s, scale, o, existing.Where(c => ServiceOf(c) == s.Name).ToList(), ct).ConfigureAwait(false);
            }, ct);
        }
        try
        {
            await Task.WhenAll(tasks.Values).ConfigureAwait(false);
        }
        catch
        {
            // Report the first failure, as the other tasks may only have failed because of it.
            var first = tasks.Values.FirstOrDefault(t => t.IsFaulted)?.Exception?.InnerException;
            if (first is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
            throw;
        }
        if (o.Wait)
            foreach (var s in services)
                await WaitForConditionAsync(s, s.Healthcheck is { Disable: false, Test: not null } ? "service_healthy" : "service_started", ct).ConfigureAwait(false);
        var names = services.Select(s => s.Name).ToList();
        return await ListContainersAsync(names, false, ct).ConfigureAwait(false);
    }

    private void WarnOrphans(List<ContainerSummary> existing)
    {
        var orphans = existing.Where(c => !Project.Services.ContainsKey(ServiceOf(c)) && !Project.DisabledServices.ContainsKey(ServiceOf(c))).Select(NameOf).ToList();
        if (orphans.Count > 0)
            lock (_printLock) Err.WriteLine($"WARN[0000] Found orphan containers ([{string.Join(' ', orphans)}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.");
    }

    private async Task RemoveOrphansAsync(List<ContainerSummary> existing, int? timeout, CancellationToken ct)
    {
        var orphans = existing.Where(c => !Project.Services.ContainsKey(ServiceOf(c)) && !Project.DisabledServices.ContainsKey(ServiceOf(c))).ToList();
        await Task.WhenAll(orphans.Select(async c =>
        {
            Progress("Container", NameOf(c), "Stopping");
            await StopContainerAsync(c.Id, timeout, ct).ConfigureAwait(false);
            await RemoveContainerAsync(c.Id, true, false, ct).ConfigureAwait(false);
            Progress("Container", NameOf(c), "Removed");
        })).ConfigureAwait(false);
        existing.RemoveAll(orphans.Contains);
    }

    /// <summary>Brings one service to <paramref name="scale"/> containers with the current configuration.</summary>
    private async Task ConvergeAsync(Service s, int scale, UpOptions o, List<ContainerSummary> existing, CancellationToken ct)
    {
        string hash = await ConfigHashAsync(s, ct).ConfigureAwait(false);
        var byNumber = existing.OrderBy(NumberOf).ToList();
        // Scale down (numbers above the scale) and duplicates of a number go first.
        var seen = new HashSet<int>();
        var extras = byNumber.Where(c => NumberOf(c) > scale || !seen.Add(NumberOf(c))).Reverse().ToList();
        foreach (var extra in extras)
        {
            Progress("Container", NameOf(extra), "Stopping");
            await StopContainerAsync(extra.Id, o.Timeout, ct).ConfigureAwait(false);
            await RemoveContainerAsync(extra.Id, true, false, ct).ConfigureAwait(false);
            Progress("Container", NameOf(extra), "Removed");
            byNumber.Remove(extra);
        }
        var work = new List<Task>();
        for (int n = 1; n <= scale; n++)
        {
            int number = n;
            var current = byNumber.FirstOrDefault(c => NumberOf(c) == number);
            work.Add(Task.Run(async () =>
            {
                string name = ContainerName(s, number);
                string? id = current?.Id;
                bool changed = current is not null && (o.ForceRecreate || current.Labels?.GetValueOrDefault(Labels.ConfigHash) != hash || await ImageChangedAsync(s, current, ct).ConfigureAwait(false));
                if (current is not null && changed && !o.NoRecreate)
                {
                    Progress("Container", name, "Recreate");
                    if (current.State == "running") await StopContainerAsync(current.Id, o.Timeout, ct).ConfigureAwait(false);
                    await RemoveContainerAsync(current.Id, true, false, ct).ConfigureAwait(false);
                    id = await CreateContainerAsync(s, number, false, hash, ct: ct).ConfigureAwait(false);
                    Progress("Container", name, "Recreated");
                }
                else if (current is null)
                {
                    Progress("Container", name, "Creating");
                    id = await CreateContainerAsync(s, number, false, hash, ct: ct).ConfigureAwait(false);
                    Progress("Container", name, "Created");
                }
                else if (current.State == "running")
                {
                    Progress("Container", name, "Running");
                    return;
                }
                if (o.NoStart) return;
                Progress("Container", name, "Starting");
                await StartContainerAsync(id!, ct).ConfigureAwait(false);
                Progress("Container", name, "Started");
            }, ct));
        }
        await Task.WhenAll(work).ConfigureAwait(false);
    }

    /// <summary>True when the service's image now resolves to another image ID than the container's (a rebuilt or re-pulled image).</summary>
    private async Task<bool> ImageChangedAsync(Service s, ContainerSummary c, CancellationToken ct)
    {
        if (c.ImageID is not { Length: > 0 } current) return false;
        try
        {
            using var doc = await Client.GetDocumentAsync("/images/" + P(ImageName(s)) + "/json", ct).ConfigureAwait(false);
            return doc.RootElement.TryGetProperty("Id", out var id) && id.GetString() is { } now && now != current;
        }
        catch (EngineApiException e) when (e.Status == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>
    /// Waits until every container of <paramref name="s"/> meets a depends_on condition:
    /// service_started (nothing to wait for), service_healthy (health status "healthy"; a
    /// container without a healthcheck or one that turns unhealthy or exits fails), or
    /// service_completed_successfully (exited with status 0).
    /// </summary>
    public async Task WaitForConditionAsync(Service s, string condition, CancellationToken ct)
    {
        if (condition == "service_started") return;
        var containers = await ListContainersAsync([s.Name], false, ct).ConfigureAwait(false);
        foreach (var c in containers)
        {
            string name = NameOf(c);
            Progress("Container", name, "Waiting");
            if (condition == "service_completed_successfully")
            {
                using var resp = await Client.SendAsync(HttpMethod.Post, "/containers/" + P(c.Id) + "/wait?condition=not-running", ct: ct).ConfigureAwait(false);
                var w = JsonSerializer.Deserialize(await resp.Content.ReadAsStringAsync(ct).ConfigureAwait(false), ApiJson.Default.WaitResponse)!;
                if (w.StatusCode != 0) throw new ComposeException($"service \"{s.Name}\" didn't complete successfully: exit {w.StatusCode}");
                Progress("Container", name, "Exited");
                continue;
            }
            while (true)
            {
                using var doc = await InspectAsync(c.Id, ct).ConfigureAwait(false);
                var state = doc.RootElement.GetProperty("State");
                string? health = state.TryGetProperty("Health", out var h) && h.ValueKind == JsonValueKind.Object && h.TryGetProperty("Status", out var hs) ? hs.GetString() : null;
                if (health is null)
                    throw new ComposeException($"container {name} has no healthcheck configured");
                if (health == "healthy") break;
                if (health == "unhealthy") throw new ComposeException($"dependency failed to start: container {name} is unhealthy");
                if (state.TryGetProperty("Running", out var running) && !running.GetBoolean() && !(state.TryGetProperty("Restarting", out var rs) && rs.GetBoolean()))
                    throw new ComposeException($"dependency failed to start: container {name} exited ({(state.TryGetProperty("ExitCode", out var ec) ? ec.GetInt32() : -1)})");
                await Task.Delay(200, ct).ConfigureAwait(false);
            }
            Progress("Container", name, "Healthy");
        }
    }

    /// <summary>Creates the networks the services use that do not exist yet; an external network must exist.</summary>
    public async Task EnsureNetworksAsync(IEnumerable<Service> services, CancellationToken ct)
    {
        var keys = services.Where(s => s.NetworkMode is null).SelectMany(s => s.Networks.Keys).Distinct().ToList();
        foreach (var key in keys)
        {
            var n = Project.Networks[key];
            var found = await Client.GetJsonAsync("/networks?" + Filters(("name", n.Name)), ApiJson.Default.ListNetworkSummary, ct).ConfigureAwait(false);
            if (found.Any(x => x.Name == n.Name)) continue;
            if (n.External) throw new ComposeException($"network {n.Name} declared as external, but could not be found");
            var labels = new Dictionary<string, string>(n.Labels, StringComparer.Ordinal)
            {
                [Labels.Project] = Project.Name,
                [Labels.Network] = key,
                [Labels.Version] = Labels.ComposeVersion,
            };
            var body = new NetworkCreateBody
            {
                Name = n.Name,
                CheckDuplicate = true,
                Driver = n.Driver,
                Internal = n.Internal,
                Attachable = n.Attachable,
                EnableIPv6 = n.EnableIpv6,
                Options = n.DriverOpts.Count > 0 ? new Dictionary<string, string>(n.DriverOpts) : null,
                Labels = labels,
                IPAM = n.IpamConfig.Count > 0 ? new IpamBody { Config = n.IpamConfig.Select(c => new IpamPoolBody { Subnet = c.Subnet, Gateway = c.Gateway }).ToList() } : null,
            };
            Progress("Network", n.Name, "Creating");
            try
            {
                await Client.SendNoContentAsync(HttpMethod.Post, "/networks/create", EngineClient.JsonContent(body, ComposeJson.Default.NetworkCreateBody), ct).ConfigureAwait(false);
            }
            catch (EngineApiException e) when (e.Status == HttpStatusCode.Conflict)
            {
            }
            Progress("Network", n.Name, "Created");
        }
    }

    /// <summary>Creates the named volumes the services use that do not exist yet; an external volume must exist.</summary>
    public async Task EnsureVolumesAsync(IEnumerable<Service> services, CancellationToken ct)
    {
        var keys = services.SelectMany(s => s.Volumes).Where(m => m.Type == "volume" && m.Source is not null).Select(m => m.Source!).Distinct().ToList();
        foreach (var key in keys)
        {
            var v = Project.Volumes[key];
            try
            {
                using var doc = await Client.GetDocumentAsync("/volumes/" + P(v.Name), ct).ConfigureAwait(false);
                continue;
            }
            catch (EngineApiException e) when (e.Status == HttpStatusCode.NotFound)
            {
            }
            if (v.External) throw new ComposeException($"external volume \"{v.Name}\" not found");
            var labels = new Dictionary<string, string>(v.Labels, StringComparer.Ordinal)
            {
                [Labels.Project] = Project.Name,
                [Labels.Volume] = key,
                [Labels.Version] = Labels.ComposeVersion,
            };
            Progress("Volume", $"\"{v.Name}\"", "Creating");
            var body = new VolumeCreateRequest { Name = v.Name, Driver = v.Driver, DriverOpts = v.DriverOpts.Count > 0 ? new Dictionary<string, string>(v.DriverOpts) : null, Labels = labels };
            await Client.PostJsonAsync("/volumes/create", body, ApiJson.Default.VolumeCreateRequest, ApiJson.Default.Volume, ct).ConfigureAwait(false);
            Progress("Volume", $"\"{v.Name}\"", "Created");
        }
    }

    /// <summary>
    /// Makes sure every service has its image: builds those with a build section when asked
    /// (--build) or when the image is missing, pulls the others when missing (or always, by
    /// pull policy). Builds run one after another; pulls run in parallel.
    /// </summary>
    public async Task EnsureImagesAsync(IEnumerable<Service> services, bool build, bool noBuild, string? pull, CancellationToken ct)
    {
        var pulls = new List<Task>();
        foreach (var s in services)
        {
            string image = ImageName(s);
            string policy = pull ?? s.PullPolicy ?? "missing";
            if (s.Build is not null && !noBuild && (build || policy == "build" || !await ImageExistsAsync(image, ct).ConfigureAwait(false)))
            {
                await BuildServiceAsync(s, null, ct).ConfigureAwait(false);
                continue;
            }
            if (s.Build is not null && s.Image is null) continue;
            if (policy == "never") continue;
            if (policy == "always" || !await ImageExistsAsync(image, ct).ConfigureAwait(false))
                pulls.Add(PullImageAsync(image, s.Platform, ct));
        }
        await Task.WhenAll(pulls).ConfigureAwait(false);
    }
}
