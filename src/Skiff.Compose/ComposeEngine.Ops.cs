using System.Net;
using System.Security.Cryptography;
using Skiff.Client;
using Skiff.Client.Models;

namespace Skiff.Compose;

public sealed partial class ComposeEngine
{
    /// <summary>
    /// compose down: stops and removes the project's containers (one-off ones too; all of them
    /// with <paramref name="removeOrphans"/>, else those of services the project defines),
    /// then its networks (by project label), then with <paramref name="volumes"/> its named and
    /// anonymous volumes, and with <paramref name="rmi"/> (all|local) its images.
    /// </summary>
    public async Task DownAsync(bool volumes, string? rmi, int? timeout, bool removeOrphans, CancellationToken ct = default)
    {
        var containers = await ListContainersAsync(null, null, ct).ConfigureAwait(false);
        bool Known(ContainerSummary c) => Project.Services.ContainsKey(ServiceOf(c)) || Project.DisabledServices.ContainsKey(ServiceOf(c));
        var orphans = containers.Where(c => !Known(c)).ToList();
        if (!removeOrphans && orphans.Count > 0) WarnOrphans(containers);
        var targets = removeOrphans ? containers : containers.Where(Known).ToList();
        // Dependents stop before their dependencies: reverse dependency order.
        var order = ProjectLoader.DependencyOrder(Project.Services.Values.Concat(Project.DisabledServices.Values).ToList(), Project).Select(s => s.Name).ToList();
        foreach (var group in targets.GroupBy(ServiceOf).OrderByDescending(g => order.IndexOf(g.Key)))
        {
            await Task.WhenAll(group.Select(async c =>
            {
                string name = NameOf(c);
                if (c.State is "running" or "paused" or "restarting")
                {
                    Progress("Container", name, "Stopping");
                    await StopContainerAsync(c.Id, timeout, ct).ConfigureAwait(false);
                    Progress("Container", name, "Stopped");
                }
                Progress("Container", name, "Removing");
                await RemoveContainerAsync(c.Id, true, volumes, ct).ConfigureAwait(false);
                Progress("Container", name, "Removed");
            })).ConfigureAwait(false);
        }

        // Networks and volumes are only asked for when the project has some of its own, so a
        // project whose services all use network_mode needs no network API at all.
        var declared = Project.Networks.Values.Where(n => !n.External).Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
        var networks = declared.Count == 0 ? [] : await Client.GetJsonAsync("/networks?" + Filters(("label", $"{Labels.Project}={Project.Name}")), ApiJson.Default.ListNetworkSummary, ct).ConfigureAwait(false);
        foreach (var n in networks.Where(n => declared.Contains(n.Name)))
        {
            Progress("Network", n.Name, "Removing");
            try { await Client.SendNoContentAsync(HttpMethod.Delete, "/networks/" + P(n.Id), ct: ct).ConfigureAwait(false); }
            catch (EngineApiException e) when (e.Status == HttpStatusCode.NotFound) { }
            Progress("Network", n.Name, "Removed");
        }

        if (volumes && Project.Volumes.Values.Any(v => !v.External))
        {
            var list = await Client.GetJsonAsync("/volumes?" + Filters(("label", $"{Labels.Project}={Project.Name}")), ApiJson.Default.VolumeListResponse, ct).ConfigureAwait(false);
            var declaredVolumes = Project.Volumes.Values.Where(v => !v.External).Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var v in list.Volumes ?? [])
            {
                if (!declaredVolumes.Contains(v.Name)) continue;
                Progress("Volume", v.Name, "Removing");
                try { await Client.SendNoContentAsync(HttpMethod.Delete, "/volumes/" + P(v.Name), ct: ct).ConfigureAwait(false); }
                catch (EngineApiException e) when (e.Status == HttpStatusCode.NotFound) { }
                Progress("Volume", v.Name, "Removed");
            }
        }

