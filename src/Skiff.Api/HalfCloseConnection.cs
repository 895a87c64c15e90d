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

    private sealed class HijackFlag
    {
        public volatile bool Hijacked;
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
