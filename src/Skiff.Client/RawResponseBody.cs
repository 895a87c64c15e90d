using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Skiff.Client;

/// <summary>
/// The body of an HTTP/1.1 response read straight off a socket: chunked, Content-Length or until close. Owns the socket.
/// </summary>
internal sealed class RawResponseBody : Stream
{
    private readonly Socket _socket;
    private readonly bool _chunked;
    private byte[] _buf = new byte[64 * 1024];
    private int _start, _end;
    /// <summary>Bytes left in the current chunk (chunked) or in the body (Content-Length); -1: until close.</summary>
    private long _left;
    private bool _done;

    public RawResponseBody(Socket socket, HttpResponseHead head)
    {
        _socket = socket;
        head.Leftover.CopyTo(_buf, 0);
        _end = head.Leftover.Length;
        _chunked = head.Headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase);
        if (_chunked) _left = 0;
        else _left = head.Headers.TryGetValue("Content-Length", out var cl) && long.TryParse(cl, out long l) ? l : -1;
        if (!_chunked && _left == 0) _done = true;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_done || buffer.Length == 0) return 0;
        if (_chunked && _left == 0)
        {
            string line = await ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (line.Length == 0) line = await ReadLineAsync(cancellationToken).ConfigureAwait(false);
            string sizeText = line.Split(';')[0].Trim();
            if (!long.TryParse(sizeText, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out _left))
                throw new IOException("malformed chunked response from the daemon");
            if (_left == 0) { _done = true; return 0; }
        }
        if (_start == _end && !await FillAsync(cancellationToken).ConfigureAwait(false))
        {
            if (_left > 0 || _chunked) throw new IOException("the daemon closed the connection in the middle of the response");
            _done = true;
            return 0;
        }
        int n = Math.Min(buffer.Length, _end - _start);
        if (_left >= 0) n = (int)Math.Min(n, _left);
        _buf.AsSpan(_start, n).CopyTo(buffer.Span);
        _start += n;
        if (_left >= 0)
        {
            _left -= n;
            if (!_chunked && _left == 0) _done = true;
        }
        return n;
    }

    private async ValueTask<bool> FillAsync(CancellationToken ct)
    {
        if (_start > 0 && _start == _end) { _start = _end = 0; }
        if (_end == _buf.Length)
        {
            if (_start > 0) { Buffer.BlockCopy(_buf, _start, _buf, 0, _end - _start); _end -= _start; _start = 0; }
            else Array.Resize(ref _buf, _buf.Length * 2);
        }
        int n = await _socket.ReceiveAsync(_buf.AsMemory(_end), SocketFlags.None, ct).ConfigureAwait(false);
        _end += n;
        return n > 0;
    }

    private async ValueTask<string> ReadLineAsync(CancellationToken ct)
    {
        while (true)
        {
            int nl = _buf.AsSpan(_start, _end - _start).IndexOf("\r\n"u8);
            if (nl >= 0)
            {
                string line = Encoding.ASCII.GetString(_buf, _start, nl);
                _start += nl + 2;
                return line;
            }
            if (!await FillAsync(ct).ConfigureAwait(false)) throw new IOException("the daemon closed the connection in the middle of the response");
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _socket.Dispose();
        base.Dispose(disposing);
    }
}
