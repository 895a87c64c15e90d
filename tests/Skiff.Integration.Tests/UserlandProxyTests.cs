using System.Net;
using System.Net.Sockets;

namespace Skiff.Integration.Tests;

/// <summary>A skiffd with --iptables=false (no nftables table at all), so published ports go through its userland proxy.</summary>
public sealed class NoIptablesFixture : IDisposable
{
    public DaemonFixture Daemon { get; } = new(["--iptables=false"]);

    public void Dispose() => Daemon.Dispose();
}

/// <summary>
/// Published ports with --iptables=false, as dockerd's docker-proxy serves them: TCP (also a
/// half-closed request) reaches the container through 127.0.0.1, no NAT table exists, the port is
/// served again after a daemon restart and is released with the container. (UDP relaying is
/// covered by Skiff.Network.Tests: busybox has no UDP server.)
/// </summary>
public sealed class UserlandProxyTests(NoIptablesFixture fx) : IClassFixture<NoIptablesFixture>
{
    private DaemonFixture F => fx.Daemon;

    private ProcResult Ok(params string[] args)
    {
        var r = F.Docker(args);
        Assert.True(r.ExitCode == 0, $"docker {string.Join(' ', args)}: {r}");
        return r;
    }

    private static string Fetch(int port)
    {
        var body = "";
        for (var i = 0; i < 50 && !body.Contains("hello-from-httpd"); i++)
        {
            body = Proc.Run("/usr/bin/curl", ["-s", "-m", "2", $"http://127.0.0.1:{port}/"]).Stdout;
            if (!body.Contains("hello-from-httpd")) Thread.Sleep(100);
        }
        return body;
    }

    [Fact]
    public void PublishedPortsGoThroughTheProxy()
    {
        var name = "proxy" + Guid.NewGuid().ToString("N")[..8];
        Ok("run", "-d", "--name", name, "-p", "127.0.0.1::80", "-p", "127.0.0.1::9", "busybox", "sh", "-c",
            "echo hello-from-httpd > /tmp/index.html; httpd -p 80 -h /tmp; exec nc -ll -p 9 -e cat");
        int http, tcpEcho;
        try
        {
            http = int.Parse(Ok("port", name, "80/tcp").Stdout.Trim().Split(':')[1]);
            tcpEcho = int.Parse(Ok("port", name, "9/tcp").Stdout.Trim().Split(':')[1]);
            Assert.Contains("hello-from-httpd", Fetch(http));
            Assert.NotEqual(0, Proc.Run("/usr/sbin/nft", ["list", "table", "ip", F.NatTable]).ExitCode);

            // Half-close: the request ends with a FIN, the answer still comes back.
            string echoed = "";
            for (var i = 0; i < 50 && echoed.Length == 0; i++)
            {
                using var c = new TcpClient();
                c.Connect(IPAddress.Loopback, tcpEcho);
                var s = c.GetStream();
                s.Write("ping-tcp\n"u8);
                c.Client.Shutdown(SocketShutdown.Send);
                using var reader = new StreamReader(s);
                s.ReadTimeout = 2000;
                try { echoed = reader.ReadToEnd(); } catch (IOException) { }
                if (echoed.Length == 0) Thread.Sleep(100);
            }
            Assert.Equal("ping-tcp\n", echoed);

            F.KillDaemon();
            F.StartDaemon();
            Assert.Contains("hello-from-httpd", Fetch(http));
        }
        finally
        {
            F.Docker("rm", "-f", name);
        }
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Assert.ThrowsAny<SocketException>(() => probe.Connect(IPAddress.Loopback, http));
    }
}
