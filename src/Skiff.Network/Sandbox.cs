using System.Net;
using Skiff.Linux;

namespace Skiff.Network;

/// <summary>
/// One interface of a container on a bridge: the host end <paramref name="HostVeth"/> is enslaved
/// to <paramref name="Bridge"/>, the container end is <paramref name="IfName"/> with the address,
/// and, when <paramref name="DefaultRoute"/>, the default route via the gateway; on an IPv6 network
/// also <paramref name="Address6"/> and, with the default route, the IPv6 one via <paramref name="Gateway6"/>.
/// </summary>
public sealed record EndpointSpec(string Bridge, string HostVeth, string IfName, IPAddress Address, int Prefix, IPAddress Gateway, bool DefaultRoute,
    IPAddress? Address6 = null, int Prefix6 = 0, IPAddress? Gateway6 = null);

/// <summary>
/// A container's network namespace ("sandbox", pinned at a path under the exec root so it outlives
/// the daemon) and its veth endpoints, made over netlink from a socket in the host's namespace and
/// one in the container's.
/// </summary>
public static class Sandbox
{
    /// <summary>Creates the namespace at <paramref name="path"/> and attaches <paramref name="endpoints"/>; all or nothing.</summary>
    public static void Create(string path, Rtnl host, IReadOnlyList<EndpointSpec> endpoints)
    {
        using var inner = NetNs.Create(path, Rtnl.Open);
        var done = new List<EndpointSpec>();
        try
        {
            foreach (var ep in endpoints)
            {
                Attach(host, inner, path, ep);
                done.Add(ep);
            }
        }
        catch
        {
            foreach (var ep in done) host.DeleteLink(ep.HostVeth);
            NetNs.Delete(path);
            throw;
        }
    }

    /// <summary>Adds an endpoint to an existing sandbox (network connect of a running container).</summary>
    public static void Attach(Rtnl host, string path, EndpointSpec ep)
    {
        using var inner = NetNs.Enter(path, Rtnl.Open);
        Attach(host, inner, path, ep);
    }

    private static void Attach(Rtnl host, Rtnl inner, string path, EndpointSpec ep)
    {
        var bridge = host.IndexOf(ep.Bridge) ?? throw new LinuxException("netlink find bridge", 19, ep.Bridge);
        var nsFd = NetNs.Open(path);
        try
        {
            host.CreateVeth(ep.HostVeth, bridge, ep.IfName, nsFd, Cidr.MacFor(ep.Address));
        }
        finally
        {
            Libc.close(nsFd);
        }
        try
        {
            var index = inner.IndexOf(ep.IfName) ?? throw new LinuxException("netlink find link", 19, ep.IfName);
            inner.AddAddress(index, ep.Address, ep.Prefix);
            if (ep.Address6 is not null) inner.AddAddress6(index, ep.Address6, ep.Prefix6);
            inner.SetUp(index);
            if (ep.DefaultRoute) inner.AddDefaultRoute(ep.Gateway, index);
            if (ep.DefaultRoute && ep.Address6 is not null && ep.Gateway6 is not null) inner.AddDefaultRoute6(ep.Gateway6, index);
        }
        catch
        {
            host.DeleteLink(ep.HostVeth);
            throw;
        }
    }

    /// <summary>Removes the endpoints (their host ends; the kernel removes the peers) and the namespace.</summary>
    public static void Delete(string path, Rtnl host, IEnumerable<string> hostVeths)
    {
        foreach (var v in hostVeths) host.DeleteLink(v);
        NetNs.Delete(path);
    }

    /// <summary>
    /// Docker-style host interface name: "veth" and 7 random hex digits, new at every start, so a
    /// restarted container never waits for the previous veth's (asynchronous) deletion.
    /// </summary>
    public static string VethName() => "veth" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4))[..7];

    /// <summary>Sets a per-interface IPv4 sysctl (e.g. route_localnet) of the host's namespace.</summary>
    public static void SetInterfaceSysctl(string ifName, string key, string value) =>
        File.WriteAllText($"/proc/sys/net/ipv4/conf/{ifName}/{key}", value);

    /// <summary>Sets a per-interface IPv6 sysctl (e.g. disable_ipv6) of the host's namespace.</summary>
    public static void SetInterfaceSysctl6(string ifName, string key, string value) =>
        File.WriteAllText($"/proc/sys/net/ipv6/conf/{ifName}/{key}", value);
}
