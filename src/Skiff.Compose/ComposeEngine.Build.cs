using System.Net.Http.Headers;
using System.Text.Json;
using Skiff.Client;

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
        using var context = new MemoryStream();
        BuildContextArchive.Write(b.Context, dockerfile, null, context);
        var content = new ByteArrayContent(context.GetBuffer(), 0, (int)context.Length);
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
}

/// <summary>Flags of <c>compose build</c>.</summary>
public sealed class BuildFlags
{
    public List<string> BuildArgs { get; init; } = [];
    public bool NoCache { get; init; }
    public bool Pull { get; init; }
    public bool Quiet { get; init; }
}
