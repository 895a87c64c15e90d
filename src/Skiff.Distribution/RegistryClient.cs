using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Skiff.Content;

namespace Skiff.Distribution;

/// <summary>
/// Client of one registry (OCI distribution API v2) for one set of credentials.
/// <para>
/// Transport: plain http for loopback registries (<c>localhost</c>, <c>127.0.0.0/8</c>, <c>::1</c>: Docker's default insecure
/// registries), https otherwise; <c>docker.io</c> is served by <c>registry-1.docker.io</c>.
/// Authentication: a request answered 401 is retried once after the challenge is met: Basic sends the credentials,
/// Bearer fetches a token from the challenge's realm for the repository scopes the operation needs (cached per scope
/// set until it expires). Requests with streamed bodies are only sent after a body-less request has authenticated the
/// same scopes (the upload start), so they are never replayed.
/// </para>
/// Thread-safe; the <see cref="HttpClient"/> is shared with other clients.
/// </summary>
public sealed class RegistryClient
{
    private readonly HttpClient _http;
    private readonly RegistryCredentials? _credentials;
    private readonly ConcurrentDictionary<string, (string Token, DateTime Expires)> _tokens = new(StringComparer.Ordinal);
    private volatile AuthChallenge? _challenge;

    public RegistryClient(HttpClient http, string registry, RegistryCredentials? credentials)
    {
        _http = http;
        Registry = registry;
        _credentials = credentials is { IsEmpty: true } ? null : credentials;
        BaseUri = EndpointFor(registry);
    }

    /// <summary>The registry as it appears in references (<c>127.0.0.1:5000</c>, <c>docker.io</c>).</summary>
    public string Registry { get; }
    public Uri BaseUri { get; }

    /// <summary>The API base of a registry: http for loopback hosts, https otherwise.</summary>
    public static Uri EndpointFor(string registry)
    {
        if (registry is "docker.io" or "index.docker.io") return new Uri("https://registry-1.docker.io/");
        return new Uri((IsLoopback(registry) ? "http://" : "https://") + registry + "/");
    }

