using System.Text;
using Skiff.Network;

namespace Skiff.Daemon;

/// <summary>
/// Legacy links (docker run --link name[:alias]) as dockerd has them. On the default bridge a link
/// is registered at create ("/parent/alias" -> child) and, at each start, gives the parent a hosts
/// entry and Docker's link variables (ALIAS_NAME, ALIAS_PORT..., ALIAS_ENV_...) for the child's
/// address on that bridge; the child must then run. On a user-defined network a link is only a name
/// the linking container's embedded DNS resolves to the target (<see cref="EndpointRecord.Links"/>).
/// </summary>
public sealed partial class Daemon
{
    private const string HostLinksConflict = "conflicting options: host type networking can't be used with links. This would result in undefined behavior";

    /// <summary>Docker's link syntax: "name" (alias = name), "name:alias", or the inspect form "/name:/parent/alias".</summary>
    public static (string Name, string Alias) ParseLink(string link)
    {
        if (link.Length == 0) throw DaemonException.Invalid("empty string specified for links");
        var parts = link.Split(':');
        if (parts.Length > 2) throw DaemonException.Invalid($"bad format for links: {link}");
        if (parts.Length == 1) return (link, link);
        if (parts[0].StartsWith('/')) return (parts[0][1..], parts[1][(parts[1].LastIndexOf('/') + 1)..]);
        return (parts[0], parts[1]);
    }

    /// <summary>Whether a network mode names a user-defined network (not default, bridge, host, none or container:).</summary>
    private static bool IsUserDefinedMode(string mode) =>
        mode is not ("" or "default" or "bridge" or "host" or "none") && !mode.StartsWith("container:", StringComparison.Ordinal);

    /// <summary>
    /// At create: resolves the host config's links to containers, as dockerd's registerLinks (not on
    /// user-defined networks, where the client puts them in the endpoint). A target that shares
    /// another container's namespace links to that container.
    /// </summary>
    private List<LinkRecord> RegisterLinks(HostConfig host)
    {
        var result = new List<LinkRecord>();
        if (host.Links.Count == 0) return result;
        if (host.NetworkMode == "host") throw DaemonException.Invalid(HostLinksConflict);
        if (IsUserDefinedMode(host.NetworkMode)) return result;
        foreach (var link in host.Links)
        {
            var (name, alias) = ParseLink(link);
            // 400 as dockerd, not 404: a 404 from create makes the Docker CLI pull the image.
            var child = Containers.Find(name) ?? throw DaemonException.Invalid($"could not get container for {name}: No such container: {name}");
            for (var hops = 0; hops < 16 && child.Record.HostConfig.NetworkMode.StartsWith("container:", StringComparison.Ordinal); hops++)
            {
                var target = child.Record.HostConfig.NetworkMode["container:".Length..];
                child = Containers.Find(target) ?? throw DaemonException.Invalid($"could not get container for {target}: No such container: {target}");
            }
            if (child.Record.HostConfig.NetworkMode == "host") throw DaemonException.Invalid(HostLinksConflict);
            result.RemoveAll(l => l.Alias == alias);
            result.Add(new LinkRecord { ChildId = child.Id, ChildName = child.Name, Alias = alias });
        }
        return result;
    }

    /// <summary>The default bridge's endpoint of a container, if it is on that bridge.</summary>
    private EndpointRecord? DefaultBridgeEndpoint(ContainerRecord r)
    {
        string? id;
        lock (_netLock) id = _networks.Values.FirstOrDefault(n => n.Predefined && n.Name == "bridge")?.Id;
        return id is null ? null : r.Networks.Values.FirstOrDefault(e => e.NetworkId == id);
    }

    private string ChildName(LinkRecord l) => Containers.Find(l.ChildId) is { } c && c.Id == l.ChildId ? c.Name : l.ChildName;

