using System.Text.RegularExpressions;
using Skiff.Volumes;

namespace Skiff.Daemon;

public sealed partial class Daemon
{
    /// <summary>Serialises volume removal against container creation, so a volume a new container is about to reference cannot vanish.</summary>
    private readonly object _volumesLock = new();

    /// <summary>Creates a volume (or returns the existing one of that name); an empty name makes an anonymous volume.</summary>
    public Volume CreateVolume(string? name, string? driver, IReadOnlyDictionary<string, string>? labels, IReadOnlyDictionary<string, string>? options) =>
        VolumeGuard(() => Volumes.Create(name, driver, labels, options));

    public Volume GetVolume(string name) => VolumeGuard(() => Volumes.Get(name));

    /// <summary>IDs of the containers (any state) whose mounts reference the volume.</summary>
    public IReadOnlyList<string> VolumeUsers(string name) =>
        Containers.All.Where(c => c.Record.MountPoints.Any(m => m.Type == "volume" && m.Name == name)).Select(c => c.Id).ToList();

    /// <summary>
    /// Volumes matching Docker's list filters: <c>name</c> (a regular expression, so a plain text is a
    /// substring), <c>driver</c>, <c>label</c> (<c>key</c> or <c>key=value</c>) and <c>dangling</c>
    /// (referenced by no container).
    /// </summary>
    public IReadOnlyList<Volume> ListVolumes(IReadOnlyDictionary<string, List<string>> filters)
    {
        foreach (var key in filters.Keys)
            if (key is not ("name" or "driver" or "label" or "dangling")) throw DaemonException.Invalid($"invalid filter '{key}'");
        bool? dangling = null;
        if (filters.TryGetValue("dangling", out var d) && d.Count > 0)
        {
            foreach (var v in d)
            {
                bool value = v.ToLowerInvariant() switch
                {
                    "true" or "1" => true,
                    "false" or "0" => false,
                    _ => throw DaemonException.Invalid($"invalid filter 'dangling={v}'"),
                };
                dangling = value;
            }
        }
        var used = UsedVolumes();
        return Volumes.List().Where(v =>
            (!filters.TryGetValue("name", out var names) || names.Count == 0 || names.Any(n => MatchName(n, v.Name))) &&
            (!filters.TryGetValue("driver", out var drivers) || drivers.Count == 0 || drivers.Contains(v.Driver)) &&
            (!filters.TryGetValue("label", out var labels) || labels.All(l => HasLabel(v.Labels, l))) &&
            (dangling is null || dangling == !used.Contains(v.Name))).ToList();
    }

    /// <summary>Removes a volume; one referenced by a container is refused (Conflict) even with <paramref name="force"/>, which only ignores a missing volume.</summary>
    public void RemoveVolume(string name, bool force)
    {
        lock (_volumesLock)
        {
            if (Volumes.Find(name) is null)
            {
                if (force) return;
                throw DaemonException.NotFound($"get {name}: no such volume");
            }
            var users = VolumeUsers(name);
            if (users.Count > 0) throw DaemonException.Conflict($"remove {name}: volume is in use - [{string.Join(", ", users)}]");
            VolumeGuard(() => { Volumes.Remove(name); return 0; });
        }
    }

    /// <summary>
    /// Removes volumes no container references. Only anonymous ones unless <paramref name="allByDefault"/>
    /// (API &lt; 1.42) or the filter <c>all=true</c>; <c>label</c> and <c>label!</c> filters narrow the set.
    /// Returns the removed names and the bytes their data held.
    /// </summary>
    public (List<string> Deleted, long SpaceReclaimed) PruneVolumes(IReadOnlyDictionary<string, List<string>> filters, bool allByDefault)
    {
        foreach (var key in filters.Keys)
            if (key is not ("label" or "label!" or "all")) throw DaemonException.Invalid($"invalid filter '{key}'");
        bool all = allByDefault;
        if (filters.TryGetValue("all", out var a) && a.Count > 0)
        {
            all = a[^1].ToLowerInvariant() switch
            {
                "true" or "1" => true,
                "false" or "0" => false,
                _ => throw DaemonException.Invalid($"invalid filter 'all={a[^1]}'"),
            };
        }
        var deleted = new List<string>();
        long space = 0;
        lock (_volumesLock)
        {
            var used = UsedVolumes();
            foreach (var v in Volumes.List())
            {
                if (used.Contains(v.Name) || !all && !v.Anonymous) continue;
                if (filters.TryGetValue("label", out var labels) && !labels.All(l => HasLabel(v.Labels, l))) continue;
                if (filters.TryGetValue("label!", out var notLabels) && notLabels.Any(l => HasLabel(v.Labels, l))) continue;
                long size = VolumeStore.Size(v);
                try
                {
                    Volumes.Remove(v.Name);
                }
                catch (VolumeException)
                {
                    continue;
                }
                deleted.Add(v.Name);
                space += size;
            }
        }
        return (deleted, space);
    }

