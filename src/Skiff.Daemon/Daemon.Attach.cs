using System.Buffers.Binary;
using System.Net.Sockets;
using Skiff.Shim;

namespace Skiff.Daemon;

/// <summary>Which streams an attached client wants.</summary>
public sealed class AttachOptions
{
    public bool Stdin { get; init; }
    public bool Stdout { get; init; } = true;
    public bool Stderr { get; init; } = true;
}

public sealed partial class Daemon
{
    /// <summary>
    /// Registers an attach to the container's streams and returns the session that later carries
    /// them. A container that is not running yet is attached at its next start, before its process
    /// runs, so no output is lost (the `docker run` order: attach, then start). Registration happens
    /// here, before the caller answers its client, so a start that follows the answer sees it.
    /// </summary>
    public AttachSession BeginAttach(string idOrName, AttachOptions options)
    {
        var c = Containers.Get(idOrName);
        var session = new AttachSession(c, options);
        PublishContainer(c, "attach");
        if (!c.Record.State.Running)
        {
            var connected = session.Connected;
            c.AddPendingAttach(async s => connected.TrySetResult(await s.AttachAsync(options.Stdin).ConfigureAwait(false)));
        }
        return session;
    }

    /// <summary>Connects a client to the container's streams until the container exits or the client goes away.</summary>
    public Task AttachAsync(string idOrName, Stream client, AttachOptions options, CancellationToken ct) =>
        BeginAttach(idOrName, options).RunAsync(client, ct);

    /// <summary>An attach in progress; see <see cref="BeginAttach"/>.</summary>
    public sealed class AttachSession
    {
        private readonly Container _c;
        private readonly AttachOptions _options;

        internal AttachSession(Container c, AttachOptions options)
        {
            _c = c;
            _options = options;
        }

        internal TaskCompletionSource<Socket> Connected { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>
        /// Pumps output (Docker's multiplexed framing, raw for a tty) to <paramref name="client"/> and
        /// client bytes to the container's stdin, until the container exits or the client leaves.
        /// </summary>
        public async Task RunAsync(Stream client, CancellationToken ct)
        {
            Socket shim;
            if (_c.Record.State.Running && !Connected.Task.IsCompleted)
            {
                shim = await _c.Shim.AttachAsync(_options.Stdin, ct).ConfigureAwait(false);
            }
            else
            {
                using var reg = ct.Register(() => Connected.TrySetCanceled());
                var first = await Task.WhenAny(Connected.Task, _c.WhenRemoved).ConfigureAwait(false);
                if (first != Connected.Task) return;
                shim = await Connected.Task.ConfigureAwait(false);
            }
            var tty = _c.Record.Config.Tty;
            using (shim)
            {
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
                Task input = _options.Stdin ? PumpInputAsync(client, shim, stop.Token) : Task.CompletedTask;
                try
                {
                    await PumpOutputAsync(shim, client, tty || (_options.Stdout && _options.Stderr) ? null : _options, stop.Token).ConfigureAwait(false);
                }
                finally
                {
                    stop.Cancel();
                    try { await input.ConfigureAwait(false); } catch (OperationCanceledException) { }
                }
            }
        }
    }

    private static async Task PumpInputAsync(Stream client, Socket shim, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var n = await client.ReadAsync(buffer, ct).ConfigureAwait(false);
                if (n == 0) break;
                await shim.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, ct).ConfigureAwait(false);
            }
            shim.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    /// <summary>Copies the shim's output to the client; with a filter, drops the frames of unwanted streams.</summary>
    private static async Task PumpOutputAsync(Socket shim, Stream client, AttachOptions? filter, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            if (filter is null)
            {
                while (true)
                {
                    var n = await shim.ReceiveAsync(buffer, SocketFlags.None, ct).ConfigureAwait(false);
                    if (n == 0) break;
                    await client.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                    await client.FlushAsync(ct).ConfigureAwait(false);
                }
                return;
            }
            await using var stream = new NetworkStream(shim, ownsSocket: false);
            var header = new byte[8];
            while (true)
            {
                try { await stream.ReadExactlyAsync(header, ct).ConfigureAwait(false); }
                catch (EndOfStreamException) { break; }
                var length = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4));
                var payload = length <= buffer.Length ? buffer : new byte[length];
                await stream.ReadExactlyAsync(payload.AsMemory(0, length), ct).ConfigureAwait(false);
                var wanted = header[0] == 2 ? filter.Stderr : filter.Stdout;
                if (!wanted) continue;
                await client.WriteAsync(header, ct).ConfigureAwait(false);
                await client.WriteAsync(payload.AsMemory(0, length), ct).ConfigureAwait(false);
                await client.FlushAsync(ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or EndOfStreamException)
        {
        }
    }
}
