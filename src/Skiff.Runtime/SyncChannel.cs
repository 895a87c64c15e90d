using System.Buffers.Binary;
using System.Text;
using Skiff.Linux;

namespace Skiff.Runtime;

/// <summary>
/// Framing on the parent/init socket: one type byte, a 4-byte little-endian length, the payload. A pty
/// master travels as SCM_RIGHTS on a <see cref="Console"/> message. The init's end is CLOEXEC, so the
/// parent reads end-of-stream exactly when execve succeeded (or the init died).
/// </summary>
internal static class SyncChannel
{
    public const byte Config = (byte)'J', Ready = (byte)'R', Error = (byte)'E', Console = (byte)'C';

    /// <summary>An error from a <see cref="Init.CloneInit"/> init, which cannot format text: site, errno and index as three int32s.</summary>
    public const byte RawError = (byte)'F';

    public static void Send(int fd, byte type, ReadOnlySpan<byte> payload)
    {
        byte[] frame = new byte[5 + payload.Length];
        frame[0] = type;
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(1), payload.Length);
        payload.CopyTo(frame.AsSpan(5));
        Libc.WriteAll(fd, frame);
    }

    public static void SendError(int fd, string message) => Send(fd, Error, Encoding.UTF8.GetBytes(message));

    public static void SendConsole(int fd, int master) => Libc.SendFd(fd, [Console, 0, 0, 0, 0], master);

    /// <summary>Reads one message; null at end of stream. A passed fd (Console messages) comes back in <paramref name="fd"/>.</summary>
    public static (byte Type, byte[] Payload)? Receive(int socket, out int fd)
    {
        fd = -1;
        byte[] header = new byte[5];
        if (!ReadExactly(socket, header, ref fd)) return null;
        int len = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(1));
        if (len < 0 || len > 64 << 20) throw new InvalidDataException("bad sync message length");
        byte[] payload = new byte[len];
        if (len > 0 && !ReadExactly(socket, payload, ref fd)) throw new EndOfStreamException("sync channel closed mid-message");
        return (header[0], payload);
    }

    private static bool ReadExactly(int socket, Span<byte> buffer, ref int fd)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = Libc.RecvWithFd(socket, buffer[done..], out int got);
            if (got >= 0) { if (fd < 0) fd = got; else Libc.close(got); }
            if (n == 0)
            {
                if (done == 0) return false;
                throw new EndOfStreamException("sync channel closed mid-message");
            }
            done += n;
        }
        return true;
    }
}
