using System.Net.Sockets;
using System.Text;
using Skiff.Build.Session;

namespace Skiff.Build.Tests;

/// <summary>The build session's stream multiplexing, over a real socket pair, against a real local unix socket server.</summary>
public sealed class SessionMuxTests
{
    [Fact]
    public async Task StreamsTheDaemonOpensReachTheClientsLocalSocketBothWays()
    {
        string dir = Directory.CreateTempSubdirectory("skiff-mux-").FullName;
        try
        {
            // A local "agent": answers each connection with what it read, upper-cased, then closes.
            string path = Path.Combine(dir, "agent.sock");
            using var server = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            server.Bind(new UnixDomainSocketEndPoint(path));
            server.Listen(8);
            var serving = Task.Run(async () =>
            {
                for (int i = 0; i < 3; i++)
                {
                    var c = await server.AcceptAsync();
                    _ = Task.Run(async () =>
                    {
                        using (c)
                        {
                            var all = new MemoryStream();
                            var buf = new byte[4096];
                            int n;
                            while ((n = await c.ReceiveAsync(buf, SocketFlags.None)) > 0) all.Write(buf, 0, n);
                            await c.SendAsync(Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(all.ToArray()).ToUpperInvariant()), SocketFlags.None);
                            c.Shutdown(SocketShutdown.Send);
                        }
                    });
                }
            });

            var (a, b) = Pair();
            await using var daemonSide = new SessionMux(new NetworkStream(a, ownsSocket: true), connect: null);
            var names = new List<string>();
            await using var clientSide = new SessionMux(new NetworkStream(b, ownsSocket: true), async name =>
            {
                lock (names) names.Add(name);
                if (name != "ssh:default") return null;
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await s.ConnectAsync(new UnixDomainSocketEndPoint(path));
                return s;
            });
            var loops = new[] { daemonSide.RunAsync(CancellationToken.None), clientSide.RunAsync(CancellationToken.None) };

            // Three concurrent streams, each half-closed after its request: the answers do not mix.
            var big = new string('x', 200_000);
            var results = await Task.WhenAll(Enumerable.Range(0, 3).Select(async i =>
            {
                await using var s = await daemonSide.OpenAsync("ssh:default", CancellationToken.None);
                string request = i == 2 ? big : "hello " + i;
                await s.WriteAsync(Encoding.UTF8.GetBytes(request));
                await s.CloseWriteAsync();
                return await new StreamReader(s).ReadToEndAsync();
            }));
            Assert.Equal(["HELLO 0", "HELLO 1", big.ToUpperInvariant()], results);
            await serving;

            // A name the client does not offer: the stream ends at once.
            await using (var refused = await daemonSide.OpenAsync("ssh:other", CancellationToken.None))
                Assert.Equal(0, await refused.ReadAsync(new byte[10]));
            Assert.Contains("ssh:other", names);

            // The client leaves: the daemon side's loop ends and says so.
            await clientSide.DisposeAsync();
            await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(daemonSide.Ended.IsCancellationRequested);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (Socket, Socket) Pair()
    {
        using var l = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        l.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        l.Listen(1);
        var a = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        a.Connect(l.LocalEndPoint!);
        return (a, l.Accept());
    }
}
