using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Skiff.Linux;
using Skiff.Network;

namespace Skiff.Daemon;

/// <summary>A request to create a network (bridge driver).</summary>
public sealed class NetworkCreateRequest
{
    public required string Name { get; init; }
    public string Driver { get; init; } = "bridge";
    public bool Internal { get; init; }
    public bool Attachable { get; init; }
    public bool EnableIPv6 { get; init; }
    public string Subnet { get; init; } = "";
    public string Gateway { get; init; } = "";
    public string IPRange { get; init; } = "";
    /// <summary>The IPv6 pool (--subnet with an IPv6 prefix) and its gateway; used only with <see cref="EnableIPv6"/>.</summary>
    public string Subnet6 { get; init; } = "";
    public string Gateway6 { get; init; } = "";
    public Dictionary<string, string> Labels { get; init; } = [];
    public Dictionary<string, string> Options { get; init; } = [];
}

/// <summary>A container attached to a network, as network inspect shows it.</summary>
public readonly record struct NetworkMember(Container Container, EndpointRecord Endpoint);

public sealed partial class Daemon
{
    /// <summary>Docker's option naming the Linux bridge of a bridge network.</summary>
    public const string BridgeNameOption = "com.docker.network.bridge.name";
    private const string ComposeServiceLabel = "com.docker.compose.service";

    private readonly Lock _netLock = new();
    private readonly Lock _natLock = new();
    private readonly Dictionary<string, NetworkConfig> _networks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DnsServer> _dnsServers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (List<Socket> Holds, List<PortMapping> Mappings)> _published = new(StringComparer.Ordinal);
    /// <summary>Userland proxies of the published ports, by container (only with --iptables=false).</summary>
    private readonly Dictionary<string, List<PortProxy>> _proxies = new(StringComparer.Ordinal);
    /// <summary>Addresses whose veth is still being deleted in the background: not given out again until it is gone.</summary>
    private readonly HashSet<(string NetworkId, string Ip)> _releasing = [];
    private NetworkStore? _networkStore;
    private Rtnl? _rtnl;
    private Nat? _nat;

    private Rtnl HostLinks => _rtnl ?? throw new DaemonException(ErrorKind.Unavailable, "networking is not initialised");

    /// <summary>
    /// Makes the predefined networks (bridge unless --bridge=none, host, none), loads the
    /// user-defined ones, creates their bridges, and turns on IPv4 forwarding (recorded in the log
    /// when it was off).
    /// </summary>
    private void InitNetworks()
    {
        _networkStore = new NetworkStore(Options.NetworksRoot);
        _rtnl = Rtnl.Open();
        if (Options.Bridge != "none")
        {
            if (!Cidr.TryParse(Options.BridgeIp, out var bip)) throw new ArgumentException($"invalid --bip: {Options.BridgeIp}");
            var gw = Options.BridgeIp.Split('/')[0];
            _networks[PredefinedId("bridge")] = new NetworkConfig
            {
                Id = PredefinedId("bridge"), Name = "bridge", Driver = "bridge", Created = StartedAt, Predefined = true,
                Subnet = bip.ToString(), Gateway = gw, Bridge = Options.Bridge,
                Options = new() { [BridgeNameOption] = Options.Bridge, ["com.docker.network.bridge.default_bridge"] = "true" },
            };
        }
        _networks[PredefinedId("host")] = new NetworkConfig { Id = PredefinedId("host"), Name = "host", Driver = "host", Created = StartedAt, Predefined = true };
        _networks[PredefinedId("none")] = new NetworkConfig { Id = PredefinedId("none"), Name = "none", Driver = "null", Created = StartedAt, Predefined = true };
        foreach (var n in _networkStore.LoadAll()) _networks[n.Id] = n;
        foreach (var n in _networks.Values.Where(n => n.Driver == "bridge")) EnsureBridge(n);
        try
        {
            const string forward = "/proc/sys/net/ipv4/ip_forward";
            if (File.ReadAllText(forward).Trim() != "1")
            {
                File.WriteAllText(forward, "1");
                Console.Error.WriteLine("skiffd: net.ipv4.ip_forward was 0, set to 1");
            }
        }
        catch (IOException)
        {
        }
        if (Options.Iptables) _nat = new Nat(NatTableName(Options));
    }

    /// <summary>The nftables table of a daemon: named after its default bridge (unique on a host), else after its exec root.</summary>
    public static string NatTableName(DaemonOptions o) => o.Bridge != "none"
        ? "skiff-" + o.Bridge
        : "skiff-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(o.ExecRoot)))[..8];

