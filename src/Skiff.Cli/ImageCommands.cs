using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Skiff.Client;
using Skiff.Client.Models;
using static Skiff.Cli.Api;

namespace Skiff.Cli;

/// <summary>Image commands: import, rmi, tag, pull, push, save, load, history, commit, prune.</summary>
public static class ImageCommands
{
    /// <summary>skiff import [-c CHANGE] [-m MSG] file|URL|- [REPOSITORY[:TAG]]</summary>
    public static async Task<int> Import(CliContext ctx, ParsedArgs a)
    {
        string source = a.Positionals[0];
        string? repo = null, tag = null;
        if (a.Positionals.Count > 1) (repo, tag) = SplitReference(a.Positionals[1]);
        bool isUrl = source.StartsWith("http://", StringComparison.Ordinal) || source.StartsWith("https://", StringComparison.Ordinal);
        var pairs = new List<(string, string?)> { ("fromSrc", isUrl ? source : "-"), ("repo", repo), ("tag", tag), ("message", a.Get("message")), ("platform", a.Get("platform")) };
        foreach (string c in a.GetAll("change")) pairs.Add(("changes", c));
        HttpContent? content = null;
        if (!isUrl)
        {
            Stream input = source == "-" ? FdStream.Stdin() : OpenLocal(source);
            content = new StreamContent(input, 64 * 1024);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        }
        using var resp = await ctx.Client.SendAsync(HttpMethod.Post, "/images/create" + Q([.. pairs]), content, stream: true).ConfigureAwait(false);
        await using var body = await resp.Content.ReadAsStreamAsync().ConfigureAwait(false);
        await ProgressPrinter.PrintAsync(body, ctx.Out).ConfigureAwait(false);
        return 0;
    }

    /// <summary>skiff rmi [-f] [--no-prune] IMAGE...</summary>
    public static async Task<int> Remove(CliContext ctx, ParsedArgs a)
    {
        int rc = 0;
        foreach (string name in a.Positionals)
        {
            try
            {
                var items = await DeleteImage(ctx, name, a.Bool("force"), a.Bool("no-prune")).ConfigureAwait(false);
                foreach (var i in items)
                {
                    if (i.Untagged is { } u) ctx.Out.WriteLine("Untagged: " + u);
                    if (i.Deleted is { } d) ctx.Out.WriteLine("Deleted: " + d);
                }
            }
            catch (EngineApiException e)
            {
                ctx.Out.Flush();
                ctx.Err.WriteLine(e.DisplayMessage);
                rc = 1;
            }
        }
        return rc;
    }

    private static async Task<List<ImageDeleteItem>> DeleteImage(CliContext ctx, string name, bool force, bool noPrune)
    {
        using var resp = await ctx.Client.SendAsync(HttpMethod.Delete, "/images/" + P(name) + Q(("force", B(force)), ("noprune", B(noPrune)))).ConfigureAwait(false);
        await using var s = await resp.Content.ReadAsStreamAsync().ConfigureAwait(false);
        return await JsonSerializer.DeserializeAsync(s, ApiJson.Default.ListImageDeleteItem).ConfigureAwait(false) ?? [];
    }

    /// <summary>skiff tag SOURCE TARGET</summary>
    public static async Task<int> Tag(CliContext ctx, ParsedArgs a)
    {
        var (repo, tag) = SplitReference(a.Positionals[1]);
        await ctx.Client.SendNoContentAsync(HttpMethod.Post, "/images/" + P(a.Positionals[0]) + "/tag" + Q(("repo", repo), ("tag", tag))).ConfigureAwait(false);
        return 0;
    }

