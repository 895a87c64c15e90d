using Skiff.Build;
using Skiff.Images;

namespace Skiff.Daemon;

/// <summary>A build that failed; <see cref="ExitCode"/> is the failed RUN's exit code (1 for other failures).</summary>
public sealed class BuildFailedException(string message, int exitCode, Exception? inner = null)
    : DaemonException(ErrorKind.InvalidArgument, message, inner)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>One build cache record for <c>system df</c>: a step's image ("regular") or a RUN cache mount ("exec.cachemount", no image).</summary>
public sealed record BuildCacheEntry(string Id, string ImageId, long Size, bool InUse, bool Shared, DateTimeOffset Created,
    string Type = "regular", string Description = "");

public sealed partial class Daemon
{
    private BuildCache? _buildCache;

    /// <summary>Connected clients' build sessions (<c>skiff build --ssh</c>): what a build's SSH mounts reach.</summary>
    public Skiff.Build.Session.BuildSessions BuildSessions { get; } = new();
    private readonly Lock _buildInit = new();
    private bool _buildTmpCleaned;

    /// <summary>Where base images missing from the store come from: registry pulls, anonymous (builds get no credentials).</summary>
    public IBaseImageSource BuildBaseImages => _buildBaseImages ??= new RegistryBaseImages(Images);

    private RegistryBaseImages? _buildBaseImages;

    /// <summary>Pulls a build's missing base image through <see cref="ImageService.PullAsync"/>, reporting Docker's status lines.</summary>
    private sealed class RegistryBaseImages(ImageService images) : IBaseImageSource
    {
        public async Task<string> PullAsync(string reference, string? platform, Action<string> progress, CancellationToken ct)
        {
            try
            {
                var view = await images.PullAsync(reference, null, platform, null, e =>
                {
                    // Byte counters are for progress bars; the build stream gets one line per state change.
                    if (e.Current is null) progress(e.Id is null ? e.Status : e.Id + ": " + e.Status);
                }, ct).ConfigureAwait(false);
                return view.Id;
            }
            catch (DaemonException e)
            {
                throw new BuildException(e.Message, e);
            }
        }
    }

    private BuildCache Cache
    {
        get
        {
            lock (_buildInit) return _buildCache ??= new BuildCache(Options.DataRoot);
        }
    }

    private string BuildTempRoot
    {
        get
        {
            string tmp = Path.Combine(Options.DataRoot, "builder", "tmp");
            lock (_buildInit)
            {
                // Left over by a daemon that died mid-build; no build of this process has started yet.
                if (!_buildTmpCleaned && System.IO.Directory.Exists(tmp)) System.IO.Directory.Delete(tmp, recursive: true);
                _buildTmpCleaned = true;
            }
            System.IO.Directory.CreateDirectory(tmp);
            return tmp;
        }
    }

    /// <summary>
    /// <c>docker build</c> (classic builder): reads the context tar from <paramref name="context"/>, builds, tags.
    /// Progress goes to <paramref name="progress"/> while the build runs.
    /// </summary>
    /// <exception cref="BuildFailedException">The Dockerfile, the context or a step failed (message for the user).</exception>
    public async Task<BuildResult> BuildAsync(Stream context, BuildOptions options, IBuildProgress progress, CancellationToken ct)
    {
        string tmp = BuildTempRoot;
        try
        {
            using var ctx = await Task.Run(() => BuildContext.Load(context, tmp), ct).ConfigureAwait(false);
            var builder = new Builder(Images.Store, Cache, new BuildRunner(Options), BuildBaseImages, tmp);
            return await builder.BuildAsync(ctx, options, progress, ct).ConfigureAwait(false);
        }
        catch (BuildStepFailedException e)
        {
            throw new BuildFailedException(e.Message, e.ExitCode, e);
        }
        catch (BuildException e)
        {
            throw new BuildFailedException(e.Message, 1, e);
        }
        catch (ImageStoreException e)
        {
            throw new BuildFailedException(e.Message, 1, e);
        }
    }

    /// <summary>The build cache records, with the size of the layer each one's image added.</summary>
    public IReadOnlyList<BuildCacheEntry> BuildCacheUsage()
    {
        var store = Images.Store;
        var result = new List<BuildCacheEntry>();
        foreach (var r in Cache.All())
        {
            var image = store.TryFind(r.ImageId);
            if (image is null) continue;
            long size = 0;
            var parentLayers = image.Parent is { } p && store.TryFind(p) is { } parent ? parent.ChainIds.Count : 0;
            if (image.ChainIds.Count > parentLayers) size = store.Snapshots.Get(image.ChainIds[^1])?.Size ?? 0;
            var (tagged, _) = store.Usage(image.Id);
            bool inUse = Containers.All.Any(c => c.Record.ImageId == image.Id);
            result.Add(new BuildCacheEntry(r.Key[..12], image.Id, size, inUse, tagged, new DateTimeOffset(r.Created, TimeSpan.Zero)));
        }
        foreach (var (id, dir, created) in Cache.CacheMounts())
        {
            string key = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(id)));
            result.Add(new BuildCacheEntry(key[..12], "", DirectorySize(dir), false, false, new DateTimeOffset(created, TimeSpan.Zero),
                "exec.cachemount", "cached mount " + id));
        }
        return result;
    }

    /// <summary>
    /// <c>docker builder prune</c>: forgets every cache record and removes the intermediate images they held that nothing
    /// else needs (untagged, no child image, no container). Returns the removed cache IDs and the bytes of layers freed.
    /// </summary>
    public (IReadOnlyList<string> Deleted, long Reclaimed) PruneBuildCache()
    {
        var store = Images.Store;
        long before = store.Snapshots.List().Sum(l => l.Size);
        var records = Cache.All();
        Cache.Prune();
        var deleted = records.Select(r => r.Key[..12]).ToList();
        bool progress = true;
        var candidates = records.Select(r => r.ImageId).Distinct().ToList();
        while (progress)
        {
            progress = false;
            foreach (var id in candidates)
            {
                if (!store.Exists(id)) continue;
                var (tagged, children) = store.Usage(id);
                if (tagged || children || Containers.All.Any(c => c.Record.ImageId == id)) continue;
                try
                {
                    store.Remove(id, force: false, imageId => Containers.All.FirstOrDefault(c => c.Record.ImageId == imageId)?.Id);
                    progress = true;
                }
                catch (ImageStoreException)
                {
                }
            }
        }
        long after = store.Snapshots.List().Sum(l => l.Size);
        long mounts = Cache.CacheMounts().Sum(m => DirectorySize(m.Dir));
        foreach (var id in Cache.PruneCacheMounts())
            deleted.Add(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(id)))[..12]);
        return (deleted, Math.Max(0, before - after) + mounts);
    }
}
