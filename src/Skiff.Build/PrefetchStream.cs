using System.Buffers;
using System.Threading.Channels;

namespace Skiff.Build;

/// <summary>
/// Reads an (asynchronous) source stream ahead in 1 MiB chunks on a task, for a synchronous consumer such as the tar
/// reader. A synchronous read on a server's request body blocks a thread for every few KiB that arrive (and spins
/// before it blocks); here the source is read with <c>ReadAsync</c> and the consumer waits once per chunk.
/// </summary>
internal sealed class PrefetchStream : Stream
{
    private const int ChunkSize = 1 << 20;
    private readonly Channel<(byte[] Buffer, int Length, Exception? Error)> _chunks =
        Channel.CreateBounded<(byte[], int, Exception?)>(new BoundedChannelOptions(4) { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _producer;
    private byte[]? _current;
    private int _pos, _len;
    private bool _eof;

    public PrefetchStream(Stream source)
    {
        _producer = Task.Run(() => ProduceAsync(source, _stop.Token));
    }

    private async Task ProduceAsync(Stream source, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
                int filled = 0;
                try
                {
                    while (filled < ChunkSize)
                    {
                        int n = await source.ReadAsync(buffer.AsMemory(filled, ChunkSize - filled), ct).ConfigureAwait(false);
                        if (n == 0) break;
                        filled += n;
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    await _chunks.Writer.WriteAsync((Array.Empty<byte>(), 0, e), ct).ConfigureAwait(false);
                    return;
                }
                await _chunks.Writer.WriteAsync((buffer, filled, null), ct).ConfigureAwait(false);
                if (filled < ChunkSize) return;
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _chunks.Writer.TryComplete();
        }
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
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        while (_current is null || _pos == _len)
        {
            if (_eof) return 0;
            if (_current is not null) { ArrayPool<byte>.Shared.Return(_current); _current = null; }
            var reader = _chunks.Reader;
            if (!reader.TryRead(out var chunk))
            {
                if (!reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult() || !reader.TryRead(out chunk)) { _eof = true; return 0; }
            }
            if (chunk.Error is not null) throw new IOException(chunk.Error.Message, chunk.Error);
            _current = chunk.Buffer;
            _pos = 0;
            _len = chunk.Length;
            if (_len == 0) { _eof = true; ArrayPool<byte>.Shared.Return(_current); _current = null; return 0; }
        }
        int n = Math.Min(buffer.Length, _len - _pos);
        _current.AsSpan(_pos, n).CopyTo(buffer);
        _pos += n;
        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stop.Cancel();
            try { _producer.GetAwaiter().GetResult(); } catch (Exception) { }
            if (_current is not null) { ArrayPool<byte>.Shared.Return(_current); _current = null; }
            while (_chunks.Reader.TryRead(out var c)) if (c.Buffer.Length > 0) ArrayPool<byte>.Shared.Return(c.Buffer);
            _stop.Dispose();
        }
        base.Dispose(disposing);
    }
}
