namespace Skiff.Daemon;

/// <summary>Where the daemon keeps its state and which runtime binary it drives.</summary>
public sealed class DaemonOptions
{
    /// <summary>Persistent state (images, layers, container records, logs). Docker's --data-root.</summary>
    public string DataRoot { get; init; } = "/var/lib/skiff";
    /// <summary>Runtime state lost at reboot (bundles, shim sockets). Docker's --exec-root.</summary>
    public string ExecRoot { get; init; } = "/run/skiff";
    /// <summary>The skiff-runtime binary, which is also the shim and the container init stage.</summary>
    public string RuntimePath { get; init; } = "/usr/local/bin/skiff-runtime";
    /// <summary>Default stop timeout in seconds (Docker's default is 10).</summary>
    public int StopTimeout { get; init; } = 10;

    /// <summary>The default bridge (dockerd's --bridge); "none" disables it.</summary>
    public string Bridge { get; init; } = "skiff0";
    /// <summary>The default bridge's gateway address and prefix (dockerd's --bip); clear of Docker's 172.17.0.0/16.</summary>
    public string BridgeIp { get; init; } = "172.31.0.1/16";
    /// <summary>Where user-defined networks without a subnet get theirs (dockerd's --default-address-pool base=,size=).</summary>
    public string AddressPool { get; init; } = "10.210.0.0/16";
    public int AddressPoolSize { get; init; } = 24;
    /// <summary>Whether the daemon installs NAT rules (dockerd's --iptables): outbound masquerade and published ports.</summary>
    public bool Iptables { get; init; } = true;
    /// <summary>
    /// dockerd's --userland-proxy: with <see cref="Iptables"/> off, published ports are served by a
    /// proxy in the daemon (accepting on the host port, connecting to the container); with NAT rules
    /// the kernel does it all (loopback included), so the proxy is not needed.
    /// </summary>
    public bool UserlandProxy { get; init; } = true;

    /// <summary>
    /// dockerd's <c>--userns-remap</c>: the subordinate id ranges container root is mapped to, or null (no remapping).
    /// <see cref="DataRoot"/> is then already the per-mapping directory (<c>&lt;data-root&gt;/&lt;uid&gt;.&lt;gid&gt;</c>).
    /// </summary>
    public Archive.IdMap? Remap { get; init; }
    /// <summary>The user[:group] the remapping's ranges belong to (e.g. <c>dockremap:dockremap</c>).</summary>
    public string RemapUser { get; init; } = "";

    /// <summary>dockerd's <c>--insecure-registry</c> / daemon.json <c>insecure-registries</c> (always includes 127.0.0.0/8).</summary>
    public Distribution.InsecureRegistries InsecureRegistries { get; init; } = Distribution.InsecureRegistries.Default;

    public string ContainersRoot => Path.Combine(DataRoot, "containers");
    public string NetworksRoot => Path.Combine(DataRoot, "networks");
    /// <summary>Pinned network namespaces of running containers (exec-root/netns/&lt;id&gt;).</summary>
    public string NetnsRoot => Path.Combine(ExecRoot, "netns");
    public string BundlesRoot => Path.Combine(ExecRoot, "containers");

    /// <summary>
    /// A container's shim socket. Kept short and outside the bundle because a unix socket path is
    /// limited to 107 bytes, which a bundle path with a 64-character ID can exceed.
    /// </summary>
    public string ShimSocket(string id) => Path.Combine(ExecRoot, "s", id[..16] + ".sock");
}
