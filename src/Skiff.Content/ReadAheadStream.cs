using System.Buffers;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;

namespace Skiff.Content;

/// <summary>
/// Reads a source stream ahead, on a task or a thread of its own, in chunks (1 MiB by default, at most <c>depth</c> of
/// them waiting) for a consumer such as a decompressor feeding a tar extractor. This makes a two-stage pipeline out of
/// one stream: every chunk goes through <see cref="ChunkHandler"/> on the reading side (hashing the bytes, counting them,
/// copying them to a file) while the consumer works on the chunks before it on its own thread.
/// </summary>
/// <remarks>
/// The source is read either with <c>ReadAsync</c> on the thread pool (a server's request body, which allows no
/// synchronous reads) or, with <c>synchronous</c>, with blocking reads on a dedicated thread (an HTTP response body or
/// another stage: no thread-pool hop per socket read and no worker spinning between them). An exception of the source or
/// of the handler reaches the consumer, unchanged, at the read that would have returned the failed chunk. Disposing stops
/// the reading and waits for it; a synchronous read in progress ends only when the source returns (disposing an owned
/// source first unblocks it). Reads are not thread-safe: one consumer.
/// </remarks>
public sealed class ReadAheadStream : Stream
{
    /// <summary>Sees every chunk, in order, on the reading task, before the consumer can read it.</summary>
    public delegate void ChunkHandler(ReadOnlySpan<byte> chunk);

    private readonly Channel<(byte[] Buffer, int Length, ExceptionDispatchInfo? Error)> _chunks;
    private readonly CancellationTokenSource _stop;
    private readonly Task _producer;
    private readonly int _chunkSize;
    private byte[]? _current;
    private int _pos, _len;
    private bool _eof;

    /// <param name="source">Read to its end (or until disposal); disposed with this stream when <paramref name="ownsSource"/>.</param>
    /// <param name="onChunk">Optional; runs for each chunk read, on the reading side.</param>
    /// <param name="synchronous">Read with blocking reads on a dedicated thread instead of <c>ReadAsync</c> on the thread pool.</param>
    /// <param name="cancel">Stops the reading too (its cancellation reaches the consumer as an <see cref="OperationCanceledException"/>).</param>
    public ReadAheadStream(Stream source, ChunkHandler? onChunk = null, int chunkSize = 1 << 20, int depth = 4, bool ownsSource = false,
        bool synchronous = false, CancellationToken cancel = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        _chunkSize = chunkSize;
        _source = source;
        _ownsSource = ownsSource;
        _chunks = Channel.CreateBounded<(byte[], int, ExceptionDispatchInfo?)>(new BoundedChannelOptions(depth) { SingleReader = true, SingleWriter = true });
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        if (!synchronous)
        {
            _producer = Task.Run(() => ProduceAsync(onChunk, synchronous: false, _stop.Token));
            return;
        }
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _producer = done.Task;
        var token = _stop.Token;
        new Thread(() =>
        {
            try { ProduceAsync(onChunk, synchronous: true, token).GetAwaiter().GetResult(); }
            catch (Exception) { }
            finally { done.SetResult(); }
        }, 256 << 10) { IsBackground = true, Name = "read-ahead" }.Start();
    }

    private readonly Stream _source;
    private readonly bool _ownsSource;