    /// <summary>After a container is removed with <c>-v</c> (or <c>--rm</c>): its anonymous volumes that no other container references.</summary>
    private void RemoveAnonymousVolumes(ContainerRecord r)
    {
        lock (_volumesLock)
        {
            var used = UsedVolumes();
            foreach (var m in r.MountPoints)
            {
                if (m.Type != "volume" || used.Contains(m.Name) || Volumes.Find(m.Name) is not { Anonymous: true }) continue;
                try { Volumes.Remove(m.Name); }
                catch (VolumeException) { }
            }
        }
    }

    /// <summary>Volumes created for a container whose create failed.</summary>
    private void RemoveCreatedVolumes(List<string> names)
    {
        var used = UsedVolumes();
        foreach (var name in names)
        {
            if (used.Contains(name)) continue;
            try { Volumes.Remove(name); }
            catch (VolumeException) { }
        }
    }

    /// <summary>Mounts of running containers are taken again after a daemon restart; device mounts nobody holds are undone.</summary>
    private void RestoreVolumeMounts()
    {
        foreach (var c in Containers.All)
        {
            // Records written before mounts were resolved at create hold only absolute binds: resolve them now.
            if (c.Record.MountPoints.Count == 0 && c.Record.HostConfig.Binds.Count > 0)
            {
                try
                {
                    c.Record.MountPoints = c.Record.HostConfig.Binds.Where(b => b.StartsWith('/')).Select(b => ParseBind(b, [])).ToList();
                    c.Save();
                }
                catch (DaemonException e)
                {
                    Console.Error.WriteLine($"skiffd: mounts of {c.Id}: {e.Message}");
                }
            }
            if (!c.Record.State.Running) continue;
            foreach (var m in c.Record.MountPoints)
            {
                if (m.Type != "volume" || Volumes.Find(m.Name) is null) continue;
                try { Volumes.Mount(m.Name, c.Id); }
                catch (VolumeException e) { Console.Error.WriteLine($"skiffd: volume {m.Name} of {c.Id}: {e.Message}"); }
            }
        }
        Volumes.UnmountUnused();
    }

    private HashSet<string> UsedVolumes() =>
        Containers.All.SelectMany(c => c.Record.MountPoints).Where(m => m.Type == "volume").Select(m => m.Name).ToHashSet(StringComparer.Ordinal);

    private static bool HasLabel(IReadOnlyDictionary<string, string> labels, string filter)
    {
        var eq = filter.IndexOf('=');
        if (eq < 0) return labels.ContainsKey(filter);
        return labels.TryGetValue(filter[..eq], out var v) && v == filter[(eq + 1)..];
    }

    private static bool MatchName(string pattern, string name)
    {
        try
        {
            return Regex.IsMatch(name, pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException)
        {
            return name.Contains(pattern, StringComparison.Ordinal);
        }
    }

    private static T VolumeGuard<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (VolumeException e)
        {
            var kind = e.Kind switch
            {
                VolumeErrorKind.NotFound => ErrorKind.NotFound,
                VolumeErrorKind.Conflict => ErrorKind.Conflict,
                _ => ErrorKind.InvalidArgument,
            };
            throw new DaemonException(kind, e.Message, e);
        }
    }
}