    /// <summary>skiff pull [-q] [--platform] NAME[:TAG|@DIGEST]</summary>
    public static async Task<int> Pull(CliContext ctx, ParsedArgs a)
    {
        string image = a.Positionals[0];
        if (Reference.Validate(image) is { } invalid) throw new CliException(invalid, 1);
        if (a.Bool("all-tags"))
        {
            if (!HasNoTagOrDigest(image)) throw new CliException("tag can't be used with --all-tags/-a", 1);
            await PullAllTagsAsync(ctx, image, a.Get("platform"), ctx.Out, a.Bool("quiet")).ConfigureAwait(false);
            ctx.Out.WriteLine(FullyQualifiedRepository(image));
            return 0;
        }
        if (HasNoTagOrDigest(image) && !a.Bool("quiet")) ctx.Out.WriteLine("Using default tag: latest");
        await PullAsync(ctx, image, a.Get("platform"), ctx.Out, a.Bool("quiet")).ConfigureAwait(false);
        ctx.Out.WriteLine(FullyQualified(image));
        return 0;
    }

    /// <summary>skiff push NAME[:TAG], with stored credentials for the registry (or <c>{}</c>) in X-Registry-Auth.</summary>
    public static async Task<int> Push(CliContext ctx, ParsedArgs a)
    {
        var (repo, tag) = SplitReference(a.Positionals[0]);
        var auth = new[] { new KeyValuePair<string, string>("X-Registry-Auth", Credentials.RegistryAuthHeader(repo)) };
        using var resp = await ctx.Client.SendAsync(HttpMethod.Post, "/images/" + P(repo) + "/push" + Q(("tag", tag)), stream: true, headers: auth).ConfigureAwait(false);
        await using var body = await resp.Content.ReadAsStreamAsync().ConfigureAwait(false);
        await ProgressPrinter.PrintAsync(body, ctx.Out, a.Bool("quiet")).ConfigureAwait(false);
        return 0;
    }

    /// <summary>skiff save [-o FILE] IMAGE...</summary>
    public static async Task<int> Save(CliContext ctx, ParsedArgs a)
    {
        string? output = a.Get("output");
        if (output is null && Terminal.IsTerminal(1))
            throw new CliException("cowardly refusing to save to a terminal. Use the -o flag or redirect", 1);
        string query = "?" + string.Join('&', a.Positionals.Select(n => "names=" + Uri.EscapeDataString(n)));
        using var resp = await ctx.Client.SendAsync(HttpMethod.Get, "/images/get" + query, stream: true).ConfigureAwait(false);
        await ContainerCommands.CopyBodyToOutput(ctx, resp, output).ConfigureAwait(false);
        return 0;
    }

    /// <summary>skiff load [-i FILE] [-q]</summary>
    public static async Task<int> Load(CliContext ctx, ParsedArgs a)
    {
        string? input = a.Get("input");
        if (input is null && Terminal.IsTerminal(0))
            throw new CliException("requested load from stdin, but stdin is empty", 1);
        Stream s = input is null ? FdStream.Stdin() : OpenLocal(input);
        var content = new StreamContent(s, 64 * 1024);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        using var resp = await ctx.Client.SendAsync(HttpMethod.Post, "/images/load" + Q(("quiet", B(a.Bool("quiet")))), content, stream: true).ConfigureAwait(false);
        await using var body = await resp.Content.ReadAsStreamAsync().ConfigureAwait(false);
        await ProgressPrinter.PrintAsync(body, ctx.Out).ConfigureAwait(false);
        return 0;
    }

