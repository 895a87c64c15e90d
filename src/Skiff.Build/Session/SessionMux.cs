using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Skiff.Build.Session;

/// <summary>
/// Many byte streams over one connection (a build session: the client's hijacked <c>POST /build/session</c>), so the
/// daemon can open connections to things only the client can reach (its SSH agents) while the client and the daemon
/// talk over nothing but the API connection. Compiled into skiffd (Skiff.Build) and the CLI (Skiff.Client, linked).
/// <para>Frames: stream id (u32, big-endian), kind (u8), payload length (u32, big-endian), payload. Kinds:
/// <see cref="KindOpen"/> (daemon to client; payload: the UTF-8 name of what to connect to), <see cref="KindData"/>,
/// <see cref="KindEof"/> (the sender writes no more on that stream: a half-close) and <see cref="KindClose"/> (the
/// sender is done with the stream, or could not open it; the receiver drops it). Streams are opened only by the daemon,
/// so ids never collide. A receiver writes each data frame to its local socket before it reads the next frame: a slow
/// reader slows the session down instead of buffering without bound.</para>
/// </summary>
public sealed class SessionMux : IAsyncDisposable
{
    public const byte KindOpen = 1, KindData = 2, KindEof = 3, KindClose = 4;
    private const int MaxPayload = 1 << 20;
    private const int ChunkSize = 32 * 1024;

    private readonly Stream _transport;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<uint, SessionStream> _streams = new();
    private readonly Func<string, Task<Socket?>>? _connect;
    private readonly CancellationTokenSource _done = new();
    private int _next;

    /// <param name="transport">The session's connection.</param>
    /// <param name="connect">The client side: connects a stream the daemon opens to the local socket its name stands for (null: refused).
    /// Null on the daemon side, which opens streams with <see cref="OpenAsync"/> instead.</param>
    public SessionMux(Stream transport, Func<string, Task<Socket?>>? connect)
    {
        _transport = transport;
        _connect = connect;
    }

    /// <summary>Cancelled once the session's connection ended.</summary>
    public CancellationToken Ended => _done.Token;