        if (rmi is not null)
        {
            if (rmi is not ("all" or "local")) throw new ComposeException($"invalid --rmi option \"{rmi}\": must be \"all\" or \"local\"");
            var images = Project.Services.Values
                .Where(s => rmi == "all" || s.Image is null)
                .Select(ImageName).Distinct(StringComparer.Ordinal);
            foreach (var image in images)
            {
                try
                {
                    await Client.SendNoContentAsync(HttpMethod.Delete, "/images/" + P(image), ct: ct).ConfigureAwait(false);
                    Progress("Image", image, "Removed");
                }
                catch (EngineApiException e) when (e.Status == HttpStatusCode.NotFound)
                {
                }
            }
        }
    }

    /// <summary>Stops the running containers of the given services (all when empty), dependents first.</summary>
    public async Task StopAsync(IReadOnlyCollection<string> services, int? timeout, CancellationToken ct = default)
    {
        var containers = await ListContainersAsync(services, null, ct).ConfigureAwait(false);
        var order = ProjectLoader.DependencyOrder(Project.Services.Values.ToList(), Project).Select(s => s.Name).ToList();
        foreach (var group in containers.Where(c => c.State is "running" or "paused" or "restarting").GroupBy(ServiceOf).OrderByDescending(g => order.IndexOf(g.Key)))
        {
            await Task.WhenAll(group.Select(async c =>
            {
                Progress("Container", NameOf(c), "Stopping");
                await StopContainerAsync(c.Id, timeout, ct).ConfigureAwait(false);
                Progress("Container", NameOf(c), "Stopped");
            })).ConfigureAwait(false);
        }
    }

    /// <summary>Starts the existing containers of the given services (all when empty) in dependency order, honouring depends_on conditions.</summary>
    public async Task StartAsync(IReadOnlyCollection<string> services, CancellationToken ct = default)
    {
        var selected = Select(services, noDeps: true);
        var containers = await ListContainersAsync(selected.Select(s => s.Name).ToList(), false, ct).ConfigureAwait(false);
        if (containers.Count == 0) throw new ComposeException("no containers to start");
        foreach (var s in selected)
        {
            foreach (var (dep, d) in s.DependsOn)
                if (selected.Any(x => x.Name == dep)) await WaitForConditionAsync(Project.Services[dep], d.Condition, ct).ConfigureAwait(false);
            await Task.WhenAll(containers.Where(c => ServiceOf(c) == s.Name && c.State != "running").Select(async c =>
            {
                Progress("Container", NameOf(c), "Starting");
                await StartContainerAsync(c.Id, ct).ConfigureAwait(false);
                Progress("Container", NameOf(c), "Started");
            })).ConfigureAwait(false);
        }
    }

    /// <summary>Restarts the containers of the given services (all when empty).</summary>
    public async Task RestartAsync(IReadOnlyCollection<string> services, int? timeout, CancellationToken ct = default)
    {
        var containers = await ListContainersAsync(services, false, ct).ConfigureAwait(false);
        await Task.WhenAll(containers.Select(async c =>
        {
            Progress("Container", NameOf(c), "Restarting");
            await Client.SendNoContentAsync(HttpMethod.Post, "/containers/" + P(c.Id) + "/restart" + (timeout is { } t ? "?t=" + t : ""), ct: ct).ConfigureAwait(false);
            Progress("Container", NameOf(c), "Started");
        })).ConfigureAwait(false);
    }

    /// <summary>The stopped containers <c>rm</c> would remove (with <paramref name="stopFirst"/>, the running ones too).</summary>
    public async Task<List<ContainerSummary>> RemovableAsync(IReadOnlyCollection<string> services, bool stopFirst, CancellationToken ct = default)
    {
        var containers = await ListContainersAsync(services, false, ct).ConfigureAwait(false);
        return containers.Where(c => stopFirst || c.State is not ("running" or "paused" or "restarting")).ToList();
    }

    /// <summary>Removes the given containers (stopping running ones first), with their anonymous volumes when <paramref name="volumes"/>.</summary>
    public async Task RemoveAsync(IEnumerable<ContainerSummary> containers, bool volumes, CancellationToken ct = default)
    {
        await Task.WhenAll(containers.Select(async c =>
        {
            if (c.State is "running" or "paused" or "restarting") await StopContainerAsync(c.Id, null, ct).ConfigureAwait(false);
            Progress("Container", NameOf(c), "Removing");
            await RemoveContainerAsync(c.Id, true, volumes, ct).ConfigureAwait(false);
            Progress("Container", NameOf(c), "Removed");
        })).ConfigureAwait(false);
    }

    /// <summary>Pulls the images of the given services (all when empty); services that are only built are skipped.</summary>
    public async Task PullAsync(IReadOnlyCollection<string> services, bool ignoreFailures, CancellationToken ct = default)
    {
        var selected = Select(services, noDeps: true);
        await Task.WhenAll(selected.Where(s => s.Image is not null && !(s.Build is not null && s.PullPolicy == "build")).Select(async s =>
        {
            try { await PullImageAsync(s.Image!, s.Platform, ct).ConfigureAwait(false); }
            catch (Exception e) when (ignoreFailures && e is EngineApiException or ComposeException)
            {
                lock (_printLock) Err.WriteLine($" Image {s.Image}  Error {e.Message}");
            }
        })).ConfigureAwait(false);
    }

    /// <summary>Pushes the images of the given services that have both build and image.</summary>
    public async Task PushAsync(IReadOnlyCollection<string> services, bool ignoreFailures, CancellationToken ct = default)
    {
        foreach (var s in Select(services, noDeps: true).Where(s => s.Image is not null && s.Build is not null))
        {
            var (repo, tag) = SplitImage(s.Image!);
            var headers = new[] { new KeyValuePair<string, string>("X-Registry-Auth", RegistryAuth?.Invoke(s.Image!) ?? "e30=") };
            Progress("Image", s.Image!, "Pushing");
            try
            {
                using var resp = await Client.SendAsync(HttpMethod.Post, "/images/" + P(repo) + "/push" + (tag is null ? "" : "?tag=" + P(tag)), stream: true, ct: ct, headers: headers).ConfigureAwait(false);
                await using var body = await resp.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                await ReadMessagesAsync(body, null, ct).ConfigureAwait(false);
                Progress("Image", s.Image!, "Pushed");
            }
            catch (Exception e) when (ignoreFailures && e is EngineApiException or ComposeException)
            {
                lock (_printLock) Err.WriteLine($" Image {s.Image}  Error {e.Message}");
            }
        }
    }

    /// <summary>
    /// compose run: starts the service's dependencies (unless <paramref name="noDeps"/>), then
    /// creates a one-off container <c>project-service-run-xxxxxxxxxxxx</c> labelled
    /// <c>oneoff=True</c>, not yet started, so the caller can attach before starting it.
    /// </summary>
    public async Task<(string Id, string Name)> CreateRunContainerAsync(string serviceName, RunFlags f, CancellationToken ct = default)
    {
        var s = Select([serviceName], noDeps: true)[0];
        if (!f.NoDeps && s.DependsOn.Count > 0)
        {
            var deps = s.DependsOn.Keys.Where(Project.Services.ContainsKey).ToList();
            await UpAsync(new UpOptions { Services = deps, Pull = f.Pull }, ct).ConfigureAwait(false);
            foreach (var (dep, d) in s.DependsOn)
                if (Project.Services.TryGetValue(dep, out var ds)) await WaitForConditionAsync(ds, d.Condition, ct).ConfigureAwait(false);
        }
        await EnsureImagesAsync([s], f.Build, false, f.Pull, ct).ConfigureAwait(false);
        await EnsureNetworksAsync([s], ct).ConfigureAwait(false);
        await EnsureVolumesAsync([s], ct).ConfigureAwait(false);

        string name = f.Name ?? $"{Project.Name}-{s.Name}-run-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";
        string hash = await ConfigHashAsync(s, ct).ConfigureAwait(false);
        var existing = await ListContainersAsync([s.Name], true, ct).ConfigureAwait(false);
        int number = existing.Count == 0 ? 1 : existing.Max(NumberOf) + 1;
        string id = await CreateContainerAsync(s, number, true, hash, name, req =>
        {
            if (f.Command.Count > 0) req.Cmd = f.Command;
            if (f.Entrypoint is { } ep) req.Entrypoint = ep.Length == 0 ? [""] : ShellWords.Split(ep, "--entrypoint");
            if (f.User is not null) req.User = f.User;
            if (f.WorkDir is not null) req.WorkingDir = f.WorkDir;
            if (f.Env.Count > 0)
            {
                var env = req.Env ?? [];
                foreach (var e in f.Env)
                {
                    string key = e.Split('=', 2)[0];
                    env.RemoveAll(x => x.Split('=', 2)[0] == key);
                    if (e.Contains('=')) env.Add(e);
                    else if (System.Environment.GetEnvironmentVariable(key) is { } v) env.Add(key + "=" + v);
                }
                req.Env = env;
            }
            foreach (var (k, v) in f.Labels) req.Labels![k] = v;
            req.Tty = f.Tty;
            req.OpenStdin = f.Interactive;
            req.AttachStdin = f.Interactive && !f.Detach;
            req.AttachStdout = !f.Detach;
            req.AttachStderr = !f.Detach;
            req.StdinOnce = f.Interactive && !f.Detach;
            if (f.ServicePorts && s.Ports.Count > 0)
            {
                req.HostConfig!.PortBindings = [];
                req.ExposedPorts ??= [];
                foreach (var pc in s.Ports)
                {
                    string key = $"{pc.Target}/{pc.Protocol}";
                    req.ExposedPorts[key] = new EmptyObject();
                    if (!req.HostConfig.PortBindings.TryGetValue(key, out var list)) req.HostConfig.PortBindings[key] = list = [];
                    list.Add(new PortBinding { HostIp = pc.HostIp ?? "", HostPort = pc.Published ?? "" });
                }
            }
            // A one-off container does not restart.
            req.HostConfig!.RestartPolicy = null;
        }, ct).ConfigureAwait(false);
        return (id, name);
    }
}

/// <summary>Flags of <c>compose run</c>.</summary>
public sealed class RunFlags
{
    public List<string> Command { get; init; } = [];
    public string? Name { get; init; }
    public string? Entrypoint { get; init; }
    public string? User { get; init; }
    public string? WorkDir { get; init; }
    public List<string> Env { get; init; } = [];
    public Dictionary<string, string> Labels { get; init; } = [];
    public bool Tty { get; init; }
    public bool Interactive { get; init; }
    public bool Detach { get; init; }
    public bool NoDeps { get; init; }
    public bool ServicePorts { get; init; }
    public bool Build { get; init; }
    public string? Pull { get; init; }
}
