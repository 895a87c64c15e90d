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

    public DistributionService(ImageStore store)
    {
        _store = store;
        var handler = new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.None,
            AllowAutoRedirect = true,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            UseCookies = false,
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("skiff/1.0");
    }

    public Task<Image> PullAsync(ImageReference reference, RegistryCredentials? credentials, string os, string architecture, string? variant,
        ProgressSink progress, CancellationToken ct) =>
        new Puller(_store, _http).PullAsync(reference, credentials, os, architecture, variant, progress, ct);

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