    /// <summary>Inspect's HostConfig.Links: "/child:/parent/alias" per link, null without any.</summary>
    public List<string>? LinkNames(ContainerRecord r) =>
        r.Links.Count == 0 ? null : r.Links.Select(l => $"/{ChildName(l)}:/{r.Name}/{l.Alias}").ToList();

    /// <summary>The link names ("/parent/alias") of every linked container, by its ID.</summary>
    public Dictionary<string, List<string>> LinkNamesByChild()
    {
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var p in Containers.All)
            foreach (var l in p.Record.Links)
            {
                if (!result.TryGetValue(l.ChildId, out var names)) result[l.ChildId] = names = [];
                names.Add($"/{p.Name}/{l.Alias}");
            }
        return result;
    }

    /// <summary>
    /// Before a start on the default bridge: every linked container must be on that bridge and
    /// running (dockerd's messages; a removed child counts as not running).
    /// </summary>
    private void CheckLinks(ContainerRecord r)
    {
        if (r.Links.Count == 0 || DefaultBridgeEndpoint(r) is null) return;
        foreach (var l in r.Links)
        {
            var child = Containers.Find(l.ChildId);
            if (child is not null && child.Id == l.ChildId && DefaultBridgeEndpoint(child.Record) is null)
                throw new DaemonException(ErrorKind.Internal, $"Cannot link to /{child.Name}, as it does not belong to the default network");
        }
        foreach (var l in r.Links)
        {
            var child = Containers.Find(l.ChildId);
            if (child is null || child.Id != l.ChildId || !child.Record.State.Running)
                throw new DaemonException(ErrorKind.Internal, $"Cannot link to a non running container: /{ChildName(l)} AS /{r.Name}/{l.Alias}");
        }
    }

    /// <summary>The running linked containers with their default bridge address, in alias order.</summary>
    private List<(LinkRecord Link, ContainerRecord Child, string Ip)> LinkedChildren(ContainerRecord r)
    {
        var result = new List<(LinkRecord, ContainerRecord, string)>();
        if (r.Links.Count == 0 || DefaultBridgeEndpoint(r) is null) return result;
        foreach (var l in r.Links.OrderBy(l => l.Alias, StringComparer.Ordinal))
        {
            var child = Containers.Find(l.ChildId);
            if (child is null || child.Id != l.ChildId || !child.Record.State.Running) continue;
            var ip = DefaultBridgeEndpoint(child.Record)?.IPAddress ?? "";
            if (ip.Length > 0) result.Add((l, child.Record, ip));
        }
        return result;
    }

    /// <summary>The hosts lines of the links: "ip\talias hostname [name]" (the name unless it is the alias).</summary>
    private void AppendLinkHosts(ContainerRecord r, StringBuilder hosts)
    {
        foreach (var (l, child, ip) in LinkedChildren(r))
        {
            hosts.Append(ip).Append('\t').Append(l.Alias).Append(' ').Append(child.Config.Hostname);
            if (l.Alias != child.Name) hosts.Append(' ').Append(child.Name);
            hosts.Append('\n');
        }
    }

    /// <summary>Docker's link variables for every link of a container on the default bridge.</summary>
    private List<string> LinkEnv(ContainerRecord r)
    {
        var env = new List<string>();
        foreach (var (l, child, ip) in LinkedChildren(r))
            env.AddRange(LegacyLink.Variables($"/{r.Name}/{l.Alias}", ip, child.Config.ExposedPorts, child.Config.Env));
        return env;
    }

    /// <summary>
    /// The process environment, built as dockerd does: PATH, HOSTNAME, TERM (with a tty) and the
    /// link variables (a repeated name keeps its first place), then the container's Env replaces
    /// those of the same name or is appended; an Env entry without "=" removes the variable.
    /// </summary>
    internal static List<string> ProcessEnv(ContainerConfig cfg, IEnumerable<string> linkEnv, bool tty)
    {
        var env = new List<string> { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=" + cfg.Hostname };
        if (tty) env.Add("TERM=xterm");
        var index = new Dictionary<string, int>(StringComparer.Ordinal) { ["PATH"] = 0, ["HOSTNAME"] = 1 };
        if (tty) index["TERM"] = 2;
        void Put(string e, bool removeIfBare)
        {
            var eq = e.IndexOf('=');
            var key = eq < 0 ? e : e[..eq];
            if (eq < 0)
            {
                if (removeIfBare && index.Remove(key, out var at)) env[at] = "";
                return;
            }
            if (index.TryGetValue(key, out var i)) env[i] = e;
            else
            {
                index[key] = env.Count;
                env.Add(e);
            }
        }
        foreach (var e in linkEnv) Put(e, removeIfBare: false);
        foreach (var e in cfg.Env) Put(e, removeIfBare: true);
        env.RemoveAll(e => e.Length == 0);
        return env;
    }

    /// <summary>
    /// After a container got its address on the default bridge: the hosts files of running
    /// containers linking to it point their aliases at the new address (dockerd's parent update).
    /// </summary>
    private void UpdateLinkParents(ContainerRecord child)
    {
        var ip = DefaultBridgeEndpoint(child)?.IPAddress ?? "";
        if (ip.Length == 0) return;
        foreach (var p in Containers.All)
        {
            var r = p.Record;
            if (r.Id == child.Id || !r.State.Running || r.HostsPath.Length == 0) continue;
            var aliases = r.Links.Where(l => l.ChildId == child.Id).Select(l => l.Alias).ToHashSet(StringComparer.Ordinal);
            if (aliases.Count == 0 || DefaultBridgeEndpoint(r) is null) continue;
            try
            {
                var lines = File.ReadAllLines(r.HostsPath);
                var changed = false;
                for (var i = 0; i < lines.Length; i++)
                {
                    var fields = lines[i].Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
                    if (fields.Length >= 2 && aliases.Contains(fields[1]) && fields[0] != ip)
                    {
                        lines[i] = ip + lines[i][fields[0].Length..];
                        changed = true;
                    }
                }
                // Rewritten in place: the file is bind-mounted into the running container.
                if (changed) File.WriteAllText(r.HostsPath, string.Join('\n', lines) + "\n");
            }
            catch (IOException e)
            {
                Console.Error.WriteLine($"skiffd: updating the links of {r.Id[..12]}: {e.Message}");
            }
        }
    }

    /// <summary>
    /// docker rm --link: removes the link "/parent/alias" from its parent (the containers stay).
    /// A plain container name is its default link name, which cannot be removed.
    /// </summary>
    public async Task RemoveLinkAsync(string name)
    {
        var trimmed = name.TrimStart('/');
        var slash = trimmed.LastIndexOf('/');
        if (slash < 0)
        {
            Containers.Get(name);
            throw new DaemonException(ErrorKind.Internal, "Conflict, cannot remove the default link name of the container");
        }
        var parent = Containers.Find(trimmed[..slash]);
        var alias = trimmed[(slash + 1)..];
        if (parent is null || parent.Name != trimmed[..slash] || !parent.Record.Links.Any(l => l.Alias == alias))
            throw DaemonException.NotFound($"No such container: {name}");
        await parent.Lock.WaitAsync().ConfigureAwait(false);
        try
        {
            parent.Record.Links.RemoveAll(l => l.Alias == alias);
            if (!parent.Removed) parent.Save();
        }
        finally
        {
            parent.Lock.Release();
        }
    }

    /// <summary>On a user-defined network: the target a container's link alias names there, else null.</summary>
    private static string? LinkTarget(EndpointRecord mine, string name)
    {
        foreach (var link in mine.Links)
        {
            var colon = link.IndexOf(':');
            var (target, alias) = colon < 0 ? (link, link) : (link[..colon], link[(colon + 1)..]);
            if (string.Equals(alias, name, StringComparison.OrdinalIgnoreCase)) return target.TrimStart('/').ToLowerInvariant();
        }
        return null;
    }
}
