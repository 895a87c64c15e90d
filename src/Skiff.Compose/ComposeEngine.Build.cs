using System.Formats.Tar;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Skiff.Compose;

public sealed partial class ComposeEngine
{
    /// <summary>
    /// Builds a service's image with POST /build: the context directory as a tar (minus what
    /// .dockerignore excludes), tagged <see cref="ImageName"/>, with the service's dockerfile,
    /// args, target and labels. Build output lines go to <see cref="Err"/>.
    /// </summary>
    public async Task BuildServiceAsync(Service s, BuildFlags? flags, CancellationToken ct)
    {
        var b = s.Build ?? throw new ComposeException($"service \"{s.Name}\" has no build section");
        if (!Directory.Exists(b.Context)) throw new ComposeException($"build context \"{b.Context}\" of service \"{s.Name}\" is not a directory");
        string image = ImageName(s);
        string dockerfile = b.Dockerfile ?? "Dockerfile";
        var args = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in b.Args) if (v is not null) args[k] = v;
        if (flags is not null)
            foreach (var kv in flags.BuildArgs)
            {
                int eq = kv.IndexOf('=');
                if (eq > 0) args[kv[..eq]] = kv[(eq + 1)..];
                else if (Project.Environment.TryGetValue(kv, out var ev)) args[kv] = ev;
            }
        var labels = new Dictionary<string, string>(b.Labels, StringComparer.Ordinal);
        var (repo, tag) = SplitImage(image);
        string q = "/build?t=" + P(tag is null ? repo : repo + ":" + tag) + "&dockerfile=" + P(dockerfile) + "&rm=1"
            + (args.Count > 0 ? "&buildargs=" + P(JsonSerializer.Serialize(args, ComposeJson.Default.DictionaryStringString)) : "")
            + (labels.Count > 0 ? "&labels=" + P(JsonSerializer.Serialize(labels, ComposeJson.Default.DictionaryStringString)) : "")
            + (b.Target is { } t ? "&target=" + P(t) : "")
            + (b.NoCache == true || flags?.NoCache == true ? "&nocache=1" : "")
            + (b.Pull == true || flags?.Pull == true ? "&pull=1" : "")
            + (flags?.Quiet == true ? "&q=1" : "");

        Progress("Service", s.Name, "Building");
        byte[] context = ContextTar(b.Context, dockerfile);
        var content = new ByteArrayContent(context);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        using var resp = await Client.SendAsync(HttpMethod.Post, q, content, stream: true, ct: ct).ConfigureAwait(false);
        await using var body = await resp.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        await ReadMessagesAsync(body, m =>
        {
            if (m.Stream is { Length: > 0 } line && flags?.Quiet != true)
                lock (_printLock) Err.Write(line);
        }, ct).ConfigureAwait(false);
        Progress("Service", s.Name, "Built");
    }

    /// <summary>The build context as an uncompressed tar: regular files, directories and symlinks, minus .dockerignore matches.</summary>
    public static byte[] ContextTar(string dir, string dockerfile)
    {
        var ignore = File.Exists(Path.Combine(dir, ".dockerignore")) ? DockerIgnore.Parse(File.ReadAllText(Path.Combine(dir, ".dockerignore"))) : new DockerIgnore([]);
        using var ms = new MemoryStream();
        using (var tar = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            void Walk(string abs, string rel)
            {
                foreach (var entry in new DirectoryInfo(abs).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
                {
                    string r = rel.Length == 0 ? entry.Name : rel + "/" + entry.Name;
                    bool keep = !ignore.Excludes(r) || r == dockerfile || r == ".dockerignore";
                    if (entry.LinkTarget is not null)
                    {
                        if (keep) tar.WriteEntry(entry.FullName, r);
                    }
                    else if (entry is DirectoryInfo)
                    {
                        if (keep) tar.WriteEntry(entry.FullName, r);
                        // An excluded directory may still hold re-included (!pattern) files.
                        if (keep || ignore.HasExceptions) Walk(entry.FullName, r);
                    }
                    else if (keep) tar.WriteEntry(entry.FullName, r);
                }
            }
            Walk(dir, "");
        }
        return ms.ToArray();
    }
}

/// <summary>Flags of <c>compose build</c>.</summary>
public sealed class BuildFlags
{
    public List<string> BuildArgs { get; init; } = [];
    public bool NoCache { get; init; }
    public bool Pull { get; init; }
    public bool Quiet { get; init; }
}

/// <summary>
/// .dockerignore: one pattern per line (<c>#</c> comments), <c>*</c> and <c>?</c> within a path
/// element, <c>**</c> across elements, a leading <c>!</c> re-includes; the last matching line wins.
/// A pattern also excludes everything below a matching directory.
/// </summary>
public sealed class DockerIgnore(List<(Regex Pattern, bool Exclude)> rules)
{
    /// <summary>True when some rule re-includes paths.</summary>
    public bool HasExceptions => rules.Any(r => !r.Exclude);

    /// <summary>Parses the file's text.</summary>
    public static DockerIgnore Parse(string text)
    {
        var rules = new List<(Regex, bool)>();
        foreach (var raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            bool exclude = true;
            if (line[0] == '!') { exclude = false; line = line[1..].Trim(); }
            line = line.Trim('/');
            if (line.StartsWith("./", StringComparison.Ordinal)) line = line[2..];
            if (line.Length == 0) continue;
            rules.Add((new Regex("^" + GlobToRegex(line) + "(/.*)?$", RegexOptions.CultureInvariant), exclude));
        }
        return new DockerIgnore(rules);
    }

    private static string GlobToRegex(string glob)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < glob.Length; i++)
        {
            char c = glob[i];
            if (c == '*' && i + 1 < glob.Length && glob[i + 1] == '*')
            {
                i++;
                if (i + 1 < glob.Length && glob[i + 1] == '/') { i++; sb.Append("(.*/)?"); }
                else sb.Append(".*");
            }
            else if (c == '*') sb.Append("[^/]*");
            else if (c == '?') sb.Append("[^/]");
            else sb.Append(Regex.Escape(c.ToString()));
        }
        return sb.ToString();
    }

    /// <summary>True when the context-relative path is excluded.</summary>
    public bool Excludes(string relPath)
    {
        bool excluded = false;
        foreach (var (re, ex) in rules)
            if (re.IsMatch(relPath)) excluded = ex;
        return excluded;
    }
}
