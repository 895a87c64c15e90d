using System.Net.Sockets;
using System.Text;

namespace Skiff.Client;

/// <summary>
/// A connection taken over after an HTTP upgrade. Reads return the daemon's output (bytes
/// already buffered while parsing the response head come first); writes go to the container's stdin.
/// <see cref="CloseWrite"/> half-closes so the daemon sees stdin EOF while output keeps flowing.
/// </summary>
public sealed class HijackedConnection : Stream
{
    private readonly Socket _socket;
    private byte[] _leftover;
    private int _leftoverPos;

    internal HijackedConnection(Socket socket, byte[] leftover)
    {
        _socket = socket;
        _leftover = leftover;
    }

    /// <summary>Signals end of input to the daemon (shutdown of the send side).</summary>
    public void CloseWrite()
    {
        try { _socket.Shutdown(SocketShutdown.Send); }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
    }

    /// <inheritdoc/>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_leftoverPos < _leftover.Length)
        {
            int n = Math.Min(buffer.Length, _leftover.Length - _leftoverPos);
            _leftover.AsMemory(_leftoverPos, n).CopyTo(buffer);
            _leftoverPos += n;
            if (_leftoverPos == _leftover.Length) { _leftover = []; _leftoverPos = 0; }
            return n;
        }
        try
        {
            return await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown)
        {
            return 0;
        }
    }

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc/>
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            int n = await _socket.SendAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            buffer = buffer[n..];
        }
    }

    /// <inheritdoc/>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc/>
    public override void Flush() { }
    /// <inheritdoc/>
    public override bool CanRead => true;
    /// <inheritdoc/>
    public override bool CanSeek => false;
    /// <inheritdoc/>
    public override bool CanWrite => true;
    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException();
    /// <inheritdoc/>
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _socket.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>Status line and headers of an HTTP/1.1 response read straight off a socket.</summary>
internal sealed class HttpResponseHead
{
    public int Status { get; private init; }
    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);
    /// <summary>Bytes received after the blank line that ends the head.</summary>
    public byte[] Leftover { get; private set; } = [];

    public static async Task<HttpResponseHead> ReadAsync(Socket socket, CancellationToken ct)
    {
        var buf = new byte[4096];
        int len = 0;
        while (true)
        {
            int end = IndexOfHeadEnd(buf.AsSpan(0, len));
            if (end >= 0)
            {
                string text = Encoding.ASCII.GetString(buf, 0, end);
                var lines = text.Split("\r\n");
                string[] statusParts = lines[0].Split(' ', 3);
                if (statusParts.Length < 2 || !statusParts[0].StartsWith("HTTP/", StringComparison.Ordinal) || !int.TryParse(statusParts[1], out int status))
                    throw new IOException("malformed HTTP response: " + lines[0]);
                var head = new HttpResponseHead { Status = status };
                foreach (string line in lines.AsSpan(1))
                {
                    int colon = line.IndexOf(':');
                    if (colon > 0) head.Headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
                }
                head.Leftover = buf.AsSpan(end + 4, len - end - 4).ToArray();
                return head;
            }
            if (len == buf.Length) Array.Resize(ref buf, buf.Length * 2);
            int n = await socket.ReceiveAsync(buf.AsMemory(len), SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) throw new IOException("the daemon closed the connection before answering");
            len += n;
        }
    }

    private static int IndexOfHeadEnd(ReadOnlySpan<byte> data) => data.IndexOf("\r\n\r\n"u8);

    /// <summary>Reads the body of an error answer (Content-Length, chunked, or until close).</summary>
    public async Task<string> ReadBodyAsStringAsync(Socket socket, CancellationToken ct)
    {
        var ms = new MemoryStream();
        ms.Write(Leftover);
        bool chunked = Headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase);
        long want = Headers.TryGetValue("Content-Length", out var cl) && long.TryParse(cl, out long l) ? l : -1;
        var buf = new byte[4096];
        while (want < 0 || ms.Length < want)
        {
            if (chunked && ms.ToArray().AsSpan().IndexOf("0\r\n\r\n"u8) >= 0) break;
            int n = await socket.ReceiveAsync(buf, SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) break;
            ms.Write(buf, 0, n);
        }
        byte[] raw = ms.ToArray();
        return chunked ? DecodeChunked(raw) : Encoding.UTF8.GetString(raw);
    }

    private static string DecodeChunked(byte[] raw)
    {
        var sb = new StringBuilder();
        int pos = 0;
        while (pos < raw.Length)
        {
            int lineEnd = raw.AsSpan(pos).IndexOf("\r\n"u8);
            if (lineEnd < 0) break;
            string sizeText = Encoding.ASCII.GetString(raw, pos, lineEnd).Split(';')[0].Trim();
            if (!int.TryParse(sizeText, System.Globalization.NumberStyles.HexNumber, null, out int size) || size == 0) break;
            pos += lineEnd + 2;
            size = Math.Min(size, raw.Length - pos);
            sb.Append(Encoding.UTF8.GetString(raw, pos, size));
            pos += size + 2;
        }
        return sb.ToString();
    }
}
