using Skiff.Runtime.Spec;

namespace Skiff.Daemon;

/// <summary>A request to create a container: the user's config before image defaults are merged in.</summary>
public sealed class CreateContainerRequest
{
    public string? Name { get; init; }
    public required ContainerConfig Config { get; init; }
    public HostConfig HostConfig { get; init; } = new();
    /// <summary>Networks asked for besides the network mode's, and settings (aliases, --ip) of either, by network name or ID.</summary>
    public Dictionary<string, EndpointRecord> Endpoints { get; init; } = [];
}

public sealed partial class Daemon
{
    /// <summary>
    /// Creates a container from an image: merges the image's defaults (Cmd, Entrypoint, Env,
    /// WorkingDir, User...) into the config as Docker does, prepares the writable layer, and
    /// persists the record. The container is "created", not started.
    /// </summary>
    public ContainerRecord Create(CreateContainerRequest request)
    {
        // Only a missing image is a 404: the Docker CLI reads any 404 from a create as "no such image" and goes to
        // pull it, so a missing network or --volumes-from container is reported as a bad request (as dockerd does).
        if (string.IsNullOrEmpty(request.Config.Image)) throw DaemonException.Invalid("No image specified");
        var image = Images.ResolveForContainer(request.Config.Image);
        try { return Create(request, image); }
        catch (DaemonException e) when (e.Kind == ErrorKind.NotFound) { throw DaemonException.Invalid(e.Message); }
    }

    private ContainerRecord Create(CreateContainerRequest request, ImageDefaults image)
    {
        var config = request.Config;
        var hostConfig = request.HostConfig;
        ValidateHostConfig(hostConfig);
        ValidateUserns(hostConfig);
        var endpoints = EndpointsForCreate(hostConfig, request.Endpoints);
        var links = RegisterLinks(hostConfig);

        // An Entrypoint given by the user resets the image's Cmd, as with docker run --entrypoint.
        if (config.Entrypoint is null)
        {
            config.Entrypoint = image.Entrypoint;
            if (config.Cmd is null || config.Cmd.Count == 0) config.Cmd = image.Cmd;
        }
        config.Env = MergeEnv(image.Env, config.Env);
        if (string.IsNullOrEmpty(config.WorkingDir)) config.WorkingDir = image.WorkingDir;
        if (string.IsNullOrEmpty(config.User)) config.User = image.User;
        config.StopSignal ??= image.StopSignal;
        config.Healthcheck = MergeHealthcheck(image.Healthcheck, config.Healthcheck);
        foreach (var (k, v) in image.Labels) config.Labels.TryAdd(k, v);
        foreach (var p in image.ExposedPorts) if (!config.ExposedPorts.Contains(p)) config.ExposedPorts.Add(p);
        foreach (var v in image.Volumes) if (!config.Volumes.Contains(v)) config.Volumes.Add(v);

        var argv = new List<string>();
        if (config.Entrypoint is not null) argv.AddRange(config.Entrypoint);
        if (config.Cmd is not null) argv.AddRange(config.Cmd);
        if (argv.Count == 0) throw DaemonException.Invalid("no command specified");

        var id = Names.NewId();
        if (string.IsNullOrEmpty(config.Hostname)) config.Hostname = id[..12];
        var name = string.IsNullOrEmpty(request.Name) ? Names.Random(Containers.NameTaken) : Names.Normalize(request.Name);
        if (Containers.NameTaken(name))
            throw DaemonException.Conflict($"Conflict. The container name \"/{name}\" is already in use by container \"{Containers.Find(name)?.Id}\". You have to remove (or rename) that container to be able to reuse that name.");

        var dir = Path.Combine(Options.ContainersRoot, id);
        var record = new ContainerRecord
        {
            Id = id,
            Name = name,
            Created = DateTimeOffset.UtcNow,
            ImageId = image.Id,
            Path = argv[0],
            Args = argv.Skip(1).ToList(),
            Config = config,
            HostConfig = hostConfig,
            LogPath = Path.Combine(dir, id + "-json.log"),
            HostnamePath = Path.Combine(dir, "hostname"),
            HostsPath = Path.Combine(dir, "hosts"),
            ResolvConfPath = Path.Combine(dir, "resolv.conf"),
            Networks = endpoints,
            Links = links,
        };
        var c = new Container(record, dir, Path.Combine(Options.BundlesRoot, id), Options.ShimSocket(id));
        System.IO.Directory.CreateDirectory(dir);
        var createdVolumes = new List<string>();
        try
        {
            Images.PrepareWritableLayer(image.Id, dir);
            WriteEtcFiles(record);
            ChownContainerFiles(record, dir);
            lock (_volumesLock)
            {
                record.MountPoints = ResolveMounts(config, hostConfig, createdVolumes);
                c.Save();
                Containers.Add(c);
            }
        }
        catch
        {
            DeleteFiles(c);
            lock (_volumesLock) RemoveCreatedVolumes(createdVolumes);
            throw;
        }
        PublishContainer(c, "create");
        return record;
    }

