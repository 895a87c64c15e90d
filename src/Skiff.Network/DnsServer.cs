using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Skiff.Network;

/// <summary>
/// Answers a name the daemon knows: the addresses (possibly none, e.g. for AAAA of a container
/// without IPv6), or null when the name is not the daemon's and the query goes to the upstreams.
/// </summary>
public delegate IReadOnlyList<IPAddress>? DnsLookup(string name, ushort type);

/// <summary>
/// The embedded DNS server of one container (Docker's 127.0.0.11): UDP and TCP sockets on port 53
/// inside the container's network namespace, served by the daemon. Names of the daemon's containers
/// are answered from <see cref="DnsLookup"/>; everything else is forwarded, from the host's
/// namespace, to the host's resolvers, so a loopback resolver such as 127.0.0.53 still works.
/// </summary>
public sealed class DnsServer : IDisposable
{
    private readonly Socket _udp;
    private readonly Socket _tcp;
    private readonly DnsLookup _lookup;
    private readonly Func<IReadOnlyList<IPEndPoint>> _upstreams;
    private readonly CancellationTokenSource _cts = new();

    private DnsServer(Socket udp, Socket tcp, DnsLookup lookup, Func<IReadOnlyList<IPEndPoint>> upstreams)
    {
        _udp = udp;
        _tcp = tcp;
        _lookup = lookup;
        _upstreams = upstreams;
        _ = Task.Run(UdpLoopAsync);
        _ = Task.Run(TcpLoopAsync);
    }

    /// <summary>Docker's address of the embedded server inside a container.</summary>
    public static readonly IPAddress ContainerAddress = IPAddress.Parse("127.0.0.11");

    public IPEndPoint UdpEndPoint => (IPEndPoint)_udp.LocalEndPoint!;
    public IPEndPoint TcpEndPoint => (IPEndPoint)_tcp.LocalEndPoint!;

    /// <summary>Serves on <paramref name="endpoint"/> in the calling thread's namespace (port 0: any free port, for tests).</summary>
    public static DnsServer Start(IPEndPoint endpoint, DnsLookup lookup, Func<IReadOnlyList<IPEndPoint>> upstreams)
    {
        var (udp, tcp) = Bind(endpoint);
        return new DnsServer(udp, tcp, lookup, upstreams);
    }

    /// <summary>Serves on 127.0.0.11:53 inside the network namespace pinned at <paramref name="netnsPath"/>.</summary>
    public static DnsServer StartInNamespace(string netnsPath, DnsLookup lookup, Func<IReadOnlyList<IPEndPoint>> upstreams)
    {
        var (udp, tcp) = NetNs.Enter(netnsPath, () => Bind(new IPEndPoint(ContainerAddress, 53)));
        return new DnsServer(udp, tcp, lookup, upstreams);
    }

