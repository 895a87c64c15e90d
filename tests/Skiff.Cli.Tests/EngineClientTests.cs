using System.Net;
using System.Net.Sockets;
using System.Text;
using Skiff.Client;

namespace Skiff.Cli.Tests;

/// <summary>
/// A scripted HTTP/1.1 server on a temporary unix socket: each accepted connection reads one
/// request head (and Content-Length body) at a time and answers with whatever the handler returns.
/// Disposing stops the listener and deletes the socket file.
/// </summary>
internal sealed class FakeDaemon : IDisposable
{
    private readonly Socket _listener;
    private readonly string _dir;
    private readonly CancellationTokenSource _cts = new();
    public List<string> Requests { get; } = [];
    public string Path { get; }

    public FakeDaemon(Func<string, string, byte[]> handler)
    {
        _dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "skiff-fake-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dir);
        Path = System.IO.Path.Combine(_dir, "d.sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(Path));
        _listener.Listen(16);
        _ = Task.Run(async () =>
        {
            while (!_cts.IsCancellationRequested)
            {
                Socket s;
                try { s = await _listener.AcceptAsync(_cts.Token); }
                catch (Exception) { return; }
                _ = Task.Run(() => Serve(s, handler));
            }
        });
    }

    private async Task Serve(Socket s, Func<string, string, byte[]> handler)
    {
        using var _ = s;
        using var stream = new NetworkStream(s);
        var buf = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            buf.Clear();
            while (!(buf.Count >= 4 && buf[^4] == '\r' && buf[^3] == '\n' && buf[^2] == '\r' && buf[^1] == '\n'))
            {
                int n;
                try { n = await stream.ReadAsync(one); }
                catch (Exception) { return; }
                if (n == 0) return;
                buf.Add(one[0]);
            }
            string head = Encoding.ASCII.GetString(buf.ToArray());
            string body = "";
            var cl = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
            if (cl is not null && int.Parse(cl[15..].Trim()) is > 0 and int len)
            {
                var b = new byte[len];
                await stream.ReadExactlyAsync(b);
                body = Encoding.UTF8.GetString(b);
            }
            string requestLine = head[..head.IndexOf('\r')];
            lock (Requests) Requests.Add(requestLine);
            byte[] answer = handler(head, body);
            try { await stream.WriteAsync(answer); }
            catch (Exception) { return; }
            if (head.Contains("Upgrade: tcp", StringComparison.Ordinal)) { await Task.Delay(50); return; }
        }
    }

    public static byte[] Http(int status, string reason, string body = "", params string[] headers)
    {
        var sb = new StringBuilder($"HTTP/1.1 {status} {reason}\r\n");
        foreach (string h in headers) sb.Append(h).Append("\r\n");
        sb.Append("Content-Length: ").Append(Encoding.UTF8.GetByteCount(body)).Append("\r\n\r\n").Append(body);
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    public void Dispose()
    {
        _cts.Cancel();
        _listener.Dispose();
        Directory.Delete(_dir, true);
    }
}

public class EngineClientTests
{
    private static byte[] Ping(string head, string? version) => FakeDaemon.Http(200, "OK", head.StartsWith("HEAD", StringComparison.Ordinal) ? "" : "OK", version is null ? [] : [$"Api-Version: {version}", "OSType: linux"]);

    [Theory]
    [InlineData("1.45", "1.45")]
    [InlineData("1.41", "1.41")]
    [InlineData("1.51", "1.50")]
    [InlineData("2.0", "1.50")]
    [InlineData(null, "1.24")]
    public async Task NegotiatesMinOfDaemonAndClient(string? announced, string expected)
    {
        using var d = new FakeDaemon((head, _) => head.Contains("/_ping") ? Ping(head, announced) : FakeDaemon.Http(200, "OK", "{}", "Content-Type: application/json"));
        using var c = new EngineClient(EngineEndpoint.Parse("unix://" + d.Path));
        Assert.Equal(expected, await c.GetApiVersionAsync());
        using var doc = await c.GetDocumentAsync("/version");
        Assert.Contains($"GET /v{expected}/version HTTP/1.1", d.Requests);
        Assert.StartsWith("HEAD /_ping", d.Requests[0]);
    }

    [Fact]
    public async Task FallsBackToGetPingWhenHeadIsRefused()
    {
        using var d = new FakeDaemon((head, _) => head.StartsWith("HEAD", StringComparison.Ordinal) ? FakeDaemon.Http(405, "Method Not Allowed") : Ping(head, "1.44"));
        using var c = new EngineClient(EngineEndpoint.Parse("unix://" + d.Path));
        Assert.Equal("1.44", await c.GetApiVersionAsync());
        Assert.Equal(["HEAD /_ping HTTP/1.1", "GET /_ping HTTP/1.1"], d.Requests);
    }

