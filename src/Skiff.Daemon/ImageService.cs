using Skiff.Images;

namespace Skiff.Daemon;

/// <summary>
/// The daemon's face of the image store: translates its images into the daemon's views and its
/// classified errors into <see cref="DaemonException"/>s, and prepares containers' writable layers.
/// </summary>
public sealed partial class ImageService
{
    private readonly ImageStore _store;
    private readonly EventBus? _events;

    public ImageService(string dataRoot, EventBus? events = null, Archive.IdMap? remap = null)
    {
        _store = new ImageStore(dataRoot, remap);
        _events = events;
    }

    private void Publish(string action, string id, string name) =>
        _events?.Publish("image", action, id, new Dictionary<string, string> { ["name"] = name });

    public int Count => _store.List().Count;

    /// <summary>The store itself, for the builder (which works on images and layers directly).</summary>
    internal ImageStore Store => _store;

    /// <summary>Imports a rootfs tarball (plain, gzip or zstd) as a one-layer image (Docker's import).</summary>
    public Task<ImageView> ImportAsync(Stream tar, string? reference, string? message, IReadOnlyList<string> changes, CancellationToken ct) =>
        Task.Run(() =>
        {
            var view = Guard(() => View(_store.Import(tar, new ImportOptions { Reference = reference, Message = message, Changes = changes })));
            Publish("import", view.Id, reference ?? view.Id);
            return view;
        }, ct);

    public IReadOnlyList<ImageView> List() => Guard(() => _store.List().Select(View).ToList());

    public ImageView Get(string reference) => Guard(() => View(_store.Find(reference)));

    public void Tag(string source, string target)
    {
        Guard(() => { _store.Tag(source, target); return 0; });
        Publish("tag", Get(target).Id, target);
    }

    /// <summary><c>docker rmi</c>; the functions return the ID of a container (a running one) that uses an image ID, or null.</summary>
    public IReadOnlyList<ImageDeleteItem> Remove(string reference, bool force, Func<string, string?> containerUsing, Func<string, string?> runningContainerUsing)
    {
        var id = Get(reference).Id;
        var items = Guard(() => _store.Remove(reference, force, containerUsing, runningContainerUsing).Select(e => new ImageDeleteItem(e.Untagged, e.Deleted)).ToList());
        foreach (var item in items)
        {
            if (item.Untagged is { } untagged) Publish("untag", id, untagged);
            if (item.Deleted is { } deleted) Publish("delete", deleted, deleted);
        }
        return items;
    }

    public IReadOnlyList<ImageHistoryEntry> History(string reference) => Guard(() => _store.History(reference)
        .Select(h => new ImageHistoryEntry { Id = h.Id, Created = new DateTimeOffset(h.Created, TimeSpan.Zero), CreatedBy = h.CreatedBy, Comment = h.Comment, Size = h.Size, Tags = h.Tags })
        .ToList());

    internal ImageDefaults ResolveForContainer(string reference) => Guard(() => View(_store.Find(reference)).Config);

    /// <summary>Creates the container's upper and work dirs over the image's layers.</summary>
    internal void PrepareWritableLayer(string imageId, string containerDir) => Guard(() => _store.PrepareContainer(imageId, containerDir));

    /// <summary>The overlay options (lowerdir/upperdir/workdir) for the container's rootfs.</summary>
    internal string OverlayOptions(string imageId, string containerDir) =>
        Guard(() => _store.PrepareContainer(imageId, containerDir).MountOptions);

    /// <summary>The image's layer directories, topmost first.</summary>
    internal IReadOnlyList<string> LayerPaths(string imageId) => Guard(() => _store.LayerPaths(imageId));

    internal void RemoveWritableLayer(string containerDir) => _store.Snapshots.RemoveWritable(containerDir);

    private static T Guard<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (ImageStoreException e)
        {
            var kind = e.Kind switch
            {
                ImageErrorKind.NotFound => ErrorKind.NotFound,
                ImageErrorKind.Conflict => ErrorKind.Conflict,
                _ => ErrorKind.InvalidArgument,
            };
            throw new DaemonException(kind, e.Message, e);
        }
        catch (Archive.InvalidArchiveException e)
        {
            throw new DaemonException(ErrorKind.InvalidArgument, e.Message, e);
        }
    }

    internal static ImageView View(Image i)
    {
        var c = i.Config.Config ?? new Images.ContainerConfig();
        var history = i.Config.History ?? [];
        return new ImageView
        {
            Id = i.Id,
            RepoTags = i.RepoTags,
            RepoDigests = i.RepoDigests,
            Parent = i.Parent ?? "",
            Comment = i.Config.Comment ?? "",
            Author = i.Config.Author ?? "",
            Created = new DateTimeOffset(DateTime.SpecifyKind(i.Created, DateTimeKind.Utc)),
            Size = i.Size,
            Architecture = i.Config.Architecture ?? "amd64",
            Os = i.Config.Os ?? "linux",
            Layers = i.DiffIds,
            Config = new ImageDefaults
            {
                Id = i.Id,
                User = c.User ?? "",
                Env = c.Env ?? [],
                Cmd = c.Cmd,
                Entrypoint = c.Entrypoint,
                WorkingDir = c.WorkingDir ?? "",
                Labels = c.Labels ?? new Dictionary<string, string>(),
                ExposedPorts = c.ExposedPorts?.Keys.ToList() ?? [],
                Volumes = c.Volumes?.Keys.ToList() ?? [],
                StopSignal = c.StopSignal,
                Healthcheck = c.Healthcheck is { Test: { Count: > 0 } test } h
                    ? new HealthcheckConfig { Test = [.. test], Interval = h.Interval ?? 0, Timeout = h.Timeout ?? 0, StartPeriod = h.StartPeriod ?? 0, StartInterval = h.StartInterval ?? 0, Retries = h.Retries ?? 0 }
                    : null,
                OnBuild = c.OnBuild is { Count: > 0 } onBuild ? onBuild : null,
                Shell = c.Shell is { Count: > 0 } shell ? shell : null,
            },
        };
    }
}
