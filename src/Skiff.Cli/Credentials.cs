using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Skiff.Cli;

/// <summary>
/// Registry credentials in <c>$SKIFF_CONFIG/config.json</c> (default <c>~/.skiff/config.json</c>),
/// in Docker's <c>{"auths": {"server": {"auth": base64("user:password")}}}</c> layout, and the
/// <c>X-Registry-Auth</c> header built from them (URL-safe base64 of the auth JSON).
/// </summary>
public static class Credentials
{
    /// <summary>The key Docker uses for Docker Hub.</summary>
    public const string DockerHub = "https://index.docker.io/v1/";

    private static string ConfigPath()
    {
        string dir = Environment.GetEnvironmentVariable("SKIFF_CONFIG") is { Length: > 0 } d
            ? d
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".skiff");
        return Path.Combine(dir, "config.json");
    }

    /// <summary>The credentials key for an image reference: its registry host, or Docker Hub's key.</summary>
    public static string ServerFor(string image)
    {
        int slash = image.IndexOf('/');
        if (slash < 0) return DockerHub;
        string first = image[..slash];
        bool registry = first.Contains('.') || first.Contains(':') || first == "localhost";
        return !registry || first is "docker.io" or "index.docker.io" or "registry-1.docker.io" ? DockerHub : first;
    }

    /// <summary>Normalizes a server argument of login/logout ("docker.io" and empty mean Docker Hub).</summary>
    public static string NormalizeServer(string? server)
    {
        if (string.IsNullOrEmpty(server)) return DockerHub;
        string s = server.Trim();
        if (s.StartsWith("https://", StringComparison.Ordinal) || s.StartsWith("http://", StringComparison.Ordinal))
        {
            if (s.Contains("index.docker.io", StringComparison.Ordinal)) return DockerHub;
            s = s[(s.IndexOf("://", StringComparison.Ordinal) + 3)..].TrimEnd('/');
        }
        return s is "docker.io" or "index.docker.io" or "registry-1.docker.io" ? DockerHub : s;
    }

    private static JsonObject Load()
    {
        string path = ConfigPath();
        if (!File.Exists(path)) return new JsonObject();
        return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? new JsonObject();
    }

    private static void Save(JsonObject config)
    {
        string path = ConfigPath();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string tmp = path + ".tmp";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            using var w = new Utf8JsonWriter(f, new JsonWriterOptions { Indented = true });
            config.WriteTo(w);
        }
        File.Move(tmp, path, true);
    }

    /// <summary>Stores credentials for a server (file mode 0600, written atomically).</summary>
    public static void Store(string server, string user, string password)
    {
        var config = Load();
        if (config["auths"] is not JsonObject auths) config["auths"] = auths = new JsonObject();
        auths[server] = new JsonObject { ["auth"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password)) };
        Save(config);
    }

    /// <summary>Removes stored credentials; returns false if there were none.</summary>
    public static bool Remove(string server)
    {
        var config = Load();
        if (config["auths"] is not JsonObject auths || !auths.Remove(server)) return false;
        Save(config);
        return true;
    }

    /// <summary>The stored user and password for a server, if any.</summary>
    public static (string User, string Password)? Lookup(string server)
    {
        try
        {
            if (Load()["auths"]?[server]?["auth"]?.GetValue<string>() is not { } auth) return null;
            string text = Encoding.UTF8.GetString(Convert.FromBase64String(auth));
            int colon = text.IndexOf(':');
            return colon < 0 ? null : (text[..colon], text[(colon + 1)..]);
        }
        catch (Exception e) when (e is JsonException or FormatException or IOException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>
    /// The X-Registry-Auth header value for an image: URL-safe base64 of
    /// <c>{"username","password","serveraddress"}</c>, or of <c>{}</c> without stored credentials.
    /// </summary>
    public static string RegistryAuthHeader(string image)
    {
        string server = ServerFor(image);
        var creds = Lookup(server);
        var o = new JsonObject();
        if (creds is { } c)
        {
            o["username"] = c.User;
            o["password"] = c.Password;
            o["serveraddress"] = server;
        }
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(o.ToJsonString())).Replace('+', '-').Replace('/', '_');
    }
}