    [Fact]
    public async Task ErrorBodiesBecomeTypedExceptions()
    {
        using var d = new FakeDaemon((head, _) => head.Contains("/_ping") ? Ping(head, "1.50")
            : head.Contains("/plain") ? FakeDaemon.Http(500, "Internal Server Error", "plain text failure\n", "Content-Type: text/plain")
            : FakeDaemon.Http(404, "Not Found", "{\"message\":\"No such container: x\"}", "Content-Type: application/json"));
        using var c = new EngineClient(EngineEndpoint.Parse("unix://" + d.Path));
        var e = await Assert.ThrowsAsync<EngineApiException>(() => c.GetDocumentAsync("/containers/x/json"));
        Assert.Equal(HttpStatusCode.NotFound, e.Status);
        Assert.Equal("Error response from daemon: No such container: x", e.DisplayMessage);
        var p = await Assert.ThrowsAsync<EngineApiException>(() => c.GetDocumentAsync("/plain"));
        Assert.Equal("plain text failure", p.Message);
    }

    [Fact]
    public async Task MissingSocketIsAConnectionError()
    {
        using var c = new EngineClient(EngineEndpoint.Parse("unix:///nonexistent/skiff.sock"));
        var e = await Assert.ThrowsAsync<EngineConnectionException>(() => c.GetApiVersionAsync().AsTask());
        Assert.Equal("Cannot connect to the Skiff daemon at unix:///nonexistent/skiff.sock. Is the skiff daemon running?", e.Message);
    }

    [Fact]
    public async Task HijackAfter101KeepsBytesThatArrivedWithTheHead()
    {
        byte[] frames = [.. MultiplexedStreamReader.EncodeFrame(StdStream.Stdout, "hello\n"u8), .. MultiplexedStreamReader.EncodeFrame(StdStream.Stderr, "oops\n"u8)];
        using var d = new FakeDaemon((head, body) => head.Contains("/_ping") ? Ping(head, "1.50")
            : [.. Encoding.ASCII.GetBytes("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"), .. frames]);
        using var c = new EngineClient(EngineEndpoint.Parse("unix://" + d.Path));
        using var conn = await c.HijackAsync("/containers/abc/attach?stream=1&stdout=1&stderr=1", null);
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        await new MultiplexedStreamReader(conn).CopyToAsync(stdout, stderr);
        Assert.Equal("hello\n", Encoding.UTF8.GetString(stdout.ToArray()));
        Assert.Equal("oops\n", Encoding.UTF8.GetString(stderr.ToArray()));
        Assert.Contains("POST /v1.50/containers/abc/attach?stream=1&stdout=1&stderr=1 HTTP/1.1", d.Requests);
    }

    [Fact]
    public async Task HijackErrorStatusThrowsWithDaemonMessage()
    {
        using var d = new FakeDaemon((head, body) => head.Contains("/_ping") ? Ping(head, "1.50")
            : FakeDaemon.Http(409, "Conflict", "{\"message\":\"container abc is not running\"}", "Content-Type: application/json"));
        using var c = new EngineClient(EngineEndpoint.Parse("unix://" + d.Path));
        var e = await Assert.ThrowsAsync<EngineApiException>(() => c.HijackAsync("/exec/abc/start", "{\"Detach\":false,\"Tty\":false}"u8.ToArray()));
        Assert.Equal(HttpStatusCode.Conflict, e.Status);
        Assert.Equal("container abc is not running", e.Message);
    }

    [Theory]
    [InlineData("unix:///run/skiff/skiff.sock", "/run/skiff/skiff.sock", null, 0)]
    [InlineData("/tmp/x.sock", "/tmp/x.sock", null, 0)]
    [InlineData("tcp://127.0.0.1:2376", null, "127.0.0.1", 2376)]
    [InlineData("tcp://localhost", null, "localhost", 2375)]
    [InlineData("tcp://[::1]:9000", null, "::1", 9000)]
    public void ParsesHosts(string host, string? path, string? tcpHost, int port)
    {
        var e = EngineEndpoint.Parse(host);
        Assert.Equal((path, tcpHost, port), (e.SocketPath, e.TcpHost, e.TcpPort));
    }

    [Fact]
    public void RejectsUnknownSchemes() => Assert.Throws<FormatException>(() => EngineEndpoint.Parse("ssh://host"));
}