    private string PredefinedId(string name) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Id + "/" + name)));

    private static void EnsureBridge(NetworkConfig n)
    {
        var subnet = Cidr.Parse(n.Subnet);
        using var rt = Rtnl.Open();
        var index = rt.EnsureBridge(n.Bridge, IPAddress.Parse(n.Gateway), subnet.Prefix);
        if (n.HasIPv6)
        {
            Sandbox.SetInterfaceSysctl6(n.Bridge, "disable_ipv6", "0");
            rt.AddAddress6(index, IPAddress.Parse(n.Gateway6), Cidr6.Parse(n.Subnet6).Prefix, ignoreExisting: true);
        }
        // Published ports answer on 127.0.0.1: DNAT in OUTPUT sends loopback-sourced packets out of the bridge.
        Sandbox.SetInterfaceSysctl(n.Bridge, "route_localnet", "1");
    }

    private const int ENODEV = 19;

    /// <summary>
    /// Makes again the bridges of the networks the container joins that are gone (deleted behind the daemon's back, e.g.
    /// by <c>ip link del</c>). Returns whether it made any: the caller tries again what failed on a missing link.
    /// </summary>
    private bool RestoreMissingBridges(ContainerRecord r)
    {
        bool made = false;
        foreach (var ep in r.Networks.Values)
        {
            NetworkConfig? n;
            lock (_netLock) n = _networks.GetValueOrDefault(ep.NetworkId);
            if (n is null || n.Driver != "bridge" || HostLinks.IndexOf(n.Bridge) is not null) continue;
            Console.Error.WriteLine($"skiffd: bridge {n.Bridge} of network {n.Name} was missing; made again");
            EnsureBridge(n);
            made = true;
        }
        return made;
    }

    /// <summary>
    /// After the containers are loaded: takes back the ports and DNS servers of running containers,
    /// removes what containers that are gone left (pinned namespaces, veths on this daemon's
    /// bridges) and rewrites the NAT table from the current state.
    /// </summary>
    private void RestoreNetworking()
    {
        var running = Containers.All.Where(c => c.Record.State.Running && c.Record.SandboxKey.Length > 0).ToList();
        foreach (var c in running)
        {
            try
            {
                HoldPorts(c);
                StartDnsIfNeeded(c);
            }
            catch (Exception e) when (e is DaemonException or SocketException or LinuxException or IOException)
            {
                Console.Error.WriteLine($"skiffd: restoring the network of {c.Id[..12]}: {e.Message}");
            }
        }
        var keys = running.Select(c => c.Record.SandboxKey).ToHashSet(StringComparer.Ordinal);
        if (System.IO.Directory.Exists(Options.NetnsRoot))
            foreach (var f in System.IO.Directory.EnumerateFiles(Options.NetnsRoot))
                if (!keys.Contains(f)) NetNs.Delete(f);
        var veths = Containers.All.Where(c => c.Record.State.Running).SelectMany(c => c.Record.Networks.Values).Select(e => e.HostVeth).ToHashSet(StringComparer.Ordinal);
        try
        {
            var links = HostLinks.Links();
            var bridges = _networks.Values.Where(n => n.Driver == "bridge").Select(n => links.FirstOrDefault(l => l.Name == n.Bridge).Index).Where(i => i > 0).ToHashSet();
            foreach (var l in links.Where(l => l.Kind == "veth" && bridges.Contains(l.Master) && !veths.Contains(l.Name))) HostLinks.DeleteLink(l.Name);
        }
        catch (LinuxException e)
        {
            Console.Error.WriteLine($"skiffd: cleaning up veths: {e.Message}");
        }
        ApplyNat();
    }

    private void ApplyNat()
    {
        if (_nat is null) return;
        lock (_natLock)
        {
            List<BridgeNat> bridges;
            List<PortMapping> ports;
            lock (_netLock)
            {
                bridges = _networks.Values.Where(n => n.Driver == "bridge").Select(n => new BridgeNat(n.Bridge, n.Subnet, n.Internal)).ToList();
                ports = _published.Values.SelectMany(p => p.Mappings).ToList();
            }
            try
            {
                _nat.Apply(bridges, ports);
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or IOException)
            {
                throw new DaemonException(ErrorKind.Internal, "programming NAT rules: " + e.Message, e);
            }
        }
    }

    /// <summary>Finds a network by exact ID, exact name, or unique ID prefix.</summary>
    public NetworkConfig GetNetwork(string idOrName)
    {
        lock (_netLock) return FindNetworkLocked(idOrName) ?? throw DaemonException.NotFound($"network {idOrName} not found");
    }

    private NetworkConfig? FindNetworkLocked(string idOrName)
    {
        if (_networks.TryGetValue(idOrName, out var n)) return n;
        var byName = _networks.Values.FirstOrDefault(x => x.Name == idOrName);
        if (byName is not null) return byName;
        if (idOrName.Length == 0) return null;
        var matches = _networks.Values.Where(x => x.Id.StartsWith(idOrName, StringComparison.Ordinal)).ToList();
        if (matches.Count > 1) throw DaemonException.Invalid($"network {idOrName} is ambiguous ({matches.Count} matches found based on ID prefix)");
        return matches.FirstOrDefault();
    }

    public IReadOnlyList<NetworkConfig> ListNetworks()
    {
        lock (_netLock) return _networks.Values.OrderBy(n => n.Created).ToList();
    }

    /// <summary>The containers attached to a network (with an address while they run).</summary>
    public List<NetworkMember> NetworkMembers(string networkId) =>
        Containers.All.SelectMany(c => c.Record.Networks.Values.Where(e => e.NetworkId == networkId).Select(e => new NetworkMember(c, e))).ToList();

    public NetworkConfig CreateNetwork(NetworkCreateRequest req)
    {
        if (string.IsNullOrWhiteSpace(req.Name)) throw DaemonException.Invalid("network name is required");
        var driver = string.IsNullOrEmpty(req.Driver) ? "bridge" : req.Driver;
        if (driver is "host" or "null") throw new DaemonException(ErrorKind.Forbidden, $"only one instance of \"{driver}\" network is allowed");
        if (driver != "bridge") throw DaemonException.NotFound($"plugin \"{driver}\" not found");
        NetworkConfig n;
        lock (_netLock)
        {
            if (_networks.Values.Any(x => x.Name == req.Name)) throw DaemonException.Conflict($"network with name {req.Name} already exists");
            var others = _networks.Values.Where(x => x.Driver == "bridge").Select(x => Cidr.Parse(x.Subnet)).ToList();
            Cidr subnet;
            IPAddress gateway;
            Cidr? range;
            try
            {
                if (req.Subnet.Length > 0)
                {
                    (subnet, gateway, range) = Ipam.Validate(req.Subnet, req.Gateway, req.IPRange);
                    if (others.Any(o => o.Overlaps(subnet)))
                        throw new DaemonException(ErrorKind.Forbidden, "invalid pool request: Pool overlaps with other one on this address space");
                }
                else
                {
                    if (req.Gateway.Length > 0 || req.IPRange.Length > 0) throw DaemonException.Invalid("a gateway or ip-range needs a subnet");
                    var pool = Cidr.Parse(Options.AddressPool);
                    subnet = Ipam.NextSubnet(pool, Options.AddressPoolSize, others.Concat(Ipam.HostRoutes()))
                        ?? throw new DaemonException(ErrorKind.Forbidden, "all predefined address pools have been fully subnetted");
                    (subnet, gateway, range) = Ipam.Validate(subnet.ToString(), null, null);
                }
            }
            catch (ArgumentException e)
            {
                throw DaemonException.Invalid(e.Message);
            }
            Cidr6? subnet6 = null;
            IPAddress? gateway6 = null;
            if (req.Subnet6.Length > 0)
            {
                try
                {
                    (var s6, gateway6) = Ipam6.Validate(req.Subnet6, req.Gateway6);
                    subnet6 = s6;
                }
                catch (ArgumentException e)
                {
                    throw DaemonException.Invalid(e.Message);
                }
                var others6 = _networks.Values.Where(x => x.Driver == "bridge" && x.Subnet6.Length > 0).Select(x => Cidr6.Parse(x.Subnet6));
                if (others6.Any(o => o.Overlaps(subnet6.Value)))
                    throw new DaemonException(ErrorKind.Forbidden, "invalid pool request: Pool overlaps with other one on this address space");
            }
            else if (req.Gateway6.Length > 0)
            {
                throw DaemonException.Invalid("a gateway or ip-range needs a subnet");
            }
            else if (req.EnableIPv6)
            {
                // Docker has no default IPv6 pools: an IPv6 network needs its subnet.
                throw new DaemonException(ErrorKind.Forbidden, "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network");
            }
            var id = Names.NewId();
            var bridge = req.Options.TryGetValue(BridgeNameOption, out var b) && b.Length > 0 ? b : "sk-" + id[..12];
            if (bridge.Length > 15) throw DaemonException.Invalid($"bridge name {bridge} is longer than 15 characters");
            if (_networks.Values.Any(x => x.Bridge == bridge)) throw DaemonException.Conflict($"bridge {bridge} is used by another network");
            n = new NetworkConfig
            {
                Id = id, Name = req.Name, Driver = "bridge", Created = DateTimeOffset.UtcNow,
                Subnet = subnet.ToString(), Gateway = gateway.ToString(), IPRange = range?.ToString() ?? "",
                Bridge = bridge, Internal = req.Internal, Attachable = req.Attachable,
                EnableIPv6 = req.EnableIPv6, Subnet6 = subnet6?.ToString() ?? "", Gateway6 = gateway6?.ToString() ?? "", Gateway6Given = req.Gateway6.Length > 0,
                Labels = req.Labels, Options = req.Options,
            };
            try
            {
                EnsureBridge(n);
            }
            catch (Exception e) when (e is LinuxException or IOException)
            {
                try { HostLinks.DeleteLink(bridge); } catch (LinuxException) { }
                throw new DaemonException(ErrorKind.Internal, $"creating bridge {bridge}: {e.Message}", e);
            }
            _networkStore!.Save(n);
            _networks[n.Id] = n;
        }
        ApplyNat();
        return n;
    }

    /// <summary>Removes a user-defined network that no running container uses, with its bridge.</summary>
    public void RemoveNetwork(string idOrName)
    {
        lock (_netLock)
        {
            var n = FindNetworkLocked(idOrName) ?? throw DaemonException.NotFound($"network {idOrName} not found");
            if (n.Predefined) throw new DaemonException(ErrorKind.Forbidden, $"{n.Name} is a pre-defined network and cannot be removed");
            if (Containers.All.Any(c => c.Record.State.Running && c.Record.Networks.Values.Any(e => e.NetworkId == n.Id)))
                throw new DaemonException(ErrorKind.Forbidden, $"error while removing network: network {n.Name} id {n.Id} has active endpoints");
            _networks.Remove(n.Id);
            _networkStore!.Delete(n.Id);
            try { HostLinks.DeleteLink(n.Bridge); } catch (LinuxException) { }
        }
        ApplyNat();
    }

    /// <summary>Removes the user-defined networks no container refers to; returns their names.</summary>
    public List<string> PruneNetworks(Func<NetworkConfig, bool> filter)
    {
        List<NetworkConfig> unused;
        lock (_netLock)
        {
            var inUse = Containers.All.SelectMany(c => c.Record.Networks.Values.Select(e => e.NetworkId)).ToHashSet(StringComparer.Ordinal);
            unused = _networks.Values.Where(n => !n.Predefined && !inUse.Contains(n.Id) && filter(n)).ToList();
        }
        var removed = new List<string>();
        foreach (var n in unused)
        {
            try
            {
                RemoveNetwork(n.Id);
                removed.Add(n.Name);
            }
            catch (DaemonException)
            {
            }
        }
        return removed;
    }

    /// <summary>
    /// The endpoints a new container asks for: its network mode's network (the default bridge for
    /// "default"), plus other networks of the create request's EndpointsConfig.
    /// </summary>
    private Dictionary<string, EndpointRecord> EndpointsForCreate(HostConfig host, Dictionary<string, EndpointRecord> requested)
    {
        var result = new Dictionary<string, EndpointRecord>(StringComparer.Ordinal);
        var mode = host.NetworkMode;
        if (mode is "" or "default") mode = Options.Bridge == "none" ? "none" : "bridge";
        // Clients name the network mode's endpoint as they named the mode ("default" by the Docker CLI).
        if (requested.Remove("default", out var dflt)) requested.TryAdd(mode, dflt);
        if (mode is "host" or "none" || mode.StartsWith("container:", StringComparison.Ordinal))
        {
            if (requested.Keys.Any(k => k != mode))
                throw DaemonException.Invalid("container sharing network namespace with another container or host cannot be connected to any other network");
            return result;
        }
        foreach (var name in new[] { mode }.Concat(requested.Keys.Where(k => k != mode)))
        {
            var n = GetNetwork(name);
            if (n.Driver != "bridge") throw DaemonException.Invalid($"container cannot be connected to the {n.Name} network and another one");
            var ep = requested.GetValueOrDefault(name) ?? requested.GetValueOrDefault(n.Id) ?? new EndpointRecord();
            ValidateEndpoint(n, ep);
            ep.NetworkId = n.Id;
            result[n.Name] = ep;
        }
        return result;
    }

    private static void ValidateEndpoint(NetworkConfig n, EndpointRecord ep)
    {
        if (n.Predefined && ep.Aliases.Count > 0) throw DaemonException.Invalid("network-scoped alias is supported only for containers in user defined networks");
        if (ep.RequestedIp.Length > 0)
        {
            if (n.Predefined) throw DaemonException.Invalid("user specified IP address is supported on user defined networks only");
            if (!IPAddress.TryParse(ep.RequestedIp, out var ip) || ip.AddressFamily != AddressFamily.InterNetwork)
                throw DaemonException.Invalid($"invalid IPv4 address: {ep.RequestedIp}");
            if (!Cidr.Parse(n.Subnet).Contains(ip))
                throw DaemonException.Invalid($"Invalid address {ep.RequestedIp}: It does not belong to any of this network's subnets");
        }
        // As dockerd: --ip6 is ignored on a network whose IPv6 pool is not enabled.
        if (ep.RequestedIp6.Length > 0 && (n.Subnet6.Length == 0 || n.EnableIPv6))
        {
            if (n.Predefined) throw DaemonException.Invalid("user specified IP address is supported on user defined networks only");
            if (!IPAddress.TryParse(ep.RequestedIp6, out var ip6) || ip6.AddressFamily != AddressFamily.InterNetworkV6)
                throw DaemonException.Invalid($"invalid IPv6 address: {ep.RequestedIp6}");
            if (!n.HasIPv6 || !Cidr6.Parse(n.Subnet6).Contains(ip6))
                throw DaemonException.Invalid($"Invalid address {ep.RequestedIp6}: It does not belong to any of this network's subnets");
        }
    }

    private HashSet<uint> UsedAddressesLocked(string networkId)
    {
        var used = new HashSet<uint>();
        foreach (var c in Containers.All)
            foreach (var e in c.Record.Networks.Values)
                if (e.NetworkId == networkId && IPAddress.TryParse(e.IPAddress, out var ip)) used.Add(Cidr.ToUInt(ip));
        foreach (var (net, addr) in _releasing)
            if (net == networkId && IPAddress.TryParse(addr, out var ip) && ip.AddressFamily == AddressFamily.InterNetwork) used.Add(Cidr.ToUInt(ip));
        return used;
    }

    private HashSet<UInt128> UsedAddresses6Locked(string networkId)
    {
        var used = new HashSet<UInt128>();
        foreach (var c in Containers.All)
            foreach (var e in c.Record.Networks.Values)
                if (e.NetworkId == networkId && IPAddress.TryParse(e.GlobalIPv6Address, out var ip)) used.Add(Cidr6.ToUInt128(ip));
        foreach (var (net, addr) in _releasing)
            if (net == networkId && IPAddress.TryParse(addr, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6) used.Add(Cidr6.ToUInt128(ip));
        return used;
    }

    /// <summary>Gives an endpoint its address, MAC and interface names (under the network lock).</summary>
    private EndpointSpec AllocateEndpoint(ContainerRecord r, string name, EndpointRecord ep, int ifIndex, bool defaultRoute)
    {
        lock (_netLock)
        {
            var n = FindNetworkLocked(ep.NetworkId) ?? FindNetworkLocked(name) ?? throw DaemonException.NotFound($"network {name} not found");
            ep.NetworkId = n.Id;
            var subnet = Cidr.Parse(n.Subnet);
            var gw = IPAddress.Parse(n.Gateway);
            Cidr? range = Cidr.TryParse(n.IPRange, out var rr) ? rr : null;
            IPAddress ip;
            try
            {
                ip = Ipam.Allocate(subnet, gw, range, UsedAddressesLocked(n.Id), ep.RequestedIp);
            }
            catch (ArgumentException e) { throw DaemonException.Invalid(e.Message); }
            catch (InvalidOperationException e) { throw new DaemonException(ErrorKind.Forbidden, e.Message); }
            IPAddress? ip6 = null;
            Cidr6? subnet6 = null;
            IPAddress? gw6 = null;
            if (n.HasIPv6)
            {
                subnet6 = Cidr6.Parse(n.Subnet6);
                gw6 = IPAddress.Parse(n.Gateway6);
                try
                {
                    ip6 = Ipam6.Allocate(subnet6.Value, gw6, UsedAddresses6Locked(n.Id), ep.RequestedIp6.Length > 0 && n.EnableIPv6 ? ep.RequestedIp6 : null);
                }
                catch (ArgumentException e) { throw DaemonException.Invalid(e.Message); }
                catch (InvalidOperationException e) { throw new DaemonException(ErrorKind.Forbidden, e.Message); }
            }
            ep.GlobalIPv6Address = ip6?.ToString() ?? "";
            ep.GlobalIPv6PrefixLen = subnet6?.Prefix ?? 0;
            ep.IPv6Gateway = gw6?.ToString() ?? "";
            ep.IPAddress = ip.ToString();
            ep.IPPrefixLen = subnet.Prefix;
            ep.Gateway = n.Gateway;
            ep.MacAddress = Cidr.FormatMac(Cidr.MacFor(ip));
            ep.HostVeth = Sandbox.VethName();
            ep.IfName = "eth" + ifIndex.ToString(CultureInfo.InvariantCulture);
            ep.EndpointId = Names.NewId();
            return new EndpointSpec(n.Bridge, ep.HostVeth, ep.IfName, ip, subnet.Prefix, gw, defaultRoute && !n.Internal, ip6, subnet6?.Prefix ?? 0, gw6);
        }
    }

    private void ReleaseEndpoint(EndpointRecord ep)
    {
        lock (_netLock)
        {
            ep.IPAddress = "";
            ep.IPPrefixLen = 0;
            ep.GlobalIPv6Address = "";
            ep.GlobalIPv6PrefixLen = 0;
            ep.IPv6Gateway = "";
            ep.Gateway = "";
            ep.MacAddress = "";
            ep.HostVeth = "";
            ep.IfName = "";
            ep.EndpointId = "";
        }
    }

    /// <summary>
    /// Before a start: the container's own network namespace, pinned under the exec root, with one
    /// veth per network, its ports published and, on user-defined networks, its DNS server. The
    /// runtime joins that namespace (the spec's network namespace path).
    /// </summary>
    private void SetupNetworking(Container c)
    {
        var r = c.Record;
        r.SandboxKey = "";
        r.Ports = [];
        if (r.Networks.Count == 0) return;
        var specs = new List<EndpointSpec>();
        try
        {
            var i = 0;
            foreach (var (name, ep) in r.Networks)
            {
                specs.Add(AllocateEndpoint(r, name, ep, i, defaultRoute: i == 0));
                i++;
            }
            var path = Path.Combine(Options.NetnsRoot, r.Id);
            try
            {
                // Sandbox.Create is all or nothing, so after a missing bridge is made again it can simply run again; the
                // bridges are only looked at when a link was missing (not on every start).
                try { Sandbox.Create(path, HostLinks, specs); }
                catch (LinuxException e) when (e.Errno == ENODEV && RestoreMissingBridges(r)) { Sandbox.Create(path, HostLinks, specs); }
            }
            catch (LinuxException e)
            {
                throw new DaemonException(ErrorKind.Internal, "setting up the container's network: " + e.Message, e);
            }
            r.SandboxKey = path;
            if (HoldPorts(c)) ApplyNat();
            StartDnsIfNeeded(c);
            WriteEtcFiles(r);
            UpdateLinkParents(r);
        }
        catch
        {
            TeardownNetworking(c);
            throw;
        }
    }

    /// <summary>
    /// After an exit (or a failed start): the DNS server, ports and namespace go, the addresses are
    /// released. Idempotent. Deleting a veth waits for an RCU grace period (10-100 ms measured here
    /// under load), so the host ends are deleted in the background; their addresses are not given
    /// out again until then. A veth whose deletion never ran (daemon killed) goes with its
    /// namespace, which the kernel frees once the container's processes are gone.
    /// </summary>
    private void TeardownNetworking(Container c)
    {
        var r = c.Record;
        DnsServer? dns;
        lock (_dnsServers)
        {
            if (_dnsServers.Remove(r.Id, out dns)) { }
        }
        dns?.Dispose();
        bool hadPorts;
        lock (_netLock)
        {
            if (_proxies.Remove(r.Id, out var proxies)) foreach (var x in proxies) x.Dispose();
            hadPorts = _published.Remove(r.Id, out var p);
            if (hadPorts) foreach (var s in p.Holds) s.Dispose();
        }
        if (hadPorts)
        {
            try { ApplyNat(); }
            catch (DaemonException e) { Console.Error.WriteLine($"skiffd: {e.Message}"); }
        }
        var veths = new List<(string Veth, string NetworkId, string Ip, string Ip6)>();
        lock (_netLock)
        {
            foreach (var ep in r.Networks.Values.Where(e => e.HostVeth.Length > 0))
            {
                veths.Add((ep.HostVeth, ep.NetworkId, ep.IPAddress, ep.GlobalIPv6Address));
                if (ep.IPAddress.Length > 0) _releasing.Add((ep.NetworkId, ep.IPAddress));
                if (ep.GlobalIPv6Address.Length > 0) _releasing.Add((ep.NetworkId, ep.GlobalIPv6Address));
            }
        }
        if (r.SandboxKey.Length > 0) NetNs.Delete(r.SandboxKey);
        foreach (var ep in r.Networks.Values) ReleaseEndpoint(ep);
        if (veths.Count > 0 && _rtnl is { } rtnl)
        {
            _ = Task.Run(() =>
            {
                foreach (var (veth, net, ip, ip6) in veths)
                {
                    try { rtnl.DeleteLink(veth); }
                    catch (LinuxException e) { Console.Error.WriteLine($"skiffd: deleting {veth}: {e.Message}"); }
                    lock (_netLock)
                    {
                        _releasing.Remove((net, ip));
                        _releasing.Remove((net, ip6));
                    }
                }
            });
        }
        r.SandboxKey = "";
        r.Ports = [];
    }

    /// <summary>
    /// Reserves the published ports by binding (not listening on) host sockets, so another program
    /// or container cannot take them, and records the DNAT mappings; the caller applies the NAT table
    /// when this returns true (the container publishes ports).
    /// </summary>
    private bool HoldPorts(Container c)
    {
        var r = c.Record;
        var primary = r.Networks.Values.FirstOrDefault(e => e.IPAddress.Length > 0);
        if (primary is null) return false;
        var wanted = new Dictionary<string, List<PortBinding>>(StringComparer.Ordinal);
        // On a daemon restart the ports already given are taken again, not chosen anew.
        var source = r.Ports.Count > 0 ? r.Ports : r.HostConfig.PortBindings;
        foreach (var (k, v) in source) wanted[k] = v;
        if (r.HostConfig.PublishAllPorts && r.Ports.Count == 0)
            foreach (var p in r.Config.ExposedPorts) if (!wanted.ContainsKey(p)) wanted[p] = [new PortBinding()];
        if (wanted.Count == 0) return false;
        var holds = new List<Socket>();
        var mappings = new List<PortMapping>();
        var result = new Dictionary<string, List<PortBinding>>(StringComparer.Ordinal);
        try
        {
            foreach (var (key, bindings) in wanted)
            {
                var (cport, proto) = ParsePortKey(key);
                var list = new List<PortBinding>();
                foreach (var b in bindings.Count == 0 ? [new PortBinding()] : bindings)
                {
                    if (b.HostIp.Contains(':')) continue; // IPv6: not supported, as with an IPv4-only dockerd
                    var (sock, port) = ReservePort(b.HostIp, b.HostPort, proto);
                    holds.Add(sock);
                    mappings.Add(new PortMapping(b.HostIp, port, proto, primary.IPAddress, cport));
                    list.Add(new PortBinding { HostIp = b.HostIp.Length == 0 ? "0.0.0.0" : b.HostIp, HostPort = port.ToString(CultureInfo.InvariantCulture) });
                }
                result[key] = list;
            }
        }
        catch
        {
            foreach (var s in holds) s.Dispose();
            throw;
        }
        lock (_netLock)
        {
            _published[r.Id] = (holds, mappings);
            if (_nat is null && Options.UserlandProxy)
                _proxies[r.Id] = holds.Zip(mappings, (s, m) => PortProxy.Start(s, m.Protocol, new IPEndPoint(IPAddress.Parse(m.ContainerIp), m.ContainerPort))).ToList();
        }
        r.Ports = result;
        return true;
    }

    /// <summary>"80/tcp" -> (80, "tcp"); the protocol defaults to tcp.</summary>
    internal static (int Port, string Protocol) ParsePortKey(string key)
    {
        var slash = key.IndexOf('/');
        var proto = slash < 0 ? "tcp" : key[(slash + 1)..].ToLowerInvariant();
        var portText = slash < 0 ? key : key[..slash];
        if (proto is not ("tcp" or "udp")) throw DaemonException.Invalid($"invalid proto: {proto}");
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw DaemonException.Invalid($"invalid port specification: \"{key}\"");
        return (port, proto);
    }

    /// <summary>"80/tcp" -> (80, "tcp") for display; (0, proto) when the key is not a valid port.</summary>
    public static (int Port, string Protocol) ParsePortKeyForDisplay(string key)
    {
        try { return ParsePortKey(key); }
        catch (DaemonException) { return (0, key.Contains('/') ? key[(key.IndexOf('/') + 1)..] : "tcp"); }
    }

    /// <summary>Binds a host port: a fixed one, the first free one of a "low-high" range, or any free one (ephemeral range, like Docker).</summary>
    private static (Socket, int) ReservePort(string hostIp, string hostPort, string proto)
    {
        var ip = hostIp.Length == 0 ? IPAddress.Any : IPAddress.TryParse(hostIp, out var parsed) ? parsed : throw DaemonException.Invalid($"invalid IP address: {hostIp}");
        int low = 0, high = 0;
        if (hostPort.Length > 0)
        {
            var parts = hostPort.Split('-');
            if (!int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out low) || low is < 1 or > 65535 ||
                (parts.Length == 2 && (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out high) || high < low || high > 65535)) || parts.Length > 2)
                throw DaemonException.Invalid($"invalid port specification: \"{hostPort}\"");
            if (parts.Length == 1) high = low;
        }
        for (var port = low; port <= high; port++)
        {
            var s = proto == "udp" ? new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                s.Bind(new IPEndPoint(ip, port));
                return (s, ((IPEndPoint)s.LocalEndPoint!).Port);
            }
            catch (SocketException)
            {
                s.Dispose();
            }
        }
        var shown = hostIp.Length == 0 ? "0.0.0.0" : hostIp;
        throw new DaemonException(ErrorKind.Internal, $"driver failed programming external connectivity: Bind for {shown}:{hostPort} failed: port is already allocated");
    }

    private void StartDnsIfNeeded(Container c)
    {
        var r = c.Record;
        if (r.SandboxKey.Length == 0 || !UsesEmbeddedDns(r)) return;
        lock (_dnsServers)
        {
            if (_dnsServers.ContainsKey(r.Id)) return;
            var id = r.Id;
            var dns = r.HostConfig.Dns.Select(d => IPAddress.TryParse(d, out var ip) ? new IPEndPoint(ip, 53) : null).OfType<IPEndPoint>().ToList();
            Func<IReadOnlyList<IPEndPoint>> upstreams = dns.Count > 0 ? () => dns : () => DnsServer.ReadResolvConf("/etc/resolv.conf");
            _dnsServers[id] = DnsServer.StartInNamespace(r.SandboxKey, (name, type) => ResolveName(id, name), upstreams);
        }
    }

    private bool UsesEmbeddedDns(ContainerRecord r)
    {
        lock (_netLock) return r.Networks.Values.Any(e => _networks.TryGetValue(e.NetworkId, out var n) && n.HasDns);
    }

    /// <summary>
    /// Names on the user-defined networks the asking container is on: container names, short and
    /// full IDs, network aliases and compose service names, also as "name.network". Null when the
    /// name is not one of them (the server then forwards the query).
    /// </summary>
    internal IReadOnlyList<IPAddress>? ResolveName(string askingId, string name)
    {
        var asking = Containers.Find(askingId);
        if (asking is null) return null;
        name = name.TrimEnd('.').ToLowerInvariant();
        List<IPAddress>? found = null;
        foreach (var (netName, mine) in asking.Record.Networks.ToList())
        {
            NetworkConfig? n;
            lock (_netLock) n = _networks.GetValueOrDefault(mine.NetworkId);
            if (n is null || !n.HasDns) continue;
            var suffix = "." + n.Name.ToLowerInvariant();
            var bare = name.EndsWith(suffix, StringComparison.Ordinal) ? name[..^suffix.Length] : name;
            if (LinkTarget(mine, bare) is { } target) bare = target;
            foreach (var t in Containers.All)
            {
                var ep = t.Record.Networks.Values.FirstOrDefault(e => e.NetworkId == n.Id);
                if (ep is null || !IPAddress.TryParse(ep.IPAddress, out var ip)) continue;
                if (Answers(t.Record, ep, bare) || (bare != name && Answers(t.Record, ep, name)))
                {
                    found ??= [];
                    if (!found.Contains(ip)) found.Add(ip);
                    if (IPAddress.TryParse(ep.GlobalIPv6Address, out var ip6) && !found.Contains(ip6)) found.Add(ip6);
                }
            }
        }
        return found;
    }

    private static bool Answers(ContainerRecord t, EndpointRecord ep, string name) =>
        string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase) ||
        (name.Length >= 12 && t.Id.StartsWith(name, StringComparison.Ordinal)) ||
        ep.Aliases.Any(a => string.Equals(a, name, StringComparison.OrdinalIgnoreCase)) ||
        (t.Config.Labels.TryGetValue(ComposeServiceLabel, out var svc) && string.Equals(svc, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Connects a container to a network: recorded for its next start, and done now (a new veth
    /// ethN in its namespace) when it runs.
    /// </summary>
    public async Task ConnectNetworkAsync(string network, string container, EndpointRecord config)
    {
        var n = GetNetwork(network);
        var c = Containers.Get(container);
        await c.Lock.WaitAsync().ConfigureAwait(false);
        try
        {
            var r = c.Record;
            var mode = r.HostConfig.NetworkMode;
            if (mode is "host" or "none" || mode.StartsWith("container:", StringComparison.Ordinal) || n.Driver != "bridge")
                throw new DaemonException(ErrorKind.Forbidden, "container sharing network namespace with another container or host cannot be connected to any other network");
            if (r.Networks.Values.Any(e => e.NetworkId == n.Id))
                throw new DaemonException(ErrorKind.Forbidden, $"endpoint with name {r.Name} already exists in network {n.Name}");
            ValidateEndpoint(n, config);
            config.NetworkId = n.Id;
            if (r.State.Running)
            {
                if (r.SandboxKey.Length == 0) throw new DaemonException(ErrorKind.Forbidden, "container has no network namespace of its own to connect");
                var spec = AllocateEndpoint(r, n.Name, config, NextIfIndex(r), defaultRoute: false);
                try
                {
                    Sandbox.Attach(HostLinks, r.SandboxKey, spec);
                }
                catch (LinuxException e)
                {
                    ReleaseEndpoint(config);
                    throw new DaemonException(ErrorKind.Internal, "connecting the container: " + e.Message, e);
                }
                r.Networks[n.Name] = config;
                StartDnsIfNeeded(c);
            }
            else
            {
                r.Networks[n.Name] = config;
            }
            if (!c.Removed) c.Save();
        }
        finally
        {
            c.Lock.Release();
        }
    }

    private static int NextIfIndex(ContainerRecord r)
    {
        var taken = r.Networks.Values.Select(e => e.IfName).ToHashSet(StringComparer.Ordinal);
        var i = 0;
        while (taken.Contains("eth" + i.ToString(CultureInfo.InvariantCulture))) i++;
        return i;
    }

    /// <summary>Disconnects a container from a network (its veth there goes at once when it runs).</summary>
    public async Task DisconnectNetworkAsync(string network, string container, bool force)
    {
        NetworkConfig n;
        try
        {
            n = GetNetwork(network);
        }
        catch (DaemonException e) when (e.Kind == ErrorKind.NotFound && force)
        {
            return;
        }
        var c = Containers.Get(container);
        await c.Lock.WaitAsync().ConfigureAwait(false);
        try
        {
            var r = c.Record;
            var entry = r.Networks.FirstOrDefault(kv => kv.Value.NetworkId == n.Id);
            if (entry.Value is null)
            {
                if (n.Driver is "host" or "null")
                    throw new DaemonException(ErrorKind.Forbidden, $"container cannot be disconnected from {n.Name} network");
                throw new DaemonException(ErrorKind.Forbidden, $"container {r.Id} is not connected to network {n.Name}");
            }
            if (entry.Value.HostVeth.Length > 0)
            {
                try { HostLinks.DeleteLink(entry.Value.HostVeth); }
                catch (LinuxException e) { throw new DaemonException(ErrorKind.Internal, "disconnecting the container: " + e.Message, e); }
            }
            ReleaseEndpoint(entry.Value);
            r.Networks.Remove(entry.Key);
            if (!c.Removed) c.Save();
        }
        finally
        {
            c.Lock.Release();
        }
    }

    /// <summary>The gateway of a container's first network, else of the default bridge ("host-gateway" in --add-host).</summary>
    private string HostGateway(ContainerRecord r)
    {
        var ep = r.Networks.Values.FirstOrDefault(e => e.Gateway.Length > 0);
        if (ep is not null) return ep.Gateway;
        lock (_netLock) return _networks.Values.FirstOrDefault(n => n.Name == "bridge" && n.Predefined)?.Gateway ?? "";
    }
}
