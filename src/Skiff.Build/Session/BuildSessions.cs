using System.Collections.Concurrent;

namespace Skiff.Build.Session;

/// <summary>What a RUN step's <c>--mount=type=ssh</c> connects to: the client's SSH agents, by id.</summary>
public interface ISshAgentSource
{
    /// <summary>Whether the client forwards an agent under <paramref name="id"/> (<c>skiff build --ssh id=...</c>).</summary>
    bool Has(string id);

    /// <summary>A new connection to that agent (one per connection the build step makes to its socket).</summary>
    Task<Stream> ConnectAsync(string id, CancellationToken ct);
}

/// <summary>
/// One client's build session: the connection the client keeps open while its build runs, and the SSH agent ids it
/// offers. Builds name the session (<c>POST /build?session=ID</c>) to reach the agents through it. A session is
/// registered before its connection is taken over (so a build the client sends right after the answer finds it) and
/// gets its <see cref="SessionMux"/> once the connection is a raw stream; connections wait for that.
/// </summary>
public sealed class BuildSession(string id, IReadOnlyCollection<string> sshIds) : ISshAgentSource
{
    private readonly TaskCompletionSource<SessionMux> _mux = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _ended;

    public string Id { get; } = id;

    /// <summary>The session's connection is ready.</summary>
    public void Attach(SessionMux mux) => _mux.TrySetResult(mux);

    /// <summary>The session's connection ended (or never came): agents are gone.</summary>
    public void End()
    {
        _ended = true;
        _mux.TrySetException(new IOException("the client's build session ended"));
    }

    public bool Has(string sshId) => !_ended && sshIds.Contains(sshId);

    public async Task<Stream> ConnectAsync(string sshId, CancellationToken ct)
    {
        if (_ended) throw new IOException("the client's build session ended");
        var mux = await _mux.Task.WaitAsync(ct).ConfigureAwait(false);
        if (mux.Ended.IsCancellationRequested) throw new IOException("the client's build session ended");
        return await mux.OpenAsync("ssh:" + sshId, ct).ConfigureAwait(false);
    }
}

/// <summary>The sessions of connected clients, by id (daemon-wide).</summary>
public sealed class BuildSessions
{
    private readonly ConcurrentDictionary<string, BuildSession> _sessions = new(StringComparer.Ordinal);

    /// <exception cref="ArgumentException">The id is already in use.</exception>
    public BuildSession Register(string id, IReadOnlyCollection<string> sshIds)
    {
        var session = new BuildSession(id, sshIds);
        if (!_sessions.TryAdd(id, session)) throw new ArgumentException($"build session {id} already exists");
        return session;
    }

    /// <summary>Ends and forgets a session.</summary>
    public void Remove(BuildSession session)
    {
        session.End();
        _sessions.TryRemove(new KeyValuePair<string, BuildSession>(session.Id, session));
    }

    public BuildSession? Find(string? id) => id is not null && _sessions.TryGetValue(id, out var s) ? s : null;
}
