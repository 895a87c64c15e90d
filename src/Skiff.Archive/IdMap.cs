using System.Globalization;

namespace Skiff.Archive;

/// <summary>One contiguous range of a uid or gid mapping: container ids <c>[ContainerId, ContainerId+Size)</c> are host ids <c>[HostId, HostId+Size)</c>.</summary>
public readonly record struct IdRange(long ContainerId, long HostId, long Size);

/// <summary>
/// A user namespace's uid and gid mappings, as <c>dockerd --userns-remap</c> uses them for files: content entering the
/// daemon (layers, <c>docker cp</c> into a container) is stored with host ids, content leaving it (commit, export, save,
/// <c>docker cp</c> out) gets the container ids back, so a remapped daemon's archives are the same as an unmapped one's.
/// <para>Ids a direction does not map: <see cref="ToHost"/> returns false (a layer owned by uid 70000 cannot be stored
/// under a 65536-id range, Docker refuses it too); <see cref="ToContainer"/> yields the kernel's overflow id 65534, which
/// is what a process in the namespace sees for such a file.</para>
/// </summary>
public sealed class IdMap
{
    /// <summary>The kernel's overflowuid/overflowgid: what an unmapped id looks like inside a user namespace.</summary>
    public const int OverflowId = 65534;

    public IdMap(IReadOnlyList<IdRange> uids, IReadOnlyList<IdRange> gids)
    {
        if (uids.Count == 0 || gids.Count == 0) throw new ArgumentException("an id mapping needs at least one uid and one gid range");
        Uids = uids;
        Gids = gids;
        if (!MapUp(Uids, 0, out var ru) || !MapUp(Gids, 0, out var rg))
            throw new ArgumentException("an id mapping must map container root (id 0)");
        RootUid = (int)ru;
        RootGid = (int)rg;
    }

    public IReadOnlyList<IdRange> Uids { get; }
    public IReadOnlyList<IdRange> Gids { get; }
    /// <summary>The host uid of the container's root (Docker's remapped root, e.g. 100000).</summary>
    public int RootUid { get; }
    /// <summary>The host gid of the container's root group.</summary>
    public int RootGid { get; }

    /// <summary>Container ids to host ids; false when either is outside the mapping.</summary>
    public bool ToHost(int uid, int gid, out int hostUid, out int hostGid)
    {
        bool ok = MapUp(Uids, uid, out var u) & MapUp(Gids, gid, out var g);
        hostUid = (int)u;
        hostGid = (int)g;
        return ok;
    }

    /// <summary>Host ids to container ids; an unmapped id becomes <see cref="OverflowId"/>.</summary>
    public (int Uid, int Gid) ToContainer(int hostUid, int hostGid) =>
        (MapDown(Uids, hostUid), MapDown(Gids, hostGid));

    /// <summary><c>/proc/PID/uid_map</c> text of the uid ranges.</summary>
    public static string Format(IEnumerable<IdRange> ranges) =>
        string.Concat(ranges.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.ContainerId} {r.HostId} {r.Size}\n")));

    private static bool MapUp(IReadOnlyList<IdRange> ranges, long id, out long host)
    {
        foreach (var r in ranges)
        {
            if (id >= r.ContainerId && id < r.ContainerId + r.Size)
            {
                host = r.HostId + (id - r.ContainerId);
                return true;
            }
        }
        host = OverflowId;
        return false;
    }

    private static int MapDown(IReadOnlyList<IdRange> ranges, long hostId)
    {
        // Host ids are unsigned on disk; a negative int here is a large uid that no range maps.
        if (hostId < 0) return OverflowId;
        foreach (var r in ranges)
            if (hostId >= r.HostId && hostId < r.HostId + r.Size) return (int)(r.ContainerId + (hostId - r.HostId));
        return OverflowId;
    }
}
