using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Skiff.Client;

/// <summary>
/// Docker Engine API client over a unix socket or plain TCP.
/// Negotiates the API version once (HEAD /_ping, falling back to GET), then prefixes every
/// path with <c>/v{min(1.50, daemon)}</c>. Non-2xx answers throw <see cref="EngineApiException"/>;
/// an unreachable daemon throws <see cref="EngineConnectionException"/>.
/// </summary>
public sealed class EngineClient : IDisposable
{
    /// <summary>The highest API version this client speaks.</summary>
    public const string MaxApiVersion = "1.50";

    /// <summary>What Docker's CLI assumes when the daemon does not announce a version.</summary>
    public const string FallbackApiVersion = "1.24";

    private readonly HttpClient _http;
    private string? _version;

    /// <summary>The daemon address this client talks to.</summary>
    public EngineEndpoint Endpoint { get; }

    /// <summary>
    /// Creates a client. No connection is made until the first request.
    /// When <paramref name="apiVersion"/> is given, negotiation is skipped and that version is used.
    /// </summary>
    public EngineClient(EngineEndpoint endpoint, string? apiVersion = null)
    {
        Endpoint = endpoint;
        _version = apiVersion;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = (_, ct) => ConnectStreamAsync(ct),
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        };
        string baseUri = endpoint.IsUnix ? "http://skiff/" : $"http://{FormatHost(endpoint.TcpHost!)}:{endpoint.TcpPort}/";
        _http = new HttpClient(handler) { BaseAddress = new Uri(baseUri), Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Skiff-Client", "1.0"));
    }

    private static string FormatHost(string host) => host.Contains(':') ? "[" + host + "]" : host;

    /// <summary>Opens a new raw socket to the daemon.</summary>
    public async ValueTask<Socket> ConnectSocketAsync(CancellationToken ct)
    {
        Socket socket;
        EndPoint ep;
        if (Endpoint.IsUnix)
        {
            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            ep = new UnixDomainSocketEndPoint(Endpoint.SocketPath!);
        }
        else
        {
            socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            ep = IPAddress.TryParse(Endpoint.TcpHost, out var ip) ? new IPEndPoint(ip, Endpoint.TcpPort) : new DnsEndPoint(Endpoint.TcpHost!, Endpoint.TcpPort);
        }
        try
        {
            await socket.ConnectAsync(ep, ct).ConfigureAwait(false);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new EngineConnectionException(Endpoint.Original, e);
        }
    }

    private async ValueTask<Stream> ConnectStreamAsync(CancellationToken ct)
        => new NetworkStream(await ConnectSocketAsync(ct).ConfigureAwait(false), ownsSocket: true);

