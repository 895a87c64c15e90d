using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Skiff.Network.Tests;

/// <summary>The userland proxy on loopback: echo servers of the test stand in for the container.</summary>
public sealed class PortProxyTests
{
    [Fact]
    public async Task TcpIsSplicedWithHalfClose()
    {
        using var backend = new TcpListener(IPAddress.Loopback, 0);
        backend.Start();
        var serve = Task.Run(async () =>
        {
            using var c = await backend.AcceptTcpClientAsync();
            var s = c.GetStream();
            var all = new MemoryStream();
            await s.CopyToAsync(all);                 // until the client's FIN
            var reply = Encoding.ASCII.GetBytes("got:" + Encoding.ASCII.GetString(all.ToArray()));
            await s.WriteAsync(reply);
        });
        using var host = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        host.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using (PortProxy.Start(host, "tcp", (IPEndPoint)backend.LocalEndpoint))
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)host.LocalEndPoint!).Port);
            var stream = client.GetStream();
            await stream.WriteAsync("hello"u8.ToArray());
            client.Client.Shutdown(SocketShutdown.Send);
            using var reader = new StreamReader(stream);
            var answer = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal("got:hello", answer);
            await serve.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public async Task UdpIsRelayedPerClient()
    {
        using var backend = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var echo = Task.Run(async () =>
        {
            for (var i = 0; i < 2; i++)
            {
                var r = await backend.ReceiveAsync();
                await backend.SendAsync(Encoding.ASCII.GetBytes("echo:" + Encoding.ASCII.GetString(r.Buffer)), r.RemoteEndPoint);
            }
        });
        using var host = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        host.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)host.LocalEndPoint!).Port;
        using (PortProxy.Start(host, "udp", (IPEndPoint)backend.Client.LocalEndPoint!))
        {
            foreach (var who in new[] { "a", "b" })
            {
                using var client = new UdpClient();
                client.Connect(IPAddress.Loopback, port);
                await client.SendAsync(Encoding.ASCII.GetBytes(who));
                var r = await client.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(10));
                Assert.Equal("echo:" + who, Encoding.ASCII.GetString(r.Buffer));
            }
            await echo.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }
}
