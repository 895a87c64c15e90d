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
    /// Connects a client to the container's streams until the container exits or the client goes
    /// away. Output arrives in Docker's multiplexed framing (raw for a tty); client bytes go to the
    /// container's stdin. A container that is not running yet is attached at its next start, before
    /// its process runs, so no output is lost (the `docker run` order: attach, then start).
    /// </summary>
    public async Task AttachAsync(string idOrName, Stream client, AttachOptions options, CancellationToken ct)
    {
        var c = Containers.Get(idOrName);
        var tty = c.Record.Config.Tty;
        Socket shim;
        if (c.Record.State.Running)
        {
            shim = await c.Shim.AttachAsync(options.Stdin, ct).ConfigureAwait(false);
        }
        else
        {
            var connected = new TaskCompletionSource<Socket>(TaskCreationOptions.RunContinuationsAsynchronously);
            c.AddPendingAttach(async s => connected.TrySetResult(await s.AttachAsync(options.Stdin, ct).ConfigureAwait(false)));
            using var reg = ct.Register(() => connected.TrySetCanceled());
            var exitOrRemoved = c.WhenRemoved;
            var first = await Task.WhenAny(connected.Task, exitOrRemoved).ConfigureAwait(false);
            if (first != connected.Task) return;
            shim = await connected.Task.ConfigureAwait(false);
        }
        using (shim)
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            Task input = options.Stdin ? PumpInputAsync(client, shim, stop.Token) : Task.CompletedTask;
            try
            {
                await PumpOutputAsync(shim, client, tty || (options.Stdout && options.Stderr) ? null : options, stop.Token).ConfigureAwait(false);
            }
            finally
            {
                stop.Cancel();
                try { await input.ConfigureAwait(false); } catch (OperationCanceledException) { }
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
