using System.Buffers.Binary;

namespace Skiff.Client;

/// <summary>Stream id in the header of a multiplexed frame.</summary>
public enum StdStream : byte
{
    /// <summary>Standard input (echoed by some daemons).</summary>
    Stdin = 0,
    /// <summary>Standard output.</summary>
    Stdout = 1,
    /// <summary>Standard error.</summary>
    Stderr = 2,
    /// <summary>An error from the daemon itself (the payload is the message).</summary>
    SystemError = 3,
}

/// <summary>
/// Reads Docker's multiplexed stream format used when a container has no TTY: each frame is an
/// 8-byte header (stream id, three zero bytes, payload length as big-endian uint32) followed by the
/// payload. Frames may arrive split across reads in any way.
/// </summary>
public sealed class MultiplexedStreamReader(Stream source)
{
    private readonly byte[] _header = new byte[8];
    private byte[] _payload = new byte[32 * 1024];

    /// <summary>
    /// Reads the next frame. Returns false at a clean end of stream (between frames); throws
    /// <see cref="EndOfStreamException"/> if the stream ends inside a frame.
    /// The returned memory is valid until the next call.
    /// </summary>
    public async ValueTask<(bool Ok, StdStream Stream, ReadOnlyMemory<byte> Payload)> ReadFrameAsync(CancellationToken ct = default)
    {
        int got = await ReadFullyAsync(_header, ct).ConfigureAwait(false);
        if (got == 0) return (false, default, default);
        if (got < 8) throw new EndOfStreamException("multiplexed stream ended inside a frame header");
        uint size = BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(4));
        if (size > int.MaxValue) throw new InvalidDataException("multiplexed frame too large");
        if (_payload.Length < size) _payload = new byte[Math.Max((int)size, _payload.Length * 2)];
        var payload = _payload.AsMemory(0, (int)size);
        if (await ReadFullyAsync(payload, ct).ConfigureAwait(false) < size)
            throw new EndOfStreamException("multiplexed stream ended inside a frame payload");
        return (true, (StdStream)_header[0], payload);
    }

    private async ValueTask<int> ReadFullyAsync(Memory<byte> buffer, CancellationToken ct)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = await source.ReadAsync(buffer[total..], ct).ConfigureAwait(false);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    /// <summary>
    /// Copies frames to <paramref name="stdout"/> and <paramref name="stderr"/> until the source ends,
    /// flushing after each frame so interleaving is preserved for the reader.
    /// A system-error frame throws <see cref="EngineStreamException"/> with its message.
    /// </summary>
    public async Task CopyToAsync(Stream stdout, Stream stderr, CancellationToken ct = default)
    {
        while (true)
        {
            var (ok, stream, payload) = await ReadFrameAsync(ct).ConfigureAwait(false);
            if (!ok) return;
            switch (stream)
            {
                case StdStream.Stdin:
                case StdStream.Stdout:
                    await stdout.WriteAsync(payload, ct).ConfigureAwait(false);
                    await stdout.FlushAsync(ct).ConfigureAwait(false);
                    break;
                case StdStream.Stderr:
                    await stderr.WriteAsync(payload, ct).ConfigureAwait(false);
                    await stderr.FlushAsync(ct).ConfigureAwait(false);
                    break;
                case StdStream.SystemError:
                    throw new EngineStreamException(System.Text.Encoding.UTF8.GetString(payload.Span));
                default:
                    throw new InvalidDataException($"Unrecognized input header: {(byte)stream}");
            }
        }
    }

    /// <summary>Encodes one frame; the inverse of <see cref="ReadFrameAsync"/> (used by tests and fakes).</summary>
    public static byte[] EncodeFrame(StdStream stream, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[8 + payload.Length];
        frame[0] = (byte)stream;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(8));
        return frame;
    }
}

/// <summary>The daemon reported an error inside an output stream (system-error frame or JSON progress error).</summary>
public sealed class EngineStreamException(string message) : Exception(message);
