using System.Threading.Channels;

namespace Skiff.Daemon;

/// <summary>
/// One engine event, as Docker's /events reports it: the object type (<c>container</c>, <c>image</c>,
/// <c>network</c>, <c>volume</c>, ...), the action (<c>start</c>, <c>die</c>, <c>exec_start: sh</c>, ...),
/// the actor's ID and attributes (for containers: image, name, labels, and per action exitCode,
/// signal...), and the time in nanoseconds since the Unix epoch.
/// </summary>
public sealed record EngineEvent(string Type, string Action, string ActorId, IReadOnlyDictionary<string, string> Attributes, long TimeNano)
{
    public long Time => TimeNano / 1_000_000_000;
}

/// <summary>
/// The daemon's in-memory event bus. Publishing never blocks: each subscriber has an unbounded
/// queue that its reader drains. The last <see cref="Capacity"/> events are kept in a ring buffer
/// so that a subscriber with a <c>since</c> time in the past replays them; older ones are gone, as
/// in Docker (which keeps 256). Other parts of the daemon (networks, volumes, images) publish
/// through <see cref="Publish"/>.
/// </summary>
public sealed class EventBus
{
    /// <summary>How many past events are kept for <c>since</c>.</summary>
    public const int Capacity = 1024;

    private readonly EngineEvent?[] _ring = new EngineEvent?[Capacity];
    private int _next;
    private int _count;
    private long _lastNano;
    private readonly List<Channel<EngineEvent>> _subscribers = [];
    private readonly object _lock = new();

    /// <summary>Publishes an event now; times are strictly increasing so that since/until are exact.</summary>
    public EngineEvent Publish(string type, string action, string actorId, IReadOnlyDictionary<string, string>? attributes = null)
    {
        lock (_lock)
        {
            var now = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;
            if (now <= _lastNano) now = _lastNano + 1;
            _lastNano = now;
            var e = new EngineEvent(type, action, actorId, attributes ?? new Dictionary<string, string>(), now);
            _ring[_next] = e;
            _next = (_next + 1) % Capacity;
            if (_count < Capacity) _count++;
            foreach (var s in _subscribers) s.Writer.TryWrite(e);
            return e;
        }
    }

    /// <summary>
    /// Subscribes: returns the kept events at or after <paramref name="sinceNano"/> (none when null)
    /// and a reader of every event published from then on, with no gap or duplicate between them.
    /// Dispose the subscription to stop receiving.
    /// </summary>
    public EventSubscription Subscribe(long? sinceNano)
    {
        var channel = Channel.CreateUnbounded<EngineEvent>(new UnboundedChannelOptions { SingleReader = true });
        var past = new List<EngineEvent>();
        lock (_lock)
        {
            if (sinceNano is { } since)
            {
                for (var i = 0; i < _count; i++)
                {
                    var e = _ring[(_next - _count + i + Capacity) % Capacity]!;
                    if (e.TimeNano >= since) past.Add(e);
                }
            }
            _subscribers.Add(channel);
        }
        return new EventSubscription(past, channel.Reader, () =>
        {
            lock (_lock) _subscribers.Remove(channel);
            channel.Writer.TryComplete();
        });
    }
}

/// <summary>A live subscription to the <see cref="EventBus"/>: the replayed past, then the live reader.</summary>
public sealed class EventSubscription(IReadOnlyList<EngineEvent> past, ChannelReader<EngineEvent> live, Action unsubscribe) : IDisposable
{
    public IReadOnlyList<EngineEvent> Past { get; } = past;
    public ChannelReader<EngineEvent> Live { get; } = live;
    public void Dispose() => unsubscribe();
}

public sealed partial class Daemon
{
    /// <summary>The engine's event bus (Docker's /events).</summary>
    public EventBus Events { get; } = new();

    /// <summary>A container event with Docker's attributes: the image, the name, the labels, then <paramref name="extra"/>.</summary>
    internal void PublishContainer(Container c, string action, params (string Key, string Value)[] extra)
    {
        var attrs = new Dictionary<string, string>();
        foreach (var (k, v) in c.Record.Config.Labels) attrs[k] = v;
        attrs["image"] = c.Record.Config.Image;
        attrs["name"] = c.Name;
        foreach (var (k, v) in extra) attrs[k] = v;
        Events.Publish("container", action, c.Id, attrs);
    }

    /// <summary>An image event; the actor is the image ID (or the reference for untag/delete of a name), with its name.</summary>
    public void PublishImage(string action, string id, string name) =>
        Events.Publish("image", action, id, new Dictionary<string, string> { ["name"] = name });
}