    /// <summary>
    /// The reading loop. Synchronous, it only blocks (reads, and writes to a full queue) and never yields its thread;
    /// asynchronous, it awaits both.
    /// </summary>
    private async Task ProduceAsync(ChunkHandler? onChunk, bool synchronous, CancellationToken ct)
    {
        var source = _source;
        try
        {
            while (true)
            {
                byte[] buffer = ArrayPool<byte>.Shared.Rent(_chunkSize);
                int filled = 0;
                try
                {
                    while (filled < _chunkSize)
                    {
                        int n;
                        if (synchronous)
                        {
                            ct.ThrowIfCancellationRequested();
                            n = source.Read(buffer.AsSpan(filled, _chunkSize - filled));
                        }
                        else n = await source.ReadAsync(buffer.AsMemory(filled, _chunkSize - filled), ct).ConfigureAwait(false);
                        if (n == 0) break;
                        filled += n;
                    }
                    if (filled == 0)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        return;
                    }
                    onChunk?.Invoke(buffer.AsSpan(0, filled));
                    if (!_chunks.Writer.TryWrite((buffer, filled, null)))
                    {
                        var write = _chunks.Writer.WriteAsync((buffer, filled, null), ct);
                        if (synchronous) write.AsTask().GetAwaiter().GetResult();
                        else await write.ConfigureAwait(false);
                    }
                }
                catch (Exception e)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    // After Dispose nobody reads; otherwise the failure (a cancellation of the caller's token included)
                    // is what the consumer's next read throws. Dispose empties the queue, so there is room.
                    if (!_disposing)
                        await _chunks.Writer.WriteAsync((Array.Empty<byte>(), 0, ExceptionDispatchInfo.Capture(e)), CancellationToken.None).ConfigureAwait(false);
                    return;
                }
                if (filled < _chunkSize) return;
            }
        }
        finally
        {
            _chunks.Writer.TryComplete();
            if (_ownsSource) source.Dispose();
        }
    }

    private volatile bool _disposing;

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
        if (!NextChunk()) return 0;
        int n = Math.Min(buffer.Length, _len - _pos);
        _current.AsSpan(_pos, n).CopyTo(buffer);
        _pos += n;
        return n;
    }

    /// <summary>
    /// Completes at once when a chunk is waiting (the usual case for a consumer slower than the source), so that an
    /// asynchronous consumer reading a few KiB at a time (a decompressor) costs no task per read.
    /// </summary>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if ((_current is not null && _pos < _len) || _eof || _chunks.Reader.TryPeek(out _))
            return ValueTask.FromResult(Read(buffer.Span));
        return ReadSlowAsync(buffer, cancellationToken);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private async ValueTask<int> ReadSlowAsync(Memory<byte> buffer, CancellationToken ct)
    {
        await _chunks.Reader.WaitToReadAsync(ct).ConfigureAwait(false);
        return Read(buffer.Span);
    }

    /// <summary>Reads and discards the rest of the source (so that <see cref="ChunkHandler"/> saw all of it).</summary>
    public void DrainToEnd()
    {
        while (NextChunk()) _pos = _len;
    }

    /// <summary>Makes <c>_current</c> a chunk with unread bytes; false at the end of the source.</summary>
    private bool NextChunk()
    {
        while (_current is null || _pos == _len)
        {
            if (_eof) return false;
            if (_current is not null) { ArrayPool<byte>.Shared.Return(_current); _current = null; }
            var reader = _chunks.Reader;
            if (!reader.TryRead(out var chunk))
            {
                if (!reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult() || !reader.TryRead(out chunk)) { _eof = true; return false; }
            }
            if (chunk.Error is not null)
            {
                _eof = true;
                chunk.Error.Throw();
            }
            _current = chunk.Buffer;
            _pos = 0;
            _len = chunk.Length;
        }
        return true;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposing)
        {
            _disposing = true;
            _stop.Cancel();
            // Frees a producer waiting for room in the queue, and one blocked reading an owned source.
            while (_chunks.Reader.TryRead(out var c)) if (c.Buffer.Length > 0) ArrayPool<byte>.Shared.Return(c.Buffer);
            if (_ownsSource && !_producer.IsCompleted) try { _source.Dispose(); } catch (Exception) { }
            try { _producer.GetAwaiter().GetResult(); } catch (Exception) { }
            if (_current is not null) { ArrayPool<byte>.Shared.Return(_current); _current = null; }
            while (_chunks.Reader.TryRead(out var c)) if (c.Buffer.Length > 0) ArrayPool<byte>.Shared.Return(c.Buffer);
            _stop.Dispose();
        }
        base.Dispose(disposing);
    }
}
