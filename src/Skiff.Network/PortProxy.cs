using System.Net;
using System.Net.Sockets;

namespace Skiff.Network;

/// <summary>
/// Docker's userland proxy (docker-proxy), run inside the daemon for a published port when no NAT
/// rules are installed (<c>--iptables=false</c>): TCP connections to the host port are accepted and
/// spliced to the container's address (each direction closes on its own, so half-closed
/// connections work); UDP datagrams are relayed through one socket per client, which is dropped
/// after <see cref="UdpIdle"/> without traffic (docker-proxy's 90 s). The proxy owns nothing but
/// its tasks: the bound host socket stays the caller's, which disposes it after the proxy.
/// </summary>
public sealed class PortProxy : IDisposable
{
    public static readonly TimeSpan UdpIdle = TimeSpan.FromSeconds(90);

    private readonly CancellationTokenSource _cts = new();
    private readonly Socket _host;
    private readonly IPEndPoint _target;

    private PortProxy(Socket host, IPEndPoint target)
    {
        _host = host;
        _target = target;
    }

    /// <summary>
    /// Starts proxying <paramref name="host"/> (bound, for TCP not yet listening) to
    /// <paramref name="target"/>; <paramref name="protocol"/> is "tcp" or "udp".
    /// </summary>
    public static PortProxy Start(Socket host, string protocol, IPEndPoint target)
    {
        var p = new PortProxy(host, target);
        if (protocol == "udp") _ = p.RelayUdpAsync();
        else
        {
            host.Listen(512);
            _ = p.AcceptAsync();
        }
        return p;
    }

    private async Task AcceptAsync()
    {
        while (!_cts.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _host.AcceptAsync(_cts.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                if (_cts.IsCancellationRequested) return;
                continue;
            }
            _ = SpliceAsync(client);
        }
    }

    private async Task SpliceAsync(Socket client)
    {
        using (client)
        using (var backend = new Socket(_target.AddressFamily, SocketType.Stream, ProtocolType.Tcp))
        {
            try
            {
                using var connect = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
                connect.CancelAfter(TimeSpan.FromSeconds(10));
                await backend.ConnectAsync(_target, connect.Token).ConfigureAwait(false);
                client.NoDelay = backend.NoDelay = true;
                await Task.WhenAll(CopyAsync(client, backend), CopyAsync(backend, client)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>Copies until <paramref name="from"/> ends, then ends the write side of <paramref name="to"/>.</summary>
    private async Task CopyAsync(Socket from, Socket to)
    {
        var buffer = new byte[32 * 1024];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, SocketFlags.None, _cts.Token).ConfigureAwait(false);
                if (n == 0) break;
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _cts.Token).ConfigureAwait(false);
            }
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // One side failed: end both, as docker-proxy does.
            try { from.Shutdown(SocketShutdown.Both); } catch (Exception x) when (x is SocketException or ObjectDisposedException) { }
            try { to.Shutdown(SocketShutdown.Both); } catch (Exception x) when (x is SocketException or ObjectDisposedException) { }
        }
    }

    private sealed class Flow(Socket socket)
    {
        public Socket Socket { get; } = socket;
        public long LastUsed = Environment.TickCount64;
    }

    private async Task RelayUdpAsync()
    {
        var flows = new Dictionary<EndPoint, Flow>();
        var buffer = new byte[65536];
        var any = new IPEndPoint(_host.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        using var sweep = new PeriodicTimer(TimeSpan.FromSeconds(10));
        _ = SweepAsync(flows, sweep);
        try
        {
            while (!_cts.IsCancellationRequested)
            {
                SocketReceiveFromResult r;
                try
                {
                    r = await _host.ReceiveFromAsync(buffer, SocketFlags.None, any, _cts.Token).ConfigureAwait(false);
                }
                catch (SocketException)
                {
                    continue;
                }
                Flow? flow;
                lock (flows)
                {
                    if (!flows.TryGetValue(r.RemoteEndPoint, out flow))
                    {
                        var s = new Socket(_target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                        try
                        {
                            s.Connect(_target);
                        }
                        catch (SocketException)
                        {
                            s.Dispose();
                            continue;
                        }
                        flow = new Flow(s);
                        flows[r.RemoteEndPoint] = flow;
                        _ = ReplyAsync(flow, r.RemoteEndPoint, flows);
                    }
                    flow.LastUsed = Environment.TickCount64;
                }
                try { await flow.Socket.SendAsync(buffer.AsMemory(0, r.ReceivedBytes), SocketFlags.None, _cts.Token).ConfigureAwait(false); }
                catch (SocketException) { }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            lock (flows)
            {
                foreach (var f in flows.Values) f.Socket.Dispose();
                flows.Clear();
            }
        }
    }

    /// <summary>The container's answers to one client go back from the published port.</summary>
    private async Task ReplyAsync(Flow flow, EndPoint client, Dictionary<EndPoint, Flow> flows)
    {
        var buffer = new byte[65536];
        try
        {
            while (true)
            {
                var n = await flow.Socket.ReceiveAsync(buffer, SocketFlags.None, _cts.Token).ConfigureAwait(false);
                flow.LastUsed = Environment.TickCount64;
                await _host.SendToAsync(buffer.AsMemory(0, n), SocketFlags.None, client, _cts.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        lock (flows)
        {
            if (flows.TryGetValue(client, out var f) && f == flow) flows.Remove(client);
        }
        flow.Socket.Dispose();
    }

    private async Task SweepAsync(Dictionary<EndPoint, Flow> flows, PeriodicTimer timer)
    {
        try
        {
            while (await timer.WaitForNextTickAsync(_cts.Token).ConfigureAwait(false))
            {
                lock (flows)
                {
                    var cutoff = Environment.TickCount64 - (long)UdpIdle.TotalMilliseconds;
                    foreach (var (client, f) in flows.Where(kv => kv.Value.LastUsed < cutoff).ToList())
                    {
                        flows.Remove(client);
                        f.Socket.Dispose();
                    }
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Stops accepting and relaying; connections in progress end.</summary>
    public void Dispose() => _cts.Cancel();
}
