using System.Collections.Concurrent;

namespace Skiff.Daemon;

/// <summary>
/// The daemon's containers by ID and by name. Lookups accept a full ID, a unique ID prefix, or a
/// name (with or without Docker's leading slash), in Docker's order: exact ID, exact name, prefix.
/// </summary>
public sealed class ContainerStore
{
    private readonly ConcurrentDictionary<string, Container> _byId = new();
    private readonly ConcurrentDictionary<string, string> _names = new();

    public IReadOnlyCollection<Container> All => (IReadOnlyCollection<Container>)_byId.Values;

    internal bool NameTaken(string name) => _names.ContainsKey(name);

    internal void Add(Container c)
    {
        if (!_names.TryAdd(c.Name, c.Id))
        {
            var other = _names[c.Name];
            throw DaemonException.Conflict(
                $"Conflict. The container name \"/{c.Name}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name.");
        }
        _byId[c.Id] = c;
    }

    internal void Remove(Container c)
    {
        _byId.TryRemove(c.Id, out _);
        _names.TryRemove(new KeyValuePair<string, string>(c.Name, c.Id));
    }

    internal void Rename(Container c, string newName)
    {
        if (!_names.TryAdd(newName, c.Id))
            throw DaemonException.Conflict($"Conflict. The container name \"/{newName}\" is already in use by container \"{_names[newName]}\". You have to remove (or rename) that container to be able to reuse that name.");
        _names.TryRemove(new KeyValuePair<string, string>(c.Name, c.Id));
        c.Record.Name = newName;
    }

    public Container? Find(string idOrName)
    {
        if (string.IsNullOrEmpty(idOrName)) return null;
        if (_byId.TryGetValue(idOrName, out var c)) return c;
        var name = idOrName.TrimStart('/');
        if (_names.TryGetValue(name, out var id) && _byId.TryGetValue(id, out c)) return c;
        Container? match = null;
        foreach (var candidate in _byId.Values)
        {
            if (!candidate.Id.StartsWith(idOrName, StringComparison.Ordinal)) continue;
            if (match is not null) throw DaemonException.Invalid($"multiple containers found with provided prefix: {idOrName}");
            match = candidate;
        }
        return match;
    }

    public Container Get(string idOrName) =>
        Find(idOrName) ?? throw DaemonException.NotFound($"No such container: {idOrName}");
}
