using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace Skiff.Integration.Tests;

/// <summary>
/// Bearer-token auth against a real token server: Debian's docker-registry with <c>auth: token</c> trusts a test
/// certificate; the token server here (HttpListener on 127.0.0.1) checks Basic credentials and issues ES256 JWTs signed
/// with that certificate's key, granting per user: alice pull and push, bob pull only. skiffd logs in, pushes and pulls
/// with the Docker CLI's stored credentials, and a scope the server refuses gives a clear error.
/// </summary>
[Collection("registry")]
public sealed class TokenAuthTests(RegistryFixture f)
{
    private static void Ok(ProcResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    [Fact]
    public void LoginPushAndPullWithBearerTokensAndARefusedScope()
    {
        using var server = new TokenServer(new()
        {
            ["alice"] = ("alice-pw", ["pull", "push"]),
            ["bob"] = ("bob-pw", ["pull"]),
        });
        string certPath = Path.Combine(f.Root, "token-cert.pem");
        File.WriteAllText(certPath, server.CertificatePem);
        int port = f.StartRegistryWithAuth("token", $"""
            auth:
              token:
                realm: {server.Realm}
                service: skiff-test-registry
                issuer: skiff-test-issuer
                rootcertbundle: {certPath}
            """);
        string registry = $"127.0.0.1:{port}";
        string image = $"{registry}/tok/busybox:1";
        Ok(f.Docker("tag", "busybox:latest", image));

        var anonymous = f.Docker("push", image);
        Assert.NotEqual(0, anonymous.ExitCode);
        Assert.Contains("unauthorized", anonymous.Stdout + anonymous.Stderr, StringComparison.OrdinalIgnoreCase);

        var wrong = Login(registry, "alice", "nope");
        Assert.NotEqual(0, wrong.ExitCode);
        Ok(Login(registry, "alice", "alice-pw"));
        var push = f.Docker("push", image);
        Ok(push);
        Assert.Contains("1: digest: sha256:", push.Stdout);
        Assert.Contains(server.Requests, r => r.User == "alice" && r.Scopes.Contains("repository:tok/busybox:pull,push"));

        // bob may pull but not push: the pull works, the push fails with the registry's denial.
        Ok(f.Docker("logout", registry));
        Ok(Login(registry, "bob", "bob-pw"));
        Ok(f.Docker("rmi", image));
        var pull = f.Docker("pull", image);
        Ok(pull);
        Assert.Contains("Status: Downloaded newer image for " + image, pull.Stdout);
        Ok(f.Docker("run", "--rm", image, "true"));
        string other = $"{registry}/tok/other:1";
        Ok(f.Docker("tag", "busybox:latest", other));
        var refused = f.Docker("push", other);
        Assert.NotEqual(0, refused.ExitCode);
        string message = refused.Stdout + refused.Stderr;
        Assert.Contains("denied", message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("tok/other", message);

        Ok(f.Docker("logout", registry));
        Ok(f.Docker("rmi", other));
        Ok(f.Docker("rmi", image));
    }

    private ProcResult Login(string registry, string user, string password) =>
        Proc.Run(DaemonFixture.DockerCli, ["login", "-u", user, "--password-stdin", registry], f.Daemon.DockerEnv, stdin: password + "\n");

    /// <summary>
    /// A minimal token server (Docker's token auth spec): <c>GET /token?service=..&amp;scope=..</c> with optional Basic
    /// credentials; wrong credentials get 401, anonymous requests a token without access. Grants the intersection of the
    /// requested actions and the user's.
    /// </summary>
    private sealed class TokenServer : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        private readonly byte[] _certDer;
        private readonly Dictionary<string, (string Password, string[] Actions)> _users;
        private readonly Task _loop;

        public TokenServer(Dictionary<string, (string, string[])> users)
        {
            _users = users;
            var req = new CertificateRequest("CN=skiff-test-token-issuer", _key, HashAlgorithmName.SHA256);
            using var cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            _certDer = cert.Export(X509ContentType.Cert);
            CertificatePem = cert.ExportCertificatePem();
            int port = RegistryFixture.FreePort();
            Realm = $"http://127.0.0.1:{port}/token";
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            _listener.Start();
            _loop = Task.Run(LoopAsync);
        }

        public string Realm { get; }
        public string CertificatePem { get; }
        public List<(string? User, List<string> Scopes)> Requests { get; } = [];

        private async Task LoopAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext ctx;
                try { ctx = await _listener.GetContextAsync(); }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
                try { Handle(ctx); }
                catch (Exception e) { ctx.Response.StatusCode = 500; Console.Error.WriteLine("token server: " + e); }
                finally { ctx.Response.Close(); }
            }
        }

        private void Handle(HttpListenerContext ctx)
        {
            string? user = null;
            string? header = ctx.Request.Headers["Authorization"];
            if (header is not null && header.StartsWith("Basic ", StringComparison.Ordinal))
            {
                string[] pair = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..])).Split(':', 2);
                if (pair.Length != 2 || !_users.TryGetValue(pair[0], out var u) || u.Password != pair[1])
                {
                    ctx.Response.StatusCode = 401;
                    return;
                }
                user = pair[0];
            }
            var scopes = (ctx.Request.QueryString.GetValues("scope") ?? []).SelectMany(s => s.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
            lock (Requests) Requests.Add((user, scopes));
            var access = new JsonArray();
            foreach (var scope in scopes)
            {
                var parts = scope.Split(':');
                if (parts.Length != 3 || parts[0] != "repository" || user is null) continue;
                var granted = new JsonArray(parts[2].Split(',').Intersect(_users[user].Actions).Select(a => (JsonNode?)JsonValue.Create(a)).ToArray());
                access.Add((JsonNode)new JsonObject { ["type"] = "repository", ["name"] = parts[1], ["actions"] = granted });
            }
            long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var claims = new JsonObject
            {
                ["iss"] = "skiff-test-issuer",
                ["sub"] = user ?? "",
                ["aud"] = ctx.Request.QueryString["service"] ?? "",
                ["exp"] = now + 300,
                ["nbf"] = now - 10,
                ["iat"] = now,
                ["jti"] = Guid.NewGuid().ToString("N"),
                ["access"] = access,
            };
            var head = new JsonObject { ["alg"] = "ES256", ["typ"] = "JWT", ["x5c"] = new JsonArray(JsonValue.Create(Convert.ToBase64String(_certDer))) };
            string signingInput = B64(Encoding.UTF8.GetBytes(head.ToJsonString())) + "." + B64(Encoding.UTF8.GetBytes(claims.ToJsonString()));
            string jwt = signingInput + "." + B64(_key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256));
            byte[] body = Encoding.UTF8.GetBytes(new JsonObject { ["token"] = jwt, ["access_token"] = jwt, ["expires_in"] = 300 }.ToJsonString());
            ctx.Response.ContentType = "application/json";
            ctx.Response.OutputStream.Write(body);
        }

        private static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');

        public void Dispose()
        {
            _listener.Stop();
            _listener.Close();
            try { _loop.Wait(5000); } catch (AggregateException) { }
            _key.Dispose();
        }
    }
}
