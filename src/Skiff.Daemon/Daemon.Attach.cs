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
    /// <summary>The key sequence that detaches the client (Docker's format, e.g. "ctrl-p,ctrl-q", the default when null or empty).</summary>
    public string? DetachKeys { get; init; }
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
        _ = DetachKeys.Parse(options.DetachKeys);
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
                var keys = DetachKeys.Parse(_options.DetachKeys);
                Task input = _options.Stdin
                    ? PumpInputAsync(client, shim, keys, stop.Token).ContinueWith(t => { if (t.Result) stop.Cancel(); }, TaskScheduler.Default)
                    : Task.CompletedTask;
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

    /// <summary>
    /// Copies the client's bytes to the container's stdin until the client half-closes (which closes
    /// stdin) or types the detach sequence: its bytes are held back while they match and never reach
    /// the container; a full match returns true and leaves the container's stdin open.
    /// </summary>
    private static async Task<bool> PumpInputAsync(Stream client, Socket shim, byte[] detachKeys, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        var output = new byte[16 * 1024 + detachKeys.Length];
        var matched = 0;
        try
        {
            while (true)
            {
                var n = await client.ReadAsync(buffer, ct).ConfigureAwait(false);
                if (n == 0) break;
                var count = 0;
                for (var i = 0; i < n; i++)
                {
                    var b = buffer[i];
                    if (detachKeys.Length > 0 && b == detachKeys[matched])
                    {
                        if (++matched == detachKeys.Length)
                        {
                            if (count > 0) await shim.SendAsync(output.AsMemory(0, count), SocketFlags.None, ct).ConfigureAwait(false);
                            return true;
                        }
                        continue;
                    }
                    // A partial match that breaks off was input after all.
                    for (var k = 0; k < matched; k++) output[count++] = detachKeys[k];
                    matched = 0;
                    if (detachKeys.Length > 0 && b == detachKeys[0]) { matched = 1; continue; }
                    output[count++] = b;
                }
                if (count > 0) await shim.SendAsync(output.AsMemory(0, count), SocketFlags.None, ct).ConfigureAwait(false);
            }
            shim.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        return false;
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

/// <summary>Docker's detach key sequences: comma-separated "ctrl-X" or single characters.</summary>
internal static class DetachKeys
{
    /// <summary>ctrl-p, ctrl-q.</summary>
    public static readonly byte[] Default = [0x10, 0x11];

    /// <summary>Parses a sequence; null or empty is the default. Bad input is an InvalidArgument error, as in Docker.</summary>
    public static byte[] Parse(string? keys)
    {
        if (string.IsNullOrEmpty(keys)) return Default;
        var result = new List<byte>();
        foreach (var key in keys.Split(','))
        {
            if (key.Length == 1)
            {
                result.Add((byte)key[0]);
                continue;
            }
            if (key.Length == 6 && key.StartsWith("ctrl-", StringComparison.OrdinalIgnoreCase))
            {
                var ch = char.ToLowerInvariant(key[5]);
                if (ch is >= 'a' and <= 'z') { result.Add((byte)(ch - 'a' + 1)); continue; }
                var code = ch switch { '@' => 0, '[' => 27, '\\' => 28, ']' => 29, '^' => 30, '_' => 31, _ => -1 };
                if (code >= 0) { result.Add((byte)code); continue; }
            }
            throw DaemonException.Invalid($"Invalid detach keys ({keys}) provided");
        }
        return [.. result];
    }
}
