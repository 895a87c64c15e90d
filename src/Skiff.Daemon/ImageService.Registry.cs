using System.Runtime.InteropServices;
using Skiff.Distribution;
using Skiff.Images;

namespace Skiff.Daemon;

/// <summary>Registry verbs (pull, push, login) and the archive/maintenance verbs (save, load, prune, disk usage).</summary>
public sealed partial class ImageService
{
    private DistributionService? _distribution;

    /// <summary>Registries reached without TLS verification or over http; set before the first registry operation.</summary>
    public InsecureRegistries InsecureRegistries { get; init; } = InsecureRegistries.Default;

    private DistributionService Distribution
    {
        get
        {
            if (_distribution is { } d) return d;
            var created = new DistributionService(_store, InsecureRegistries);
            return Interlocked.CompareExchange(ref _distribution, created, null) ?? created;
        }
    }

    /// <summary>
    /// Pulls <paramref name="image"/> (with <paramref name="tag"/>, a tag or a <c>sha256:</c> digest, when given) for
    /// <paramref name="platform"/> (<c>os/arch[/variant]</c>, default the host's), reporting Docker's progress events.
    /// </summary>
    public async Task<ImageView> PullAsync(string image, string? tag, string? platform, RegistryCredentials? credentials, ProgressSink progress, CancellationToken ct)
    {
        var reference = await GuardAsync(() => Task.FromResult(ParsePullReference(image, tag))).ConfigureAwait(false);
        var (os, arch, variant) = ParsePlatform(platform);
        var result = await GuardAsync(() => Distribution.PullAsync(reference, credentials, os, arch, variant, progress, ct)).ConfigureAwait(false);
        return View(result);
    }

    /// <summary>
    /// <c>docker pull --all-tags</c>: every tag of <paramref name="repository"/> (a name without tag or digest), with one
    /// final status line for the repository.
    /// </summary>
    public async Task<IReadOnlyList<ImageView>> PullAllTagsAsync(string repository, string? platform, RegistryCredentials? credentials, ProgressSink progress, CancellationToken ct)
    {
        var reference = await GuardAsync(() => Task.FromResult(ImageReference.Parse(repository))).ConfigureAwait(false);
        var (os, arch, variant) = ParsePlatform(platform);
        var images = await GuardAsync(() => Distribution.PullAllTagsAsync(reference, credentials, os, arch, variant, progress, ct)).ConfigureAwait(false);
        return images.Select(View).ToList();
    }

    /// <summary>True when <paramref name="image"/> is a valid reference with neither tag nor digest (a repository name).</summary>
    public static bool IsRepositoryOnly(string image) => ImageReference.TryParse(image, out var r, out _) && r.Tag is null && r.Digest is null;

    /// <summary>Pushes <paramref name="name"/> (one tag, or every tag of the repository when neither it nor <paramref name="tag"/> has one).</summary>
    public Task<IReadOnlyList<PushResult>> PushAsync(string name, string? tag, RegistryCredentials? credentials, ProgressSink progress, CancellationToken ct) =>
        GuardAsync(() =>
        {
            var reference = ImageReference.Parse(string.IsNullOrEmpty(tag) ? name : name + ":" + tag);
            return Distribution.PushAsync(reference, credentials, progress, ct);
        });

    /// <summary>Checks credentials against a registry; returns Docker's "Login Succeeded" status.</summary>
    public async Task<string> LoginAsync(string server, RegistryCredentials credentials, CancellationToken ct)
    {
        await GuardAsync(async () => { await Distribution.LoginAsync(server, credentials, ct).ConfigureAwait(false); return 0; }).ConfigureAwait(false);
        return "Login Succeeded";
    }