    private static void ValidateHostConfig(HostConfig h)
    {
        if (h.Memory is > 0 and < 6 * 1024 * 1024)
            throw DaemonException.Invalid("Minimum memory limit allowed is 6MB");
        if (h.MemorySwap > 0 && h.Memory > 0 && h.MemorySwap < h.Memory)
            throw DaemonException.Invalid("Minimum memoryswap limit should be larger than memory limit, see usage");
        if (h.NanoCpus < 0) throw DaemonException.Invalid("Range of CPUs is from 0.01 to the number of CPUs available");
        if (h.NanoCpus > 0 && (h.CpuQuota > 0 || h.CpuPeriod > 0))
            throw DaemonException.Invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set");
        var nanoMax = (long)Environment.ProcessorCount * 1_000_000_000;
        if (h.NanoCpus > nanoMax)
            throw DaemonException.Invalid($"Range of CPUs is from 0.01 to {Environment.ProcessorCount}.00, as there are only {Environment.ProcessorCount} CPUs available");
        if (h.AutoRemove && h.RestartPolicy.Name is not ("" or "no"))
            throw DaemonException.Invalid("can't create 'AutoRemove' container with restart policy");
        if (h.RestartPolicy.Name is not ("" or "no" or "always" or "on-failure" or "unless-stopped"))
            throw DaemonException.Invalid($"invalid restart policy '{h.RestartPolicy.Name}'");
        foreach (var key in h.PortBindings.Keys) ParsePortKey(key);
        try { Capabilities.Adjust(Capabilities.DockerDefault, h.CapAdd, []); }
        catch (ArgumentException e) { throw DaemonException.Invalid("invalid CapAdd: " + e.Message); }
        try { Capabilities.Adjust(Capabilities.DockerDefault, [], h.CapDrop); }
        catch (ArgumentException e) { throw DaemonException.Invalid("invalid CapDrop: " + e.Message); }
        if (h.LogType == "json-file")
            foreach (var key in h.LogOptions.Keys)
                if (key is not ("max-size" or "max-file" or "compress" or "labels" or "labels-regex" or "env" or "env-regex" or "tag"))
                    throw DaemonException.Invalid($"unknown log opt '{key}' for json-file log driver");
    }

    /// <summary>Image env first, then the user's; a user variable replaces the image's of the same name.</summary>
    internal static List<string> MergeEnv(IReadOnlyList<string> image, IReadOnlyList<string> user)
    {
        var result = new List<string>(image);
        foreach (var e in user)
        {
            var key = e.Split('=', 2)[0];
            var i = result.FindIndex(x => x.Split('=', 2)[0] == key);
            if (i >= 0) result[i] = e;
            else result.Add(e);
        }
        if (!result.Any(x => x.StartsWith("PATH=", StringComparison.Ordinal)))
            result.Insert(0, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        return result;
    }

    /// <summary>
    /// The container's /etc/hostname, /etc/hosts and /etc/resolv.conf, bind-mounted at start like
    /// Docker's; written again at each start once the container has its addresses.
    /// </summary>
    private void WriteEtcFiles(ContainerRecord r)
    {
        var host = string.IsNullOrEmpty(r.Config.Domainname) ? r.Config.Hostname : $"{r.Config.Hostname}.{r.Config.Domainname}";
        File.WriteAllText(r.HostnamePath, r.Config.Hostname + "\n");
        var hosts = new System.Text.StringBuilder();
        hosts.Append("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n");
        foreach (var extra in r.HostConfig.ExtraHosts)
        {
            var sep = extra.IndexOf(':');
            if (sep <= 0) throw DaemonException.Invalid($"invalid extra host entry: {extra}");
            var address = extra[(sep + 1)..];
            if (address == "host-gateway") address = HostGateway(r);
            hosts.Append(address).Append('\t').Append(extra[..sep]).Append('\n');
        }
        AppendLinkHosts(r, hosts);
        var addresses = r.Networks.Values.Where(e => e.IPAddress.Length > 0).Select(e => e.IPAddress)
            .Concat(r.Networks.Values.Where(e => e.GlobalIPv6Address.Length > 0).Select(e => e.GlobalIPv6Address)).ToList();
        if (addresses.Count > 0) foreach (var a in addresses) hosts.Append(a).Append('\t').Append(host).Append('\n');
        else if (r.HostConfig.NetworkMode != "host") hosts.Append("127.0.1.1\t").Append(host).Append('\n');
        File.WriteAllText(r.HostsPath, hosts.ToString());
        File.WriteAllText(r.ResolvConfPath, ResolvConf(r.HostConfig, UsesEmbeddedDns(r)));
    }

    /// <summary>
    /// The container's resolv.conf: on user-defined networks the embedded server (127.0.0.11, with
    /// ndots:0 as Docker, which forwards to --dns or the host's resolvers); otherwise --dns or the
    /// host's non-loopback resolvers. --dns-search and --dns-option apply to both.
    /// </summary>
    private static string ResolvConf(HostConfig h, bool embedded)
    {
        var lines = new List<string>();
        string[] host = [];
        try { host = File.ReadAllLines("/etc/resolv.conf"); } catch (IOException) { }
        // A loopback resolver on the host is unreachable from a container's own network namespace.
        var servers = h.Dns.Count > 0 ? h.Dns
            : host.Where(l => l.StartsWith("nameserver", StringComparison.Ordinal))
                  .Select(l => l.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(1) ?? "")
                  .Where(s => s.Length > 0 && (h.NetworkMode == "host" || !(s.StartsWith("127.", StringComparison.Ordinal) || s == "::1")))
                  .ToList();
        var search = h.DnsSearch.Count > 0 ? h.DnsSearch
            : host.Where(l => l.StartsWith("search", StringComparison.Ordinal)).SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)).ToList();
        if (search.Count > 0) lines.Add("search " + string.Join(' ', search));
        if (embedded)
        {
            lines.Add("nameserver 127.0.0.11");
            lines.Add("options " + string.Join(' ', new[] { "ndots:0" }.Concat(h.DnsOptions.Where(o => !o.StartsWith("ndots:", StringComparison.Ordinal))).Concat(h.DnsOptions.Where(o => o.StartsWith("ndots:", StringComparison.Ordinal)))));
        }
        else
        {
            foreach (var s in servers) lines.Add("nameserver " + s);
            if (h.DnsOptions.Count > 0) lines.Add("options " + string.Join(' ', h.DnsOptions));
        }
        return string.Join('\n', lines) + "\n";
    }
}