    /// <summary>skiff history [-H] [--no-trunc] [-q] [--format] IMAGE</summary>
    public static async Task<int> History(CliContext ctx, ParsedArgs a)
    {
        var items = await ctx.Client.GetJsonAsync("/images/" + P(a.Positionals[0]) + "/history", ApiJson.Default.ListHistoryItem).ConfigureAwait(false);
        bool noTrunc = a.Bool("no-trunc"), human = !a.Has("human") || a.Bool("human");
        var now = DateTimeOffset.UtcNow;
        var rows = items.Select(h =>
        {
            var created = DateTimeOffset.FromUnixTimeSeconds(h.Created);
            string by = (h.CreatedBy ?? "").Replace('\t', ' ');
            return (JsonNode?)new JsonObject
            {
                ["Comment"] = h.Comment ?? "",
                ["CreatedAt"] = Rfc3339(created),
                ["CreatedBy"] = noTrunc ? by : Formatting.Ellipsis(by, 45),
                ["CreatedSince"] = human ? Units.HumanDuration(now - created) + " ago" : Rfc3339(created),
                ["ID"] = h.Id == "<missing>" ? h.Id : noTrunc ? h.Id : Formatting.ShortId(h.Id),
                ["Size"] = human ? Units.HumanSize(h.Size, 3) : h.Size.ToString(CultureInfo.InvariantCulture),
            };
        });
        string format = a.Bool("quiet") ? "{{.ID}}" : UserFormat(a) ?? (human ? "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}" : "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}");
        var headers = new JsonObject { ["Comment"] = "COMMENT", ["CreatedAt"] = "CREATED AT", ["CreatedBy"] = "CREATED BY", ["CreatedSince"] = "CREATED", ["ID"] = "IMAGE", ["Size"] = "SIZE" };
        ctx.Out.Write(Formatting.Render(format, rows, headers));
        return 0;
    }

    /// <summary>Go's time.RFC3339 in local time: "2026-11-23T16:48:45Z" or "...+01:00".</summary>
    public static string Rfc3339(DateTimeOffset t)
    {
        var local = t.ToLocalTime();
        return local.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + (local.Offset == TimeSpan.Zero ? "Z" : local.ToString("zzz", CultureInfo.InvariantCulture));
    }

    /// <summary>skiff commit [-a] [-c] [-m] [-p] CONTAINER [REPOSITORY[:TAG]]</summary>
    public static async Task<int> Commit(CliContext ctx, ParsedArgs a)
    {
        string? repo = null, tag = null;
        if (a.Positionals.Count > 1) (repo, tag) = SplitReference(a.Positionals[1]);
        var pairs = new List<(string, string?)>
        {
            ("container", a.Positionals[0]), ("repo", repo), ("tag", tag), ("comment", a.Get("message")), ("author", a.Get("author")),
            ("pause", a.Has("pause") && !a.Bool("pause") ? "0" : "1"),
        };
        foreach (string c in a.GetAll("change")) pairs.Add(("changes", c));
        using var resp = await ctx.Client.SendAsync(HttpMethod.Post, "/commit" + Q([.. pairs]), EngineClient.JsonContent(new Dictionary<string, string>(), ApiJson.Default.DictionaryStringString)).ConfigureAwait(false);
        await using var s = await resp.Content.ReadAsStreamAsync().ConfigureAwait(false);
        var id = await JsonSerializer.DeserializeAsync(s, ApiJson.Default.IdResponse).ConfigureAwait(false);
        ctx.Out.WriteLine(id?.Id);
        return 0;
    }

    /// <summary>skiff image prune [-a] [-f] [--filter]</summary>
    public static async Task<int> Prune(CliContext ctx, ParsedArgs a)
    {
        bool all = a.Bool("all");
        string warning = all ? "WARNING! This will remove all images without at least one container associated to them." : "WARNING! This will remove all dangling images.";
        if (!a.Bool("force") && !ContainerCommands.Confirm(ctx, warning)) return 0;
        var filters = a.GetAll("filter").ToList();
        filters.Add("dangling=" + (all ? "false" : "true"));
        var r = await ContainerCommands.PostPrune(ctx, "/images/prune" + Q(("filters", Filters(filters)))).ConfigureAwait(false);
        if (r.ImagesDeleted is { Count: > 0 } deleted)
        {
            ctx.Out.WriteLine("Deleted Images:");
            foreach (var i in deleted)
            {
                if (i.Untagged is { } u) ctx.Out.WriteLine("untagged: " + u);
                if (i.Deleted is { } d) ctx.Out.WriteLine("deleted: " + d);
            }
            ctx.Out.WriteLine();
        }
        ctx.Out.WriteLine("Total reclaimed space: " + Units.HumanSize(r.SpaceReclaimed));
        return 0;
    }
}