    private static readonly Lazy<HttpClient> ImportHttp = new(() => new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(30), UseCookies = false })
        { Timeout = Timeout.InfiniteTimeSpan });

    /// <summary>
    /// <c>docker import URL</c>: downloads a rootfs tarball (an address without scheme is http, as in dockerd) and imports
    /// it as <see cref="ImportAsync"/> does, calling <paramref name="connected"/> once the server answered, then reporting
    /// the download as dockerd's "Importing" progress (total 0 when the server sends no length). Errors are dockerd's: a
    /// failed connection is internal, an answer of 404 not found, 400 invalid, others internal.
    /// </summary>
    public async Task<ImageView> ImportFromUrlAsync(string source, string? reference, string? message, IReadOnlyList<string> changes,
        Action<Uri> connected, LayerProgress progress, CancellationToken ct)
    {
        var url = ImportUrl(source);
        HttpResponseMessage response;
        try
        {
            response = await ImportHttp.Value.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new DaemonException(ErrorKind.Internal, $"Get \"{url}\": {e.Message}", e);
        }
        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                string body = (await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false)).Trim();
                var kind = response.StatusCode switch
                {
                    System.Net.HttpStatusCode.NotFound => ErrorKind.NotFound,
                    System.Net.HttpStatusCode.BadRequest => ErrorKind.InvalidArgument,
                    _ => ErrorKind.Internal,
                };
                throw new DaemonException(kind, $"failed to GET {url} with status {(int)response.StatusCode} {response.ReasonPhrase}: {(body.Length > 512 ? body[..512] : body)}");
            }
            connected(url);
            var body2 = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            using var counted = new LayerProgressStream(body2, "", response.Content.Headers.ContentLength ?? 0, progress);
            return await ImportAsync(counted, reference, message, changes, ct).ConfigureAwait(false);
        }
    }

    /// <summary>The URL of an import source: <c>http(s)://...</c> as given, anything else as an http address.</summary>
    public static Uri ImportUrl(string source)
    {
        string s = source.Contains("://", StringComparison.Ordinal) ? source : "http://" + source;
        if (!Uri.TryCreate(s, UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https"))
            throw DaemonException.Invalid($"invalid import source '{source}': only http and https URLs (or - for the request body)");
        return u;
    }

    /// <summary><c>docker save</c>: writes a docker-archive tar of the named images to <paramref name="output"/>.</summary>
    public Task SaveAsync(IReadOnlyList<string> names, Stream output, CancellationToken ct) =>
        Task.Run(() => Guard(() => { _store.Save(names, output); return 0; }), ct);

    /// <summary>Checks that every name resolves before a save starts streaming (so a bad name is a clean 404).</summary>
    public void CheckExist(IReadOnlyList<string> names) => Guard(() => { foreach (var n in names) _store.Find(n); return 0; });

    /// <summary><c>docker load</c>: a docker-archive or OCI layout tar (plain, gzip or zstd); returns Docker's "Loaded image" lines.</summary>
    /// <param name="input">The archive.</param>
    /// <param name="progress">Each layer imported, as dockerd's "Loading layer" progress (null: none, dockerd's quiet).</param>
    /// <param name="ct">Cancels the load.</param>
    public Task<IReadOnlyList<string>> LoadAsync(Stream input, LayerProgress? progress, CancellationToken ct) =>
        Task.Run(() => Guard(() => _store.Load(input, progress)), ct);

    /// <summary><c>docker image prune</c>: dangling images, or with <paramref name="all"/> every image no container uses.</summary>
    public (IReadOnlyList<ImageDeleteItem> Deleted, long SpaceReclaimed) Prune(bool all, Func<string, bool> inUse) => Guard(() =>
    {
        var (deleted, space) = _store.Prune(all, id => inUse(id) ? id : null);
        return ((IReadOnlyList<ImageDeleteItem>)deleted.Select(e => new ImageDeleteItem(e.Untagged, e.Deleted)).ToList(), space);
    });

    /// <summary>
    /// The images part of <c>docker system df</c>, from the store's layer records (no directory walk): every image with
    /// the bytes of its layers that other images share, and the bytes of all extracted layers counted once.
    /// </summary>
    public (IReadOnlyList<(ImageView Image, long SharedSize)> Images, long LayersSize) DiskUsage() => Guard(() =>
    {
        var images = _store.List();
        var users = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var i in images)
            foreach (var c in i.ChainIds.Distinct())
                users[c] = users.GetValueOrDefault(c) + 1;
        var sizes = _store.Snapshots.List().ToDictionary(l => l.ChainId, l => l.Size, StringComparer.Ordinal);
        var list = images.Select(i => (View(i), i.ChainIds.Distinct().Where(c => users[c] > 1).Sum(c => sizes.GetValueOrDefault(c)))).ToList();
        return ((IReadOnlyList<(ImageView, long)>)list, sizes.Values.Sum());
    });

    private static ImageReference ParsePullReference(string image, string? tag)
    {
        if (string.IsNullOrEmpty(tag)) return ImageReference.Parse(image).WithDefaultTag();
        return ImageReference.Parse(tag.StartsWith("sha256:", StringComparison.Ordinal) ? image + "@" + tag : image + ":" + tag);
    }

    /// <summary>Parses <c>os[/arch[/variant]]</c>; missing parts are the host's (linux/amd64, or arm64 with variant v8).</summary>
    internal static (string Os, string Arch, string? Variant) ParsePlatform(string? platform)
    {
        string hostArch = RuntimeInformation.OSArchitecture switch
        {
            Architecture.Arm64 => "arm64",
            Architecture.Arm => "arm",
            Architecture.X86 => "386",
            _ => "amd64",
        };
        if (string.IsNullOrWhiteSpace(platform)) return ("linux", hostArch, null);
        var parts = platform.Trim().ToLowerInvariant().Split('/');
        if (parts.Length > 3 || parts.Any(p => p.Length == 0)) throw DaemonException.Invalid($"\"{platform}\": unknown operating system or architecture: invalid argument");
        string arch = parts.Length > 1 ? parts[1] switch { "x86_64" or "x86-64" => "amd64", "aarch64" => "arm64", var a => a } : hostArch;
        return (parts[0], arch, parts.Length > 2 ? parts[2] : null);
    }

    private static async Task<T> GuardAsync<T>(Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (DistributionException e)
        {
            var kind = e.Kind switch
            {
                DistributionErrorKind.NotFound => ErrorKind.NotFound,
                DistributionErrorKind.Unauthorized => ErrorKind.Unauthorized,
                DistributionErrorKind.InvalidArgument => ErrorKind.InvalidArgument,
                _ => ErrorKind.Internal,
            };
            throw new DaemonException(kind, e.Message, e);
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
}
