using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;

namespace Skiff.Distribution;

/// <summary>
/// The HTTP transport of every registry client. https requests to a registry in <see cref="InsecureRegistries"/> are
/// sent without certificate verification; when such a request fails before any response (the registry speaks plain
/// http, or nothing on that scheme), it is sent again over http, and that registry is then spoken to over http for
/// the transport's lifetime (dockerd's order: https without verification, then http). Only body-less requests are
/// retried, and a registry's first request always is one (a manifest, tag list, blob or upload start), so the choice
/// is made before any upload. Other requests pass through unchanged.
/// </summary>
internal sealed class RegistryTransport : HttpMessageHandler
{
    private readonly HttpMessageInvoker _verified;
    private readonly HttpMessageInvoker _unverified;
    private readonly InsecureRegistries _insecure;
    private readonly ConcurrentDictionary<string, bool> _plain = new(StringComparer.OrdinalIgnoreCase);

    public RegistryTransport(InsecureRegistries insecure)
    {
        _insecure = insecure;
        _verified = new HttpMessageInvoker(NewHandler(verify: true), disposeHandler: true);
        _unverified = new HttpMessageInvoker(NewHandler(verify: false), disposeHandler: true);
    }

    private static SocketsHttpHandler NewHandler(bool verify)
    {
        var handler = new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.None,
            AllowAutoRedirect = true,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            UseCookies = false,
        };
        if (!verify) handler.SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = static (_, _, _, _) => true };
        return handler;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        var uri = request.RequestUri!;
        if (!uri.Scheme.Equals("https", StringComparison.OrdinalIgnoreCase) || !_insecure.IsInsecure(uri.Authority))
            return await _verified.SendAsync(request, ct).ConfigureAwait(false);
        if (_plain.ContainsKey(uri.Authority))
        {
            request.RequestUri = Plain(uri);
            return await _verified.SendAsync(request, ct).ConfigureAwait(false);
        }
        try
        {
            return await _unverified.SendAsync(request, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException) when (request.Content is null && !ct.IsCancellationRequested)
        {
            var retry = new HttpRequestMessage(request.Method, Plain(uri)) { Version = request.Version, VersionPolicy = request.VersionPolicy };
            foreach (var h in request.Headers) retry.Headers.TryAddWithoutValidation(h.Key, h.Value);
            var response = await _verified.SendAsync(retry, ct).ConfigureAwait(false);
            _plain[uri.Authority] = true;
            return response;
        }
    }

    private static Uri Plain(Uri https) => new UriBuilder(https) { Scheme = "http", Port = https.IsDefaultPort ? 80 : https.Port }.Uri;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _verified.Dispose();
            _unverified.Dispose();
        }
        base.Dispose(disposing);
    }
}