    private static (Socket, Socket) Bind(IPEndPoint endpoint)
    {
        var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            udp.Bind(endpoint);
            tcp.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            tcp.Bind(endpoint.Port == 0 ? new IPEndPoint(endpoint.Address, ((IPEndPoint)udp.LocalEndPoint!).Port) : endpoint);
            tcp.Listen(16);
            return (udp, tcp);
        }
        catch
        {
            udp.Dispose();
            tcp.Dispose();
            throw;
        }
    }

    private async Task UdpLoopAsync()
    {
        var buffer = new byte[4096];
        while (!_cts.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await _udp.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _cts.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            var query = buffer.AsSpan(0, r.ReceivedBytes).ToArray();
            var client = r.RemoteEndPoint;
            _ = Task.Run(async () =>
            {
                var answer = await AnswerAsync(query, tcp: false).ConfigureAwait(false);
                if (answer is null) return;
                try { await _udp.SendToAsync(answer, SocketFlags.None, client, _cts.Token).ConfigureAwait(false); }
                catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException) { }
            });
        }
    }

    private async Task TcpLoopAsync()
    {
        while (!_cts.IsCancellationRequested)
        {
            Socket conn;
            try
            {
                conn = await _tcp.AcceptAsync(_cts.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            _ = Task.Run(() => ServeTcpAsync(conn));
        }
    }

    private async Task ServeTcpAsync(Socket conn)
    {
        using var _ = conn;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await using var stream = new NetworkStream(conn, ownsSocket: false);
        var len = new byte[2];
        try
        {
            while (true)
            {
                await stream.ReadExactlyAsync(len, timeout.Token).ConfigureAwait(false);
                var query = new byte[BinaryPrimitives.ReadUInt16BigEndian(len)];
                await stream.ReadExactlyAsync(query, timeout.Token).ConfigureAwait(false);
                var answer = await AnswerAsync(query, tcp: true).ConfigureAwait(false);
                if (answer is null) return;
                var framed = new byte[answer.Length + 2];
                BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)answer.Length);
                answer.CopyTo(framed, 2);
                await stream.WriteAsync(framed, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or EndOfStreamException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    /// <summary>The response to one query: from the daemon's names, else from an upstream; null to drop it.</summary>
    internal async Task<byte[]?> AnswerAsync(byte[] query, bool tcp)
    {
        if (!DnsMessage.TryParseQuery(query, out var q, out var end))
            return query.Length >= 2 ? DnsMessage.HeaderOnlyError(query, DnsMessage.RcodeFormErr) : null;
        IReadOnlyList<IPAddress>? local = null;
        if (q.Class == DnsMessage.ClassIN && q.Type != DnsMessage.TypePTR) local = _lookup(q.Name, q.Type);
        if (local is not null)
            return DnsMessage.Response(query, end, DnsMessage.RcodeNoError, local.Where(a => DnsMessage.Answers(q.Type, a)).ToList());
        return await ForwardAsync(query, end, tcp).ConfigureAwait(false);
    }

    private async Task<byte[]> ForwardAsync(byte[] query, int questionEnd, bool tcp)
    {
        foreach (var upstream in _upstreams())
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
            cts.CancelAfter(TimeSpan.FromSeconds(3));
            try
            {
                using var s = new Socket(upstream.AddressFamily, tcp ? SocketType.Stream : SocketType.Dgram, tcp ? ProtocolType.Tcp : ProtocolType.Udp);
                await s.ConnectAsync(upstream, cts.Token).ConfigureAwait(false);
                if (tcp)
                {
                    var framed = new byte[query.Length + 2];
                    BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)query.Length);
                    query.CopyTo(framed, 2);
                    await s.SendAsync(framed, SocketFlags.None, cts.Token).ConfigureAwait(false);
                    await using var ns = new NetworkStream(s, ownsSocket: false);
                    var len = new byte[2];
                    await ns.ReadExactlyAsync(len, cts.Token).ConfigureAwait(false);
                    var answer = new byte[BinaryPrimitives.ReadUInt16BigEndian(len)];
                    await ns.ReadExactlyAsync(answer, cts.Token).ConfigureAwait(false);
                    return answer;
                }
                await s.SendAsync(query, SocketFlags.None, cts.Token).ConfigureAwait(false);
                var buffer = new byte[4096];
                while (true)
                {
                    var n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token).ConfigureAwait(false);
                    // Only the answer to this query (same ID) counts.
                    if (n >= 12 && buffer[0] == query[0] && buffer[1] == query[1]) return buffer.AsSpan(0, n).ToArray();
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or IOException or EndOfStreamException)
            {
            }
        }
        return DnsMessage.Response(query, questionEnd, DnsMessage.RcodeServFail, []);
    }

    /// <summary>The nameservers of a resolv.conf file, as UDP/TCP port 53 endpoints.</summary>
    public static List<IPEndPoint> ReadResolvConf(string path)
    {
        var result = new List<IPEndPoint>();
        string[] lines;
        try { lines = File.ReadAllLines(path); } catch (IOException) { return result; }
        foreach (var line in lines)
        {
            var f = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 2 && f[0] == "nameserver" && IPAddress.TryParse(f[1].Split('%')[0], out var ip)) result.Add(new IPEndPoint(ip, 53));
        }
        return result;
    }

    public void Dispose()
    {
        _cts.Cancel();
        _udp.Dispose();
        _tcp.Dispose();
    }
}