    /// <summary>Reads frames until the connection ends; then every open stream reads end-of-stream.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        var head = new byte[9];
        try
        {
            while (true)
            {
                if (!await ReadExactAsync(head, ct).ConfigureAwait(false)) break;
                uint id = BinaryPrimitives.ReadUInt32BigEndian(head);
                byte kind = head[4];
                int length = BinaryPrimitives.ReadInt32BigEndian(head.AsSpan(5));
                if (length is < 0 or > MaxPayload) throw new InvalidDataException($"session frame of {length} bytes");
                var payload = new byte[length];
                if (length > 0 && !await ReadExactAsync(payload, ct).ConfigureAwait(false)) break;
                switch (kind)
                {
                    case KindOpen when _connect is not null:
                        _ = AcceptAsync(id, System.Text.Encoding.UTF8.GetString(payload));
                        break;
                    case KindData:
                        if (_streams.TryGetValue(id, out var s)) await s.DeliverAsync(payload, ct).ConfigureAwait(false);
                        break;
                    case KindEof:
                        if (_streams.TryGetValue(id, out var e)) e.RemoteEof();
                        break;
                    case KindClose:
                        if (_streams.TryRemove(id, out var c)) c.RemoteClosed();
                        break;
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidDataException)
        {
        }
        finally
        {
            _done.Cancel();
            foreach (var id in _streams.Keys)
                if (_streams.TryRemove(id, out var s)) s.RemoteClosed();
        }
    }

    /// <summary>The daemon side: opens a stream to <paramref name="name"/> on the client.</summary>
    public async Task<SessionStream> OpenAsync(string name, CancellationToken ct)
    {
        uint id = (uint)Interlocked.Increment(ref _next);
        var s = new SessionStream(this, id);
        _streams[id] = s;
        await SendAsync(id, KindOpen, System.Text.Encoding.UTF8.GetBytes(name), ct).ConfigureAwait(false);
        return s;
    }

    private async Task AcceptAsync(uint id, string name)
    {
        Socket? local = null;
        try { local = await _connect!(name).ConfigureAwait(false); }
        catch (Exception e) when (e is SocketException or IOException or ArgumentException) { }
        if (local is null)
        {
            try { await SendAsync(id, KindClose, default, CancellationToken.None).ConfigureAwait(false); }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { }
            return;
        }
        var s = new SessionStream(this, id);
        _streams[id] = s;
        await PumpAsync(local, s).ConfigureAwait(false);
    }

    internal async Task SendAsync(uint id, byte kind, ReadOnlyMemory<byte> payload, CancellationToken ct)
    {
        var head = new byte[9];
        BinaryPrimitives.WriteUInt32BigEndian(head, id);
        head[4] = kind;
        BinaryPrimitives.WriteInt32BigEndian(head.AsSpan(5), payload.Length);
        await _writeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await _transport.WriteAsync(head, ct).ConfigureAwait(false);
            if (!payload.IsEmpty) await _transport.WriteAsync(payload, ct).ConfigureAwait(false);
            await _transport.FlushAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    internal void Forget(uint id) => _streams.TryRemove(id, out _);

    private async Task<bool> ReadExactAsync(byte[] buffer, CancellationToken ct)
    {
        int n = 0;
        while (n < buffer.Length)
        {
            int r = await _transport.ReadAsync(buffer.AsMemory(n), ct).ConfigureAwait(false);
            if (r == 0) return false;
            n += r;
        }
        return true;
    }

    /// <summary>
    /// Copies between a local socket and a session stream in both directions, passing half-closes on, until both
    /// directions ended; then closes both.
    /// </summary>
    public static async Task PumpAsync(Socket local, Stream remote)
    {
        var toRemote = Task.Run(async () =>
        {
            var buffer = new byte[ChunkSize];
            try
            {
                int n;
                while ((n = await local.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false)) > 0)
                    await remote.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
                if (remote is SessionStream m) await m.CloseWriteAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
            }
        });
        var toLocal = Task.Run(async () =>
        {
            var buffer = new byte[ChunkSize];
            try
            {
                int n;
                while ((n = await remote.ReadAsync(buffer).ConfigureAwait(false)) > 0)
                {
                    var data = buffer.AsMemory(0, n);
                    while (!data.IsEmpty) data = data[await local.SendAsync(data, SocketFlags.None).ConfigureAwait(false)..];
                }
                local.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
            }
        });
        await Task.WhenAll(toRemote, toLocal).ConfigureAwait(false);
        local.Dispose();
        await remote.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Closes the connection: <see cref="RunAsync"/> ends and every stream reads end-of-stream.</summary>
    public async ValueTask DisposeAsync() => await _transport.DisposeAsync().ConfigureAwait(false);

    /// <summary>One stream of the session: reads what the peer sent, writes data frames; <see cref="CloseWriteAsync"/> half-closes.</summary>
    public sealed class SessionStream : Stream
    {
        private readonly SessionMux _mux;
        private readonly uint _id;

        internal SessionStream(SessionMux mux, uint id)
        {
            _mux = mux;
            _id = id;
        }

        private readonly Channel<byte[]> _incoming = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(16) { SingleReader = true, SingleWriter = true });
        private byte[] _current = [];
        private int _pos;
        private bool _writeClosed;
        private int _disposed;

        internal async ValueTask DeliverAsync(byte[] data, CancellationToken ct)
        {
            try { await _incoming.Writer.WriteAsync(data, ct).ConfigureAwait(false); }
            catch (ChannelClosedException) { }
        }

        internal void RemoteEof() => _incoming.Writer.TryComplete();

        internal void RemoteClosed()
        {
            _writeClosed = true;
            _incoming.Writer.TryComplete();
        }

        /// <summary>Tells the peer no more data comes on this stream (it reads end-of-stream); reading goes on.</summary>
        public async Task CloseWriteAsync()
        {
            if (_writeClosed) return;
            _writeClosed = true;
            await _mux.SendAsync(_id, KindEof, default, CancellationToken.None).ConfigureAwait(false);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (_pos == _current.Length)
            {
                if (!await _incoming.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false)) return 0;
                if (_incoming.Reader.TryRead(out var next)) { _current = next; _pos = 0; }
            }
            int n = Math.Min(buffer.Length, _current.Length - _pos);
            _current.AsMemory(_pos, n).CopyTo(buffer);
            _pos += n;
            return n;
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_writeClosed) throw new IOException("the session stream is closed");
            while (!buffer.IsEmpty)
            {
                var chunk = buffer[..Math.Min(buffer.Length, ChunkSize)];
                await _mux.SendAsync(_id, KindData, chunk, cancellationToken).ConfigureAwait(false);
                buffer = buffer[chunk.Length..];
            }
        }

        public override async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            _mux.Forget(_id);
            _incoming.Writer.TryComplete();
            try { await _mux.SendAsync(_id, KindClose, default, CancellationToken.None).ConfigureAwait(false); }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) DisposeAsync().AsTask().GetAwaiter().GetResult();
            base.Dispose(disposing);
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override void Flush() { }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
