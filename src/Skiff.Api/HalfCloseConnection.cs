using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace Skiff.Api;

/// <summary>
/// Lets hijacked (upgraded) connections survive a client half-close. The Docker CLI closes its
/// write side of an attach connection when it has no stdin to send, while it still reads the
/// container's output; Kestrel treats the peer's FIN as the connection closing and aborts the
/// output. This wrapper hides that signal from the HTTP layer once a handler has marked the
/// connection as hijacked: the upgraded stream still reads end-of-input, and the connection ends
/// when the handler returns.
/// </summary>
internal sealed class HalfCloseConnection : ConnectionContext
{
    public const string ItemKey = "skiff.hijack";
    private readonly ConnectionContext _inner;
    private readonly CancellationTokenSource _closed = new();
    private readonly HijackFlag _flag = new();

    private HalfCloseConnection(ConnectionContext inner)
    {
        _inner = inner;
        _flag.Connection = inner;
        inner.Items[ItemKey] = _flag;
        inner.ConnectionClosed.Register(() => { if (!_flag.Hijacked) _closed.Cancel(); });
    }

    /// <summary>Connection middleware for a Kestrel listener.</summary>
    public static Func<ConnectionDelegate, ConnectionDelegate> Middleware => next => async ctx =>
    {
        var wrapped = new HalfCloseConnection(ctx);
        try
        {
            await next(wrapped).ConfigureAwait(false);
        }
        finally
        {
            wrapped._closed.Dispose();
        }
    };

    /// <summary>Marks the connection of a request as hijacked, before the upgrade.</summary>
    public static void MarkHijacked(Microsoft.AspNetCore.Http.HttpContext http)
    {
        var items = http.Features.Get<IConnectionItemsFeature>()?.Items;
        if (items is not null && items.TryGetValue(ItemKey, out var value) && value is HijackFlag flag) flag.Hijacked = true;
    }

    /// <summary>Whether <see cref="HijackAsync"/> can take the raw connection of this request.</summary>
    public static bool CanHijack(Microsoft.AspNetCore.Http.HttpContext http) =>
        http.Features.Get<IConnectionItemsFeature>()?.Items is { } items && items.TryGetValue(ItemKey, out var value) && value is HijackFlag { Connection: not null };

    /// <summary>
    /// Takes the raw connection of a request Kestrel will not upgrade (it refuses upgrades of
    /// requests with a body, and the Docker CLI sends exec start with one; a request without an
    /// <c>Upgrade</c> header is no upgrade at all): writes the answer itself and returns the raw byte
    /// stream. As Docker does, a request that asked for an upgrade gets <c>101 UPGRADED</c>; one that
    /// did not (older clients such as Docker.DotNet 3.x) gets <c>200 OK</c> with neither a length nor
    /// chunking, and the connection carries the raw stream both ways until it closes. The caller must
    /// call <see cref="EndHijackAsync"/> when done, which closes the connection so Kestrel writes no
    /// response of its own.
    /// </summary>
    public static async Task<Stream?> HijackAsync(Microsoft.AspNetCore.Http.HttpContext http, string contentType)
    {
        var items = http.Features.Get<IConnectionItemsFeature>()?.Items;
        if (items is null || !items.TryGetValue(ItemKey, out var value) || value is not HijackFlag flag || flag.Connection is null) return null;
        flag.Hijacked = true;
        var transport = flag.Connection.Transport;
        var head = System.Text.Encoding.ASCII.GetBytes(http.Request.Headers.Upgrade.Count > 0
            ? $"HTTP/1.1 101 UPGRADED\r\nContent-Type: {contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: {ApiVersion.Current}\r\n\r\n"
            : $"HTTP/1.1 200 OK\r\nContent-Type: {contentType}\r\nApi-Version: {ApiVersion.Current}\r\n\r\n");
        await transport.Output.WriteAsync(head).ConfigureAwait(false);
        return new RawStream(transport);
    }

    /// <summary>
    /// Ends a hijacked connection: completing the output lets the transport send what is buffered
    /// and then close; Kestrel's own response for the request has nowhere to go.
    /// </summary>
    public static async Task EndHijackAsync(Microsoft.AspNetCore.Http.HttpContext http)
    {
        var items = http.Features.Get<IConnectionItemsFeature>()?.Items;
        if (items is not null && items.TryGetValue(ItemKey, out var value) && value is HijackFlag { Connection: { } c })
            await c.Transport.Output.CompleteAsync().ConfigureAwait(false);
    }

    private sealed class HijackFlag
    {
        public volatile bool Hijacked;
        public ConnectionContext? Connection;
    }

    /// <summary>The raw bytes of a hijacked connection, both ways.</summary>
    private sealed class RawStream(IDuplexPipe pipe) : Stream
    {
        private readonly Stream _in = pipe.Input.AsStream(leaveOpen: true);
        private readonly Stream _out = pipe.Output.AsStream(leaveOpen: true);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => _out.Flush();
        public override Task FlushAsync(CancellationToken ct) => _out.FlushAsync(ct);
        public override int Read(byte[] buffer, int offset, int count) => _in.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => _in.ReadAsync(buffer, ct);
        public override void Write(byte[] buffer, int offset, int count) => _out.Write(buffer, offset, count);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default) => _out.WriteAsync(buffer, ct);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    public override string ConnectionId { get => _inner.ConnectionId; set => _inner.ConnectionId = value; }
    public override IFeatureCollection Features => _inner.Features;
    public override IDictionary<object, object?> Items { get => _inner.Items; set => _inner.Items = value; }
    public override IDuplexPipe Transport { get => _inner.Transport; set => _inner.Transport = value; }
    public override CancellationToken ConnectionClosed { get => _closed.Token; set { } }
    public override EndPoint? LocalEndPoint { get => _inner.LocalEndPoint; set => _inner.LocalEndPoint = value; }
    public override EndPoint? RemoteEndPoint { get => _inner.RemoteEndPoint; set => _inner.RemoteEndPoint = value; }
    public override void Abort(ConnectionAbortedException abortReason) => _inner.Abort(abortReason);
    public override void Abort() => _inner.Abort();
    public override ValueTask DisposeAsync() => _inner.DisposeAsync();
}
