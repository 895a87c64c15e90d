using System.Net.Sockets;

namespace Skiff.Build.Session;

/// <summary>
/// The unix socket a RUN step's <c>--mount=type=ssh</c> binds into the container: every connection the step makes is
/// forwarded to the client's agent through its build session, for as long as the step runs.
/// </summary>
internal sealed class SshAgentListener : IDisposable
{
    private readonly Socket _socket;
    private readonly CancellationTokenSource _cts;
    private readonly Task _loop;

    private SshAgentListener(Socket socket, ISshAgentSource agents, string id, CancellationToken ct)
    {
        _socket = socket;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _loop = AcceptLoopAsync(agents, id, _cts.Token);
    }

    /// <summary>Binds <paramref name="path"/> (mode and host owner as given) and starts accepting.</summary>
    public static SshAgentListener Start(string path, ISshAgentSource agents, string id, int mode, int uid, int gid, CancellationToken ct)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(path) > 107)
            throw new BuildException($"the SSH agent socket path {path} is longer than a unix socket path can be (use a shorter --data-root)");
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            File.SetUnixFileMode(path, (UnixFileMode)mode);
            Skiff.Linux.LinuxException.ThrowIfError(
                Skiff.Linux.Libc.fchownat(Skiff.Linux.Libc.AT_FDCWD, path, (uint)uid, (uint)gid, Skiff.Linux.Libc.AT_SYMLINK_NOFOLLOW), "fchownat", path);
            socket.Listen(16);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new SshAgentListener(socket, agents, id, ct);
    }

    private async Task AcceptLoopAsync(ISshAgentSource agents, string id, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket client;
            try { client = await _socket.AcceptAsync(ct).ConfigureAwait(false); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException) { return; }
            _ = Task.Run(async () =>
            {
                Stream remote;
                try { remote = await agents.ConnectAsync(id, ct).ConfigureAwait(false); }
                catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
                {
                    client.Dispose();
                    return;
                }
                using var stop = ct.Register(() => client.Dispose());
                await SessionMux.PumpAsync(client, remote).ConfigureAwait(false);
            }, CancellationToken.None);
        }
    }

    public void Dispose()
    {
        _cts.Cancel();
        _socket.Dispose();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        _cts.Dispose();
    }
}
