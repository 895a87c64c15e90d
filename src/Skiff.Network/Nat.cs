using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Skiff.Network;

/// <summary>A published port: host address (empty for all) and port, protocol, and the container's side.</summary>
public readonly record struct PortMapping(string HostIp, int HostPort, string Protocol, string ContainerIp, int ContainerPort);

/// <summary>A bridge as the NAT rules need it: its name, subnet, and whether it is internal (no way out).</summary>
public readonly record struct BridgeNat(string Bridge, string Subnet, bool Internal);

/// <summary>
/// The daemon's kernel NAT, in one nftables table of its own (<c>ip &lt;name&gt;</c>), so several
/// daemons on one host never touch each other's rules and everything of one daemon goes with one
/// <c>nft delete table</c>. nftables rather than iptables: one table can be replaced atomically in
/// a single <c>nft -f -</c> call (one process per change, ~5 ms), with no shared chains to insert
/// into. Every change rewrites the whole table from the daemon's state, so a restart (or a crash
/// in the middle of a change) never leaves stale rules: the next apply replaces them all.
/// </summary>
public sealed class Nat
{
    private readonly Lock _lock = new();

    public Nat(string table, string nftPath = "/usr/sbin/nft")
    {
        Table = table;
        NftPath = nftPath;
    }

    public string Table { get; }
    public string NftPath { get; }

    /// <summary>
    /// The ruleset: masquerade of each non-internal bridge's subnet going out elsewhere; DNAT of
    /// published ports for traffic to a local address, both arriving (prerouting) and from this
    /// host (output, so 127.0.0.1 answers); masquerade of loopback sources leaving to a bridge (the
    /// bridges have route_localnet=1); internal bridges may not forward elsewhere.
    /// </summary>
    public string Render(IEnumerable<BridgeNat> bridges, IEnumerable<PortMapping> ports)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append("table ip ").Append(Table).Append(" {}\n");
        sb.Append("delete table ip ").Append(Table).Append('\n');
        sb.Append("table ip ").Append(Table).Append(" {\n");
        sb.Append("\tchain ports {\n");
        foreach (var p in ports)
        {
            sb.Append("\t\t");
            if (!string.IsNullOrEmpty(p.HostIp) && p.HostIp != "0.0.0.0") sb.Append("ip daddr ").Append(p.HostIp).Append(' ');
            sb.Append(p.Protocol == "udp" ? "udp" : "tcp").Append(" dport ").Append(p.HostPort.ToString(inv))
              .Append(" dnat to ").Append(p.ContainerIp).Append(':').Append(p.ContainerPort.ToString(inv)).Append('\n');
        }
        sb.Append("\t}\n");
        sb.Append("\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tfib daddr type local jump ports\n\t}\n");
        sb.Append("\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n\t\tfib daddr type local jump ports\n\t}\n");
        sb.Append("\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
        foreach (var b in bridges)
        {
            sb.Append("\t\tip saddr 127.0.0.0/8 oifname \"").Append(b.Bridge).Append("\" masquerade\n");
            if (!b.Internal) sb.Append("\t\tip saddr ").Append(b.Subnet).Append(" oifname != \"").Append(b.Bridge).Append("\" masquerade\n");
        }
        sb.Append("\t}\n");
        sb.Append("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n");
        foreach (var b in bridges.Where(b => b.Internal))
        {
            sb.Append("\t\tiifname \"").Append(b.Bridge).Append("\" oifname != \"").Append(b.Bridge).Append("\" drop\n");
            sb.Append("\t\toifname \"").Append(b.Bridge).Append("\" iifname != \"").Append(b.Bridge).Append("\" drop\n");
        }
        sb.Append("\t}\n}\n");
        return sb.ToString();
    }

    /// <summary>Replaces the table atomically with the rules for the given state.</summary>
    public void Apply(IEnumerable<BridgeNat> bridges, IEnumerable<PortMapping> ports)
    {
        var text = Render(bridges, ports);
        lock (_lock) Run(["-f", "-"], text);
    }

    /// <summary>Deletes the table (nothing when it does not exist).</summary>
    public void Delete()
    {
        lock (_lock) Run(["-f", "-"], $"table ip {Table} {{}}\ndelete table ip {Table}\n");
    }

    private void Run(string[] args, string stdin)
    {
        var psi = new ProcessStartInfo(NftPath) { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot run " + NftPath);
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var err = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"nft failed ({p.ExitCode}): {err.Trim()}");
    }
}
