using System.Text;
using System.Text.Json;
using Skiff.Client;
using Skiff.Client.Models;

namespace Skiff.Cli;

/// <summary>Small helpers shared by commands: query strings, image references, common calls.</summary>
public static class Api
{
    /// <summary>Builds "?k=v&amp;..." from pairs, skipping null values; keys and values are escaped.</summary>
    public static string Q(params (string Key, string? Value)[] pairs)
    {
        var sb = new StringBuilder();
        foreach (var (k, v) in pairs)
        {
            if (v is null) continue;
            sb.Append(sb.Length == 0 ? '?' : '&').Append(Uri.EscapeDataString(k)).Append('=').Append(Uri.EscapeDataString(v));
        }
        return sb.ToString();
    }

    /// <summary>The --format value, where "" and "table" alone mean the command's default table (null).</summary>
    public static string? UserFormat(ParsedArgs a) => a.Get("format") is { } f && f.Trim() is not ("" or "table") ? f : null;

    /// <summary>Opens a local file for reading; failures use Go's "open PATH: reason" wording (exit 1).</summary>
    public static Stream OpenLocal(string path)
    {
        try { return File.OpenRead(path); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { throw new CliException($"open {path}: no such file or directory", 1); }
        catch (UnauthorizedAccessException) { throw new CliException($"open {path}: permission denied", 1); }
        catch (IOException) { throw new CliException($"open {path}: input/output error", 1); }
    }

    /// <summary>Escapes one path segment (container or image name).</summary>
    public static string P(string segment) => Uri.EscapeDataString(segment);

    /// <summary>"1" for true, null for false (the parameter is then omitted).</summary>
    public static string? B(bool b) => b ? "1" : null;

    /// <summary>
    /// Splits an image reference into repository and tag/digest the way /images/create wants them:
    /// "busybox" -> ("busybox", "latest"), "r:5000/x:1" -> ("r:5000/x", "1"), "x@sha256:.." -> ("x", "sha256:..").
    /// </summary>
    public static (string Repo, string Tag) SplitReference(string image)
    {
        int at = image.IndexOf('@');
        if (at >= 0) return (image[..at], image[(at + 1)..]);
        int slash = image.LastIndexOf('/');
        int colon = image.LastIndexOf(':');
        if (colon > slash) return (image[..colon], image[(colon + 1)..]);
        return (image, "latest");
    }

    /// <summary>The name Docker prints in "Unable to find image 'busybox:latest' locally".</summary>
    public static string FamiliarWithTag(string image)
    {
        foreach (string prefix in new[] { "docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/" })
        {
            if (image.StartsWith(prefix, StringComparison.Ordinal))
            {
                image = image[prefix.Length..];
                break;
            }
        }
        if (image.Contains('@')) return image;
        var (repo, tag) = SplitReference(image);
        return repo + ":" + tag;
    }

    /// <summary>True when the reference names neither a tag nor a digest ("busybox", "r:5000/x").</summary>
    public static bool HasNoTagOrDigest(string image)
    {
        if (image.Contains('@')) return false;
        int slash = image.LastIndexOf('/');
        return image.LastIndexOf(':') <= slash;
    }

    /// <summary>
    /// The fully qualified name Docker prints after a pull: "busybox" -> "docker.io/library/busybox:latest",
    /// "r.example:5000/x:1" unchanged; a first component with '.' or ':' or "localhost" is a registry.
    /// </summary>
    public static string FullyQualified(string image)
    {
        string named = FamiliarWithTag(image);
        int slash = named.IndexOf('/');
        string first = slash < 0 ? "" : named[..slash];
        bool hasDomain = slash >= 0 && (first.Contains('.') || first.Contains(':') || first == "localhost");
        if (hasDomain) return named;
        return "docker.io/" + (slash < 0 ? "library/" : "") + named;
    }

    /// <summary>Encodes Docker filters ("k=v" strings) as the API's {"k":{"v":true}} JSON.</summary>
    public static string? Filters(IReadOnlyList<string> filters)
    {
        if (filters.Count == 0) return null;
        var map = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        foreach (string f in filters)
        {
            int eq = f.IndexOf('=');
            if (eq <= 0) throw new CliException($"invalid argument \"{f}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)", 125);
            string k = f[..eq].Trim().ToLowerInvariant(), v = f[(eq + 1)..].Trim();
            if (!map.TryGetValue(k, out var set)) map[k] = set = new SortedSet<string>(StringComparer.Ordinal);
            set.Add(v);
        }
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            foreach (var (k, set) in map)
            {
                w.WriteStartObject(k);
                foreach (string v in set) w.WriteBoolean(v, true);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>GET /containers/{id}/json, reduced to what the CLI needs.</summary>
    public static Task<ContainerInspectLite> InspectContainerAsync(CliContext ctx, string id)
        => ctx.Client.GetJsonAsync("/containers/" + P(id) + "/json", ApiJson.Default.ContainerInspectLite);

    /// <summary>
    /// POST /images/create?fromImage=..&amp;tag=.. and prints progress to <paramref name="w"/>.
    /// A stream error throws <see cref="EngineStreamException"/>.
    /// </summary>
    public static async Task PullAsync(CliContext ctx, string image, string? platform, TextWriter w, bool quiet = false)
    {
        var (repo, tag) = SplitReference(image);
        var auth = new[] { new KeyValuePair<string, string>("X-Registry-Auth", Credentials.RegistryAuthHeader(image)) };
        using var resp = await ctx.Client.SendAsync(HttpMethod.Post, "/images/create" + Q(("fromImage", repo), ("tag", tag), ("platform", platform)), stream: true, headers: auth).ConfigureAwait(false);
        await using var body = await resp.Content.ReadAsStreamAsync().ConfigureAwait(false);
        await ProgressPrinter.PrintAsync(body, w, quiet).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>pull --all-tags</c>: POST /images/create with <c>fromImage</c> and no <c>tag</c> (the daemon then pulls every
    /// tag of the repository), printing progress to <paramref name="w"/>.
    /// </summary>
    public static async Task PullAllTagsAsync(CliContext ctx, string repository, string? platform, TextWriter w, bool quiet)
    {
        var auth = new[] { new KeyValuePair<string, string>("X-Registry-Auth", Credentials.RegistryAuthHeader(repository)) };
        using var resp = await ctx.Client.SendAsync(HttpMethod.Post, "/images/create" + Q(("fromImage", repository), ("platform", platform)), stream: true, headers: auth).ConfigureAwait(false);
        await using var body = await resp.Content.ReadAsStreamAsync().ConfigureAwait(false);
        await ProgressPrinter.PrintAsync(body, w, quiet).ConfigureAwait(false);
    }

    /// <summary>The fully qualified repository Docker prints after <c>pull --all-tags</c>: "busybox" -> "docker.io/library/busybox".</summary>
    public static string FullyQualifiedRepository(string repository)
    {
        string q = FullyQualified(repository);
        return q.EndsWith(":latest", StringComparison.Ordinal) ? q[..^":latest".Length] : q;
    }

    /// <summary>Writes a JSON array of raw documents indented by 4 spaces, as Docker's inspect does.</summary>
    public static string IndentedArray(IEnumerable<JsonElement> items)
    {
        using var ms = new MemoryStream();
        var opts = new JsonWriterOptions { Indented = true, IndentSize = 4, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using (var w = new Utf8JsonWriter(ms, opts))
        {
            w.WriteStartArray();
            foreach (var e in items) e.WriteTo(w);
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(ms.ToArray())
            .Replace("<", "\\u003c").Replace(">", "\\u003e").Replace("&", "\\u0026") + "\n";
    }

    /// <summary>Go's strconv.Quote for the characters container commands contain.</summary>
    public static string GoQuote(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                case '\r': sb.Append("\\r"); break;
                default:
                    if (c < 0x20 || c == 0x7f) sb.Append("\\x").Append(((int)c).ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}
