using System.Text.Json;
using Skiff.Linux;

namespace Skiff.Volumes;

/// <summary>
/// The local volume driver: <c>&lt;data-root&gt;/volumes/&lt;name&gt;/_data</c> holds a volume's data and
/// <c>volume.json</c> (written atomically) its metadata, as Docker lays them out. A volume with
/// device options is mounted on <c>_data</c> when its first user mounts it and unmounted when the last
/// one lets go; <see cref="Mount"/>/<see cref="Unmount"/> count those users by an id (a container).
/// Which containers <em>reference</em> a volume (for in-use protection) is the caller's knowledge.
/// <para>Names are validated before any path is built, so no name resolves outside the volumes directory.</para>
/// </summary>
public sealed class VolumeStore
{
    private const string MetaFile = "volume.json";
    private readonly object _lock = new();
    private readonly Dictionary<string, Volume> _volumes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _mountRefs = new(StringComparer.Ordinal);

    private readonly (int Uid, int Gid)? _owner;

    /// <summary>Loads every volume under <paramref name="root"/>; leftovers of interrupted creates/removes are deleted.</summary>
    /// <param name="owner">Who a new volume's <c>_data</c> belongs to: the remapped root under <c>--userns-remap</c> (as
    /// dockerd does), so the container's root can write to it; the daemon's own user otherwise.</param>
    public VolumeStore(string root, (int Uid, int Gid)? owner = null)
    {
        _owner = owner;
        Root = Path.GetFullPath(root);
        Directory.CreateDirectory(Root);
        foreach (var dir in Directory.EnumerateDirectories(Root))
        {
            string name = Path.GetFileName(dir);
            if (name.StartsWith(".trash-", StringComparison.Ordinal) || name.StartsWith(".tmp-", StringComparison.Ordinal))
            {
                try { DeleteTree(dir); }
                catch (Exception e) when (e is IOException or VolumeException) { }
                continue;
            }
            if (!VolumeNames.IsValid(name)) continue;
            VolumeRecord? record = null;
            try { record = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(dir, MetaFile)), VolumeJson.Default.VolumeRecord); }
            catch (Exception e) when (e is IOException or JsonException) { }
            // A volume made by an older layout or by hand (a _data directory without metadata) is kept as a plain local volume.
            if (record is null && !Directory.Exists(Path.Combine(dir, "_data"))) continue;
            record ??= new VolumeRecord { Name = name, CreatedAt = Directory.GetCreationTimeUtc(dir) };
            record.Name = name;
            _volumes[name] = new Volume(record, dir);
        }
    }

    /// <summary><c>&lt;data-root&gt;/volumes</c>.</summary>
    public string Root { get; }

    public IReadOnlyList<Volume> List()
    {
        lock (_lock) return [.. _volumes.Values];
    }

    public Volume? Find(string name)
    {
        lock (_lock) return _volumes.GetValueOrDefault(name);
    }

    /// <exception cref="VolumeException">NotFound: <c>get NAME: no such volume</c>.</exception>
    public Volume Get(string name) =>
        Find(name) ?? throw new VolumeException(VolumeErrorKind.NotFound, $"get {name}: no such volume");

    /// <summary>
    /// Creates a volume, or returns the existing one of that name (as Docker does, whatever labels were asked
    /// for). A null or empty name makes an anonymous volume (random name, <see cref="Volume.AnonymousLabel"/>).
    /// </summary>
    /// <exception cref="VolumeException">An invalid name or option, another driver, or an existing volume of another driver.</exception>
    public Volume Create(string? name, string? driver = null, IReadOnlyDictionary<string, string>? labels = null, IReadOnlyDictionary<string, string>? options = null)
    {
        driver = string.IsNullOrEmpty(driver) ? LocalDriver.Name : driver;
        bool anonymous = string.IsNullOrEmpty(name);
        name = anonymous ? VolumeNames.NewAnonymous() : name!;
        VolumeNames.Validate(name);
        if (driver != LocalDriver.Name)
            throw new VolumeException(VolumeErrorKind.NotFound, $"error looking up volume plugin {driver}: plugin \"{driver}\" not found");
        var opts = new Dictionary<string, string>(options ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        LocalDriver.Validate(opts);
        lock (_lock)
        {
            if (_volumes.TryGetValue(name, out var existing))
            {
                if (existing.Driver != driver)
                    throw new VolumeException(VolumeErrorKind.Conflict, $"a volume with the name {name} already exists with driver \"{existing.Driver}\"");
                return existing;
            }
            var record = new VolumeRecord
            {
                Name = name,
                Driver = driver,
                CreatedAt = DateTimeOffset.UtcNow,
                Labels = new Dictionary<string, string>(labels ?? new Dictionary<string, string>(), StringComparer.Ordinal),
                Options = opts,
            };
            if (anonymous) record.Labels.TryAdd(Volume.AnonymousLabel, "");
            // Built in a temp dir and renamed into place, so a crash never leaves a half-made volume.
            string tmp = Path.Combine(Root, ".tmp-" + VolumeNames.NewAnonymous()[..16]);
            try
            {
                Directory.CreateDirectory(Path.Combine(tmp, "_data"));
                if (_owner is { } o)
                    LinuxException.ThrowIfError(Libc.chown(Path.Combine(tmp, "_data"), (uint)o.Uid, (uint)o.Gid), "chown", Path.Combine(tmp, "_data"));
                AtomicWrite(Path.Combine(tmp, MetaFile), JsonSerializer.SerializeToUtf8Bytes(record, VolumeJson.Default.VolumeRecord));
                string dir = Path.Combine(Root, name);
                Directory.Move(tmp, dir);
                var v = new Volume(record, dir);
                _volumes[name] = v;
                return v;
            }
            catch
            {
                DeleteTree(tmp);
                throw;
            }
        }
    }

    /// <summary>
    /// Deletes a volume and its data. The caller has checked that no container references it; a volume
    /// still mounted for a user is refused. Its directory is renamed aside first, so it disappears at once.
    /// </summary>
    /// <exception cref="VolumeException">NotFound, or Conflict while mounted.</exception>
    public void Remove(string name)
    {
        lock (_lock)
        {
            var v = _volumes.GetValueOrDefault(name) ?? throw new VolumeException(VolumeErrorKind.NotFound, $"get {name}: no such volume");
            if (_mountRefs.TryGetValue(name, out var refs) && refs.Count > 0)
                throw new VolumeException(VolumeErrorKind.Conflict, $"remove {name}: volume is in use - [{string.Join(", ", refs)}]");
            UnmountPath(v.Mountpoint);
            string trash = Path.Combine(Root, ".trash-" + VolumeNames.NewAnonymous()[..16]);
            Directory.Move(v.Directory, trash);
            _volumes.Remove(name);
            DeleteTree(trash);
        }
    }

    /// <summary>
    /// Records <paramref name="user"/> as mounting the volume and returns the host path to bind into the
    /// container. The first user of a volume with device options mounts it on <c>_data</c>; a mount that
    /// is already there (made before a daemon restart) is adopted.
    /// </summary>
    public string Mount(string name, string user)
    {
        lock (_lock)
        {
            var v = Get(name);
            if (!_mountRefs.TryGetValue(name, out var refs)) _mountRefs[name] = refs = [];
            if (refs.Count == 0 && LocalDriver.NeedsMount(v.Record.Options) && !IsMounted(v.Mountpoint))
            {
                Directory.CreateDirectory(v.Mountpoint);
                LocalDriver.Mount(v.Record.Options, v.Mountpoint);
            }
            refs.Add(user);
            return v.Mountpoint;
        }
    }

    /// <summary>Drops <paramref name="user"/>'s mount; the last one unmounts a device volume. Unknown users and volumes are ignored.</summary>
    public void Unmount(string name, string user)
    {
        lock (_lock)
        {
            if (!_mountRefs.TryGetValue(name, out var refs) || !refs.Remove(user) || refs.Count > 0) return;
            _mountRefs.Remove(name);
            if (_volumes.TryGetValue(name, out var v) && LocalDriver.NeedsMount(v.Record.Options))
                UnmountPath(v.Mountpoint);
        }
    }

    /// <summary>Unmounts device volumes that no user holds (left mounted by a daemon that died); called after users are restored.</summary>
    public void UnmountUnused()
    {
        lock (_lock)
        {
            foreach (var v in _volumes.Values)
                if (!_mountRefs.ContainsKey(v.Name) && LocalDriver.NeedsMount(v.Record.Options))
                    UnmountPath(v.Mountpoint);
        }
    }

    /// <summary>The users currently mounting a volume.</summary>
    public IReadOnlyCollection<string> MountUsers(string name)
    {
        lock (_lock) return _mountRefs.TryGetValue(name, out var refs) ? [.. refs] : [];
    }

    /// <summary>Bytes used by the files under the volume's data (hard links counted once), for <c>system df</c>.</summary>
    public static long Size(Volume v)
    {
        long total = 0;
        var seen = new HashSet<(ulong, ulong)>();
        var stack = new Stack<string>();
        stack.Push(v.Mountpoint);
        while (stack.Count > 0)
        {
            string dir = stack.Pop();
            IEnumerable<string> entries;
            try { entries = Directory.EnumerateFileSystemEntries(dir); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            foreach (var path in entries)
            {
                if (!TryLstat(path, out var st)) continue;
                uint type = st.Mode & Libc.S_IFMT;
                if (type == Libc.S_IFDIR) stack.Push(path);
                else if (type == Libc.S_IFREG && (st.Nlink <= 1 || seen.Add(((ulong)st.DevMajor << 32 | st.DevMinor, st.Ino)))) total += (long)st.Size;
            }
        }
        return total;
    }

    /// <summary>True when the volume's data directory has no entries (Docker copies image content only into an empty volume).</summary>
    public static bool IsEmpty(Volume v) =>
        !Directory.Exists(v.Mountpoint) || !Directory.EnumerateFileSystemEntries(v.Mountpoint).Any();

    private static unsafe bool TryLstat(string path, out Libc.Statx st)
    {
        Libc.Statx s;
        if (Libc.statx(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, &s) < 0)
        {
            st = default;
            return false;
        }
        st = s;
        return true;
    }

    /// <summary>Whether <paramref name="path"/> is a mount point in this process's mount table.</summary>
    internal static bool IsMounted(string path)
    {
        string full = Path.GetFullPath(path);
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var fields = line.Split(' ');
            if (fields.Length > 4 && Unescape(fields[4]) == full) return true;
        }
        return false;
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as \ooo.</summary>
    private static string Unescape(string s)
    {
        if (!s.Contains('\\')) return s;
        var sb = new System.Text.StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 3 < s.Length)
            {
                sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                sb.Append(s[i]);
            }
        }
        return sb.ToString();
    }

    /// <summary>
    /// Unmounts whatever is mounted on <paramref name="path"/> (lazily when busy). Throws when something
    /// stays mounted there, so a caller never deletes through a mount into a device's or host's files.
    /// </summary>
    private static void UnmountPath(string path)
    {
        for (int i = 0; i < 8 && IsMounted(path); i++)
        {
            if (Libc.umount2(path, 0) < 0) Libc.umount2(path, Libc.MNT_DETACH);
        }
        if (IsMounted(path))
            throw new VolumeException(VolumeErrorKind.Conflict, $"unmount {path}: still mounted");
    }

    /// <summary>Deletes a tree without following symlinks; refuses to descend into a mount point.</summary>
    private static void DeleteTree(string dir)
    {
        if (!Directory.Exists(dir)) return;
        UnmountPath(Path.Combine(dir, "_data"));
        Directory.Delete(dir, recursive: true);
    }

    private static void AtomicWrite(string path, ReadOnlySpan<byte> bytes)
    {
        string tmp = path + ".tmp";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1))
        {
            f.Write(bytes);
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