    /// <summary>
    /// The API version in use, negotiating it on first call: min(<see cref="MaxApiVersion"/>,
    /// the daemon's <c>Api-Version</c> header), or <see cref="FallbackApiVersion"/> without the header.
    /// </summary>
    public async ValueTask<string> GetApiVersionAsync(CancellationToken ct = default)
    {
        if (_version is not null) return _version;
        HttpResponseMessage resp = await SendRawAsync(new HttpRequestMessage(HttpMethod.Head, "_ping"), HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
        if ((int)resp.StatusCode >= 400)
        {
            resp.Dispose();
            resp = await SendRawAsync(new HttpRequestMessage(HttpMethod.Get, "_ping"), HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
        }
        using (resp)
        {
            string? announced = resp.Headers.TryGetValues("Api-Version", out var values) ? values.FirstOrDefault() : null;
            _version = announced is null ? FallbackApiVersion : MinVersion(announced, MaxApiVersion);
        }
        return _version;
    }

    /// <summary>Returns the lower of two "major.minor" API versions.</summary>
    public static string MinVersion(string a, string b) => CompareVersions(a, b) <= 0 ? a : b;

    /// <summary>Compares two "major.minor" API versions numerically (1.9 &lt; 1.41).</summary>
    public static int CompareVersions(string a, string b)
    {
        static (int, int) Parse(string v)
        {
            int dot = v.IndexOf('.');
            int major = int.TryParse(dot < 0 ? v : v[..dot], out int m) ? m : 0;
            int minor = dot < 0 ? 0 : int.TryParse(v[(dot + 1)..], out int n) ? n : 0;
            return (major, minor);
        }
        var (a1, a2) = Parse(a);
        var (b1, b2) = Parse(b);
        return a1 != b1 ? a1.CompareTo(b1) : a2.CompareTo(b2);
    }

    private async Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage req, HttpCompletionOption completion, CancellationToken ct)
    {
        try
        {
            return await _http.SendAsync(req, completion, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e) when (e.InnerException is EngineConnectionException ce)
        {
            throw ce;
        }
        catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.ConnectionError)
        {
            throw new EngineConnectionException(Endpoint.Original, e);
        }
    }

    /// <summary>
    /// Sends a versioned request. <paramref name="pathAndQuery"/> starts with '/' and excludes the
    /// version prefix. With <paramref name="stream"/> the call returns once headers arrive, so the
    /// caller can read a long-lived body (logs -f, wait, events). Error statuses throw.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string pathAndQuery, HttpContent? content = null, bool stream = false, CancellationToken ct = default, IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        string version = await GetApiVersionAsync(ct).ConfigureAwait(false);
        var req = new HttpRequestMessage(method, "v" + version + pathAndQuery) { Content = content };
        if (headers is not null)
            foreach (var (k, v) in headers) req.Headers.TryAddWithoutValidation(k, v);
        HttpResponseMessage resp = await SendRawAsync(req, stream ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
        if ((int)resp.StatusCode >= 400)
        {
            using (resp)
            {
                string body = await resp.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                throw new EngineApiException(resp.StatusCode, ErrorMessageFromBody(body, resp.StatusCode));
            }
        }
        return resp;
    }

    /// <summary>Extracts <c>message</c> from a Docker error body; falls back to the trimmed body.</summary>
    public static string ErrorMessageFromBody(string body, HttpStatusCode status)
    {
        string trimmed = body.Trim();
        if (trimmed.StartsWith('{'))
        {
            try
            {
                using var doc = JsonDocument.Parse(trimmed);
                if (doc.RootElement.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
                    return m.GetString()!;
            }
            catch (JsonException)
            {
            }
        }
        return trimmed.Length > 0 ? trimmed : $"{(int)status} {status}";
    }

    /// <summary>GET and deserialize through a source-generated type.</summary>
    public async Task<T> GetJsonAsync<T>(string pathAndQuery, JsonTypeInfo<T> type, CancellationToken ct = default)
    {
        using var resp = await SendAsync(HttpMethod.Get, pathAndQuery, ct: ct).ConfigureAwait(false);
        await using var s = await resp.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        return (await JsonSerializer.DeserializeAsync(s, type, ct).ConfigureAwait(false))!;
    }

    /// <summary>GET and return the raw JSON document (inspect output keeps every daemon field).</summary>
    public async Task<JsonDocument> GetDocumentAsync(string pathAndQuery, CancellationToken ct = default)
    {
        using var resp = await SendAsync(HttpMethod.Get, pathAndQuery, ct: ct).ConfigureAwait(false);
        await using var s = await resp.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        return await JsonDocument.ParseAsync(s, default, ct).ConfigureAwait(false);
    }

    /// <summary>POST a JSON body (or none) and deserialize the answer.</summary>
    public async Task<TResp> PostJsonAsync<TReq, TResp>(string pathAndQuery, TReq body, JsonTypeInfo<TReq> reqType, JsonTypeInfo<TResp> respType, CancellationToken ct = default)
    {
        using var resp = await SendAsync(HttpMethod.Post, pathAndQuery, JsonContent(body, reqType), ct: ct).ConfigureAwait(false);
        await using var s = await resp.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        return (await JsonSerializer.DeserializeAsync(s, respType, ct).ConfigureAwait(false))!;
    }

    /// <summary>Sends a request whose answer body is ignored.</summary>
    public async Task SendNoContentAsync(HttpMethod method, string pathAndQuery, HttpContent? content = null, CancellationToken ct = default)
    {
        using var resp = await SendAsync(method, pathAndQuery, content, ct: ct).ConfigureAwait(false);
    }

    /// <summary>Serializes a body with <c>Content-Type: application/json</c>.</summary>
    public static ByteArrayContent JsonContent<T>(T body, JsonTypeInfo<T> type)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, type));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    /// <summary>
    /// Sends a request that upgrades the connection to a raw bidirectional stream
    /// (attach, exec start). Written by hand because HttpClient cannot hand over a socket after
    /// <c>101 Switching Protocols</c>. A daemon that answers 200 instead of 101 (old protocol) also
    /// works: the body then is the stream. Error statuses throw <see cref="EngineApiException"/>.
    /// </summary>
    public async Task<HijackedConnection> HijackAsync(string pathAndQuery, byte[]? jsonBody, CancellationToken ct = default)
    {
        string version = await GetApiVersionAsync(ct).ConfigureAwait(false);
        Socket socket = await ConnectSocketAsync(ct).ConfigureAwait(false);
        try
        {
            var sb = new StringBuilder(256);
            sb.Append("POST /v").Append(version).Append(pathAndQuery).Append(" HTTP/1.1\r\n");
            sb.Append("Host: ").Append(Endpoint.IsUnix ? "skiff" : FormatHost(Endpoint.TcpHost!) + ":" + Endpoint.TcpPort).Append("\r\n");
            sb.Append("User-Agent: Skiff-Client/1.0\r\n");
            sb.Append("Connection: Upgrade\r\nUpgrade: tcp\r\n");
            if (jsonBody is not null) sb.Append("Content-Type: application/json\r\n");
            else sb.Append("Content-Type: text/plain\r\n");
            sb.Append("Content-Length: ").Append(jsonBody?.Length ?? 0).Append("\r\n\r\n");
            byte[] head = Encoding.ASCII.GetBytes(sb.ToString());
            await socket.SendAsync(head, SocketFlags.None, ct).ConfigureAwait(false);
            if (jsonBody is { Length: > 0 }) await socket.SendAsync(jsonBody, SocketFlags.None, ct).ConfigureAwait(false);

            var response = await HttpResponseHead.ReadAsync(socket, ct).ConfigureAwait(false);
            if (response.Status >= 400)
            {
                string body = await response.ReadBodyAsStringAsync(socket, ct).ConfigureAwait(false);
                throw new EngineApiException((HttpStatusCode)response.Status, ErrorMessageFromBody(body, (HttpStatusCode)response.Status));
            }
            return new HijackedConnection(socket, response.Leftover);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends a request whose body of exactly <paramref name="length"/> bytes <paramref name="sendBody"/> writes on the
    /// raw socket (blocking, e.g. with sendfile), and returns the response body (chunked or not) as a stream that owns
    /// the connection. Used for build contexts, where HttpClient's copies through a content stream cost more than the
    /// build itself. Error statuses throw <see cref="EngineApiException"/>, also when the daemon answered before the
    /// whole body was sent.
    /// </summary>
    public async Task<Stream> UploadAsync(string pathAndQuery, string contentType, long length, Action<Socket> sendBody, CancellationToken ct = default,
        IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        string version = await GetApiVersionAsync(ct).ConfigureAwait(false);
        Socket socket = await ConnectSocketAsync(ct).ConfigureAwait(false);
        try
        {
            var sb = new StringBuilder(256);
            sb.Append("POST /v").Append(version).Append(pathAndQuery).Append(" HTTP/1.1\r\n");
            sb.Append("Host: ").Append(Endpoint.IsUnix ? "skiff" : FormatHost(Endpoint.TcpHost!) + ":" + Endpoint.TcpPort).Append("\r\n");
            sb.Append("User-Agent: Skiff-Client/1.0\r\n");
            sb.Append("Content-Type: ").Append(contentType).Append("\r\n");
            foreach (var (k, v) in headers ?? []) sb.Append(k).Append(": ").Append(v).Append("\r\n");
            sb.Append("Content-Length: ").Append(length).Append("\r\n\r\n");
            await socket.SendAsync(Encoding.ASCII.GetBytes(sb.ToString()), SocketFlags.None, ct).ConfigureAwait(false);
            Exception? sendError = null;
            try
            {
                await Task.Run(() => sendBody(socket), ct).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                // The daemon may have refused the request and closed its side: its answer says why.
                sendError = e;
            }
            HttpResponseHead response;
            try
            {
                response = await HttpResponseHead.ReadAsync(socket, ct).ConfigureAwait(false);
            }
            catch (Exception) when (sendError is not null)
            {
                throw new IOException("sending the request body failed: " + sendError.Message, sendError);
            }
            if (response.Status >= 400)
            {
                string body = await response.ReadBodyAsStringAsync(socket, ct).ConfigureAwait(false);
                throw new EngineApiException((HttpStatusCode)response.Status, ErrorMessageFromBody(body, (HttpStatusCode)response.Status));
            }
            if (sendError is not null) throw new IOException("sending the request body failed: " + sendError.Message, sendError);
            return new RawResponseBody(socket, response);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _http.Dispose();
}
