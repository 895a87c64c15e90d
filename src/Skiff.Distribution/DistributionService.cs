using System.Net;
using Skiff.Images;

namespace Skiff.Distribution;

/// <summary>
/// Registry operations of one image store: pull, push and login, over one pooled HTTP client (connections to a
/// registry are reused across operations). Thread-safe.
/// </summary>
public sealed class DistributionService : IDisposable
{
    private readonly ImageStore _store;
    private readonly HttpClient _http;

    /// <param name="store">The image store pulls write to and pushes read from.</param>
    /// <param name="insecure">Registries spoken to without TLS verification or over http (default: loopback only).</param>
    public DistributionService(ImageStore store, InsecureRegistries? insecure = null)
    {
        _store = store;
        _http = new HttpClient(new RegistryTransport(insecure ?? InsecureRegistries.Default)) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("skiff/1.0");
    }

    public Task<Image> PullAsync(ImageReference reference, RegistryCredentials? credentials, string os, string architecture, string? variant,
        ProgressSink progress, CancellationToken ct) =>
        new Puller(_store, _http).PullAsync(reference, credentials, os, architecture, variant, progress, ct);

    /// <summary>
    /// <c>docker pull --all-tags</c>: pulls every tag the registry lists for <paramref name="repository"/> (a reference
    /// without tag or digest), one after the other, with each tag's progress as a single pull reports it except its
    /// final status line; then one status line for the whole repository, as dockerd does ("Downloaded newer image" when
    /// any tag brought new content or a new tag).
    /// </summary>
    public async Task<IReadOnlyList<Image>> PullAllTagsAsync(ImageReference repository, RegistryCredentials? credentials, string os, string architecture,
        string? variant, ProgressSink progress, CancellationToken ct)
    {
        if (repository.Tag is not null || repository.Digest is not null)
            throw new DistributionException("tag can't be used with --all-tags/-a") { Kind = DistributionErrorKind.InvalidArgument };
        var tags = await new RegistryClient(_http, repository.Domain, credentials).ListTagsAsync(repository.Path, ct).ConfigureAwait(false);
        var images = new List<Image>();
        bool downloaded = false;
        foreach (var tag in tags)
        {
            images.Add(await new Puller(_store, _http).PullAsync(repository.WithTag(tag), credentials, os, architecture, variant, e =>
            {
                if (e.Id is null && e.Status.StartsWith(StatusPrefix, StringComparison.Ordinal))
                {
                    downloaded |= e.Status.StartsWith(DownloadedPrefix, StringComparison.Ordinal);
                    return;
                }
                progress(e);
            }, ct).ConfigureAwait(false));
        }
        progress(new ProgressEvent((downloaded ? DownloadedPrefix : "Status: Image is up to date for ") + repository.Familiar));
        return images;
    }

    private const string StatusPrefix = "Status: ";
    private const string DownloadedPrefix = "Status: Downloaded newer image for ";

    public Task<IReadOnlyList<PushResult>> PushAsync(ImageReference target, RegistryCredentials? credentials, ProgressSink progress, CancellationToken ct) =>
        new Pusher(_store, _http).PushAsync(target, credentials, progress, ct);

    /// <summary>Checks credentials against a registry (<c>docker login</c>); <paramref name="server"/> is a host or URL.</summary>
    public Task LoginAsync(string server, RegistryCredentials credentials, CancellationToken ct) =>
        new RegistryClient(_http, RegistryHost(server), credentials).LoginAsync(ct);

    /// <summary>
    /// The registry host of a login server address as the CLI sends it: <c>https://index.docker.io/v1/</c> is Docker Hub,
    /// otherwise the URL's host[:port] or the bare host.
    /// </summary>
    public static string RegistryHost(string server)
    {
        string s = server.Trim();
        if (s.Length == 0) return ImageReference.DefaultDomain;
        if (s.Contains("://", StringComparison.Ordinal) && Uri.TryCreate(s, UriKind.Absolute, out var u)) s = u.IsDefaultPort ? u.Host : u.Host + ":" + u.Port;
        s = s.TrimEnd('/');
        int slash = s.IndexOf('/');
        if (slash >= 0) s = s[..slash];
        return s is "index.docker.io" or "registry-1.docker.io" ? ImageReference.DefaultDomain : s;
    }

    public void Dispose() => _http.Dispose();
}