    /// <summary>True for <c>localhost[:port]</c>, <c>127.x.y.z[:port]</c> and <c>[::1][:port]</c>.</summary>
    public static bool IsLoopback(string registry)
    {
        string host = registry;
        if (host.StartsWith('['))
        {
            int end = host.IndexOf(']');
            host = end > 0 ? host[1..end] : host;
        }
        else if (host.LastIndexOf(':') is var c and > 0)
        {
            host = host[..c];
        }
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return true;
        return IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip);
    }

    private static string Scope(string repository, bool push) => $"repository:{repository}:{(push ? "pull,push" : "pull")}";

    /// <summary>Checks that the registry answers and accepts the credentials (<c>docker login</c>).</summary>
    public async Task LoginAsync(CancellationToken ct)
    {
        using var r = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, new Uri(BaseUri, "v2/")), [], ct, forceAuth: true).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.Unauthorized)
            throw new DistributionException($"login attempt to {BaseUri}v2/ failed with status: 401 Unauthorized") { Kind = DistributionErrorKind.Unauthorized };
        if (!r.IsSuccessStatusCode)
            throw new DistributionException($"login attempt to {BaseUri}v2/ failed with status: {(int)r.StatusCode} {r.ReasonPhrase}");
    }

    /// <summary>Fetches a manifest or index by tag or digest; a digest reference is verified against the content.</summary>
    public async Task<ManifestDocument> GetManifestAsync(string repository, string reference, CancellationToken ct)
    {
        using var r = await SendAsync(() =>
        {
            var m = new HttpRequestMessage(HttpMethod.Get, new Uri(BaseUri, $"v2/{repository}/manifests/{reference}"));
            foreach (var a in MediaTypes.Accept) m.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(a));
            return m;
        }, [Scope(repository, false)], ct).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.NotFound)
            throw new DistributionException($"manifest for {Registry}/{repository}:{reference} not found: {await ErrorText(r, ct).ConfigureAwait(false)}") { Kind = DistributionErrorKind.NotFound };
        await EnsureSuccess(r, $"{Registry}/{repository}", ct).ConfigureAwait(false);
        byte[] bytes = await ReadLimitedAsync(r.Content, 4 << 20, ct).ConfigureAwait(false);
        var doc = ManifestParser.Parse(bytes, r.Content.Headers.ContentType?.MediaType);
        if (Digest.TryParse(reference, out var expected) && expected != doc.Digest)
            throw new DistributionException($"manifest verification failed for digest {reference}");
        return doc;
    }

    /// <summary>
    /// Every tag of a repository (<c>GET /v2/&lt;name&gt;/tags/list</c>), following the registry's pagination: each
    /// <c>Link: &lt;...&gt;; rel="next"</c> header names the next page. Tags are returned in the registry's order.
    /// </summary>
    public async Task<IReadOnlyList<string>> ListTagsAsync(string repository, CancellationToken ct)
    {
        var tags = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        Uri? next = new(BaseUri, $"v2/{repository}/tags/list");
        for (int page = 0; next is not null; page++)
        {
            if (page >= 10000) throw new DistributionException($"{Registry}/{repository}: too many pages of tags");
            var uri = next;
            using var r = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, uri), [Scope(repository, false)], ct).ConfigureAwait(false);
            if (r.StatusCode == HttpStatusCode.NotFound)
                throw new DistributionException($"repository {Registry}/{repository} not found: {await ErrorText(r, ct).ConfigureAwait(false)}") { Kind = DistributionErrorKind.NotFound };
            await EnsureSuccess(r, $"{Registry}/{repository}", ct).ConfigureAwait(false);
            byte[] bytes = await ReadLimitedAsync(r.Content, 16 << 20, ct).ConfigureAwait(false);
            TagList? list;
            try { list = JsonSerializer.Deserialize(bytes, DistributionJson.Default.TagList); }
            catch (JsonException ex) { throw new DistributionException($"{Registry}/{repository}: invalid tag list: {ex.Message}", ex); }
            foreach (var t in list?.Tags ?? [])
                if (seen.Add(t)) tags.Add(t);
            next = NextPage(r, uri);
        }
        return tags;
    }

    /// <summary>The target of a <c>Link</c> header with <c>rel="next"</c>, resolved against the request's URI; null when none.</summary>
    internal static Uri? NextPage(HttpResponseMessage r, Uri requestUri)
    {
        if (!r.Headers.TryGetValues("Link", out var values)) return null;
        foreach (var header in values)
            foreach (var part in header.Split(','))
            {
                int open = part.IndexOf('<'), close = part.IndexOf('>');
                if (open < 0 || close < open) continue;
                var parameters = part[(close + 1)..].Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                if (!parameters.Any(p => p.Replace(" ", "", StringComparison.Ordinal) is "rel=\"next\"" or "rel=next")) continue;
                return Uri.TryCreate(requestUri, part[(open + 1)..close].Trim(), out var u) ? u : null;
            }
        return null;
    }

    /// <summary>Reads a small blob (an image config) fully, verifying its digest.</summary>
    public async Task<byte[]> GetSmallBlobAsync(string repository, Digest digest, CancellationToken ct)
    {
        using var r = await GetBlobAsync(repository, digest, ct).ConfigureAwait(false);
        byte[] bytes = await ReadLimitedAsync(r.Content, 16 << 20, ct).ConfigureAwait(false);
        if (Digest.Compute(bytes) != digest) throw new DistributionException($"blob {digest} does not match its digest");
        return bytes;
    }

    /// <summary>Starts a blob download; the caller reads and disposes the response (its body is not buffered).</summary>
    public async Task<HttpResponseMessage> GetBlobAsync(string repository, Digest digest, CancellationToken ct)
    {
        var r = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, new Uri(BaseUri, $"v2/{repository}/blobs/{digest}")), [Scope(repository, false)], ct).ConfigureAwait(false);
        try
        {
            if (r.StatusCode == HttpStatusCode.NotFound)
                throw new DistributionException($"blob {digest} not found in {Registry}/{repository}") { Kind = DistributionErrorKind.NotFound };
            await EnsureSuccess(r, $"{Registry}/{repository}", ct).ConfigureAwait(false);
            return r;
        }
        catch
        {
            r.Dispose();
            throw;
        }
    }

    /// <summary>HEAD of a blob: true when the repository has it.</summary>
    public async Task<bool> BlobExistsAsync(string repository, Digest digest, CancellationToken ct)
    {
        using var r = await SendAsync(() => new HttpRequestMessage(HttpMethod.Head, new Uri(BaseUri, $"v2/{repository}/blobs/{digest}")), [Scope(repository, true)], ct).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.NotFound) return false;
        await EnsureSuccess(r, $"{Registry}/{repository}", ct).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Cross-repository mount (<c>POST .../blobs/uploads/?mount=&amp;from=</c>). Returns null when the blob was mounted,
    /// else the upload location the registry opened instead (use it for the upload).
    /// </summary>
    public async Task<Uri?> MountOrStartUploadAsync(string repository, Digest digest, string fromRepository, CancellationToken ct)
    {
        using var r = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, new Uri(BaseUri, $"v2/{repository}/blobs/uploads/?mount={digest}&from={Uri.EscapeDataString(fromRepository)}")),
            [Scope(repository, true), Scope(fromRepository, false)], ct).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.Created) return null;
        await EnsureSuccess(r, $"{Registry}/{repository}", ct).ConfigureAwait(false);
        return Location(r);
    }

    /// <summary>Opens an upload session (<c>POST .../blobs/uploads/</c>) and returns its location.</summary>
    public async Task<Uri> StartUploadAsync(string repository, CancellationToken ct)
    {
        using var r = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, new Uri(BaseUri, $"v2/{repository}/blobs/uploads/")), [Scope(repository, true)], ct).ConfigureAwait(false);
        await EnsureSuccess(r, $"{Registry}/{repository}", ct).ConfigureAwait(false);
        return Location(r);
    }

    /// <summary>
    /// Streams <paramref name="body"/> into an upload session with one chunked PATCH, then commits it under
    /// <paramref name="digest"/> (computed by the caller while the body was produced, so known only after the PATCH).
    /// </summary>
    public async Task UploadAsync(string repository, Uri location, HttpContent body, Func<Digest> digest, CancellationToken ct)
    {
        Uri next;
        using (var patch = await SendAsync(() => new HttpRequestMessage(HttpMethod.Patch, location) { Content = body }, [Scope(repository, true)], ct, replayable: false).ConfigureAwait(false))
        {
            await EnsureSuccess(patch, $"{Registry}/{repository}", ct).ConfigureAwait(false);
            next = Location(patch);
        }
        var put = WithQuery(next, "digest=" + digest());
        using var r = await SendAsync(() => new HttpRequestMessage(HttpMethod.Put, put) { Content = new ByteArrayContent([]) }, [Scope(repository, true)], ct).ConfigureAwait(false);
        await EnsureSuccess(r, $"{Registry}/{repository}", ct).ConfigureAwait(false);
    }

    /// <summary>Uploads a blob whose digest is known in one request (<c>PUT location?digest=</c> with the body).</summary>
    public async Task UploadMonolithicAsync(string repository, Uri location, HttpContent body, Digest digest, CancellationToken ct)
    {
        var put = WithQuery(location, "digest=" + digest);
        using var r = await SendAsync(() => new HttpRequestMessage(HttpMethod.Put, put) { Content = body }, [Scope(repository, true)], ct, replayable: false).ConfigureAwait(false);
        await EnsureSuccess(r, $"{Registry}/{repository}", ct).ConfigureAwait(false);
    }

    /// <summary>Stores a manifest under a tag (or digest); returns its digest.</summary>
    public async Task<Digest> PutManifestAsync(string repository, string reference, byte[] manifest, string mediaType, CancellationToken ct)
    {
        using var r = await SendAsync(() =>
        {
            var content = new ByteArrayContent(manifest);
            content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
            return new HttpRequestMessage(HttpMethod.Put, new Uri(BaseUri, $"v2/{repository}/manifests/{reference}")) { Content = content };
        }, [Scope(repository, true)], ct).ConfigureAwait(false);
        await EnsureSuccess(r, $"{Registry}/{repository}", ct).ConfigureAwait(false);
        return Digest.Compute(manifest);
    }

    private static Uri WithQuery(Uri u, string query) => new(u + (u.Query.Length > 0 ? "&" : "?") + query);

    private Uri Location(HttpResponseMessage r)
    {
        var loc = r.Headers.Location ?? throw new DistributionException($"registry {Registry} sent no upload location");
        return loc.IsAbsoluteUri ? loc : new Uri(BaseUri, loc);
    }

    /// <summary>
    /// Sends a request, meeting a 401 challenge once. <paramref name="replayable"/> false: the request is not retried (its
    /// body is a stream); the caller has authenticated the scopes before.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> make, string[] scopes, CancellationToken ct, bool replayable = true, bool forceAuth = false)
    {
        var request = make();
        await AuthorizeAsync(request, scopes, ct).ConfigureAwait(false);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new DistributionException($"Get \"{request.RequestUri}\": {ex.Message}", ex);
        }
        if (response.StatusCode != HttpStatusCode.Unauthorized || !replayable) return response;
        var challenges = response.Headers.WwwAuthenticate.Select(h => h.ToString()).SelectMany(AuthChallenge.Parse).ToList();
        var challenge = challenges.FirstOrDefault(c => c.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
            ?? challenges.FirstOrDefault(c => c.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase));
        if (challenge is null) return response;
        bool basic = challenge.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase);
        if (basic && _credentials is null && !forceAuth) return response;
        _challenge = challenge;
        response.Dispose();
        request = make();
        await AuthorizeAsync(request, scopes, ct).ConfigureAwait(false);
        try
        {
            return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new DistributionException($"Get \"{request.RequestUri}\": {ex.Message}", ex);
        }
    }

    private async Task AuthorizeAsync(HttpRequestMessage request, string[] scopes, CancellationToken ct)
    {
        var challenge = _challenge;
        if (challenge is null) return;
        if (challenge.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
        {
            if (_credentials?.Username is { } u)
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(u + ":" + _credentials.Password)));
            return;
        }
        if (_credentials?.RegistryToken is { Length: > 0 } rt)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", rt);
            return;
        }
        string key = string.Join(" ", scopes.Order(StringComparer.Ordinal));
        if (_tokens.TryGetValue(key, out var cached) && cached.Expires > DateTime.UtcNow)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", cached.Token);
            return;
        }
        var token = await FetchTokenAsync(challenge, scopes, ct).ConfigureAwait(false);
        _tokens[key] = token;
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Token);
    }

    private async Task<(string Token, DateTime Expires)> FetchTokenAsync(AuthChallenge challenge, string[] scopes, CancellationToken ct)
    {
        var realm = challenge["realm"] ?? throw new DistributionException($"registry {Registry} sent a Bearer challenge without realm");
        var query = new StringBuilder();
        if (challenge["service"] is { } service) query.Append("service=").Append(Uri.EscapeDataString(service));
        foreach (var s in scopes) query.Append(query.Length > 0 ? "&" : "").Append("scope=").Append(Uri.EscapeDataString(s));
        if (_credentials?.Username is { Length: > 0 }) query.Append("&account=").Append(Uri.EscapeDataString(_credentials.Username));
        var uri = new Uri(realm + (realm.Contains('?') ? "&" : "?") + query);
        HttpRequestMessage request;
        if (_credentials?.IdentityToken is { Length: > 0 } refresh)
        {
            var form = new Dictionary<string, string>
            {
                ["grant_type"] = "refresh_token", ["refresh_token"] = refresh, ["client_id"] = "skiff",
                ["service"] = challenge["service"] ?? "", ["scope"] = string.Join(" ", scopes),
            };
            request = new HttpRequestMessage(HttpMethod.Post, new Uri(realm)) { Content = new FormUrlEncodedContent(form) };
        }
        else
        {
            request = new HttpRequestMessage(HttpMethod.Get, uri);
            if (_credentials?.Username is { } u)
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(u + ":" + _credentials.Password)));
        }
        using var r = await _http.SendAsync(request, ct).ConfigureAwait(false);
        if (r.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            throw new DistributionException($"unauthorized: authentication required (token server {realm} answered {(int)r.StatusCode})") { Kind = DistributionErrorKind.Unauthorized };
        if (!r.IsSuccessStatusCode) throw new DistributionException($"token server {realm} answered {(int)r.StatusCode} {r.ReasonPhrase}");
        var body = await ReadLimitedAsync(r.Content, 1 << 20, ct).ConfigureAwait(false);
        TokenResponse? t;
        try { t = JsonSerializer.Deserialize(body, DistributionJson.Default.TokenResponse); }
        catch (JsonException ex) { throw new DistributionException($"token server {realm} sent invalid JSON", ex); }
        string token = t?.Token is { Length: > 0 } tk ? tk : t?.AccessToken ?? throw new DistributionException($"token server {realm} sent no token");
        int lifetime = t?.ExpiresIn is > 0 ? t.ExpiresIn.Value : 60;
        return (token, DateTime.UtcNow.AddSeconds(Math.Max(10, lifetime - 10)));
    }

    private async Task EnsureSuccess(HttpResponseMessage r, string what, CancellationToken ct)
    {
        if (r.IsSuccessStatusCode) return;
        string text = await ErrorText(r, ct).ConfigureAwait(false);
        var kind = r.StatusCode switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => DistributionErrorKind.Unauthorized,
            HttpStatusCode.NotFound => DistributionErrorKind.NotFound,
            _ => DistributionErrorKind.Upstream,
        };
        string message = kind == DistributionErrorKind.Unauthorized
            ? $"unauthorized: access to {what} denied: {text}"
            : $"{what}: {text} (HTTP {(int)r.StatusCode})";
        throw new DistributionException(message) { Kind = kind };
    }

    /// <summary>The registry's error in Docker's form: <c>code: message</c> of its first error, or the HTTP status.</summary>
    private static async Task<string> ErrorText(HttpResponseMessage r, CancellationToken ct)
    {
        try
        {
            var bytes = await ReadLimitedAsync(r.Content, 64 << 10, ct).ConfigureAwait(false);
            var errors = JsonSerializer.Deserialize(bytes, DistributionJson.Default.RegistryErrors);
            if (errors?.Errors is [var e, ..]) return $"{e.Code?.ToLowerInvariant().Replace('_', ' ')}: {e.Message}";
        }
        catch (Exception ex) when (ex is JsonException or DistributionException or HttpRequestException or IOException)
        {
        }
        return $"{(int)r.StatusCode} {r.ReasonPhrase}";
    }

    private static async Task<byte[]> ReadLimitedAsync(HttpContent content, int limit, CancellationToken ct)
    {
        await using var s = await content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        var ms = new MemoryStream();
        var buf = new byte[81920];
        int n;
        while ((n = await s.ReadAsync(buf, ct).ConfigureAwait(false)) > 0)
        {
            ms.Write(buf, 0, n);
            if (ms.Length > limit) throw new DistributionException($"registry response larger than {limit} bytes");
        }
        return ms.ToArray();
    }
}

internal sealed class TokenResponse
{
    [JsonPropertyName("token")] public string? Token { get; set; }
    [JsonPropertyName("access_token")] public string? AccessToken { get; set; }
    [JsonPropertyName("expires_in")] public int? ExpiresIn { get; set; }
}

internal sealed class TagList
{
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("tags")] public List<string>? Tags { get; set; }
}

internal sealed class RegistryErrors
{
    [JsonPropertyName("errors")] public List<RegistryError>? Errors { get; set; }
}

internal sealed class RegistryError
{
    [JsonPropertyName("code")] public string? Code { get; set; }
    [JsonPropertyName("message")] public string? Message { get; set; }
}
