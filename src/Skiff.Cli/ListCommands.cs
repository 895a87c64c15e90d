using System.Globalization;
using System.Text.Json.Nodes;
using Skiff.Client.Models;
using static Skiff.Cli.Api;

namespace Skiff.Cli;

/// <summary>ps and images: API summaries turned into Docker's formatter rows and tables.</summary>
public static class ListCommands
{
    /// <summary>Docker's default ps table.</summary>
    public const string PsDefaultFormat = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

    /// <summary>Docker's default images table.</summary>
    public const string ImagesDefaultFormat = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

    /// <summary>Header texts for ps fields.</summary>
    public static JsonObject PsHeaders() => new()
    {
        ["Command"] = "COMMAND", ["CreatedAt"] = "CREATED AT", ["ID"] = "CONTAINER ID", ["Image"] = "IMAGE",
        ["Labels"] = "LABELS", ["LocalVolumes"] = "LOCAL VOLUMES", ["Mounts"] = "MOUNTS", ["Names"] = "NAMES",
        ["Networks"] = "NETWORKS", ["Platform"] = "PLATFORM", ["Ports"] = "PORTS", ["RunningFor"] = "CREATED",
        ["Size"] = "SIZE", ["State"] = "STATE", ["Status"] = "STATUS",
    };

    /// <summary>Header texts for images fields.</summary>
    public static JsonObject ImageHeaders() => new()
    {
        ["Containers"] = "CONTAINERS", ["CreatedAt"] = "CREATED AT", ["CreatedSince"] = "CREATED", ["Digest"] = "DIGEST",
        ["ID"] = "IMAGE ID", ["Repository"] = "REPOSITORY", ["SharedSize"] = "SHARED SIZE", ["Size"] = "SIZE",
        ["Tag"] = "TAG", ["UniqueSize"] = "UNIQUE SIZE", ["VirtualSize"] = "VIRTUAL SIZE",
    };

    /// <summary>skiff ps</summary>
    public static async Task<int> Ps(CliContext ctx, ParsedArgs a)
    {
        bool quiet = a.Bool("quiet"), noTrunc = a.Bool("no-trunc");
        int? last = a.Get("last") is { } n ? int.Parse(n, CultureInfo.InvariantCulture) : null;
        if (a.Bool("latest")) last = 1;
        bool all = a.Bool("all") || (last is > 0);
        string format = quiet ? "{{.ID}}" : UserFormat(a) ?? (a.Bool("size") ? PsDefaultFormat + "\t{{.Size}}" : PsDefaultFormat);
        bool size = a.Bool("size") || (!quiet && (format.Contains(".Size", StringComparison.Ordinal) || format.Contains("json .", StringComparison.Ordinal) || format.Trim() == "json"));
        string path = "/containers/json" + Q(("all", B(all)), ("limit", last is > 0 ? last.Value.ToString(CultureInfo.InvariantCulture) : null), ("size", B(size)), ("filters", Filters(a.GetAll("filter"))));
        var list = await ctx.Client.GetJsonAsync(path, ApiJson.Default.ListContainerSummary).ConfigureAwait(false);
        var now = DateTimeOffset.UtcNow;
        ctx.Out.Write(Formatting.Render(format, list.Select(c => (JsonNode?)PsRow(c, now, !noTrunc)), PsHeaders()));
        return 0;
    }

    /// <summary>One ps row with Docker's field names and formatting (keys in Docker's JSON order).</summary>
    public static JsonObject PsRow(ContainerSummary c, DateTimeOffset now, bool trunc)
    {
        var created = DateTimeOffset.FromUnixTimeSeconds(c.Created);
        string command = c.Command ?? "";
        if (trunc) command = Formatting.Ellipsis(command, 20);
        var names = (c.Names ?? []).Select(n => n.TrimStart('/')).Where(n => !trunc || !n.Contains('/')).ToList();
        string image = c.Image ?? "";
        if (trunc && image.StartsWith("sha256:", StringComparison.Ordinal)) image = Formatting.ShortId(image);
        string sizeText = Units.HumanSize(c.SizeRw ?? 0, 3);
        if (c.SizeRootFs is > 0) sizeText += $" (virtual {Units.HumanSize(c.SizeRootFs.Value, 3)})";
        var mounts = (c.Mounts ?? []).Select(m =>
        {
            string name = m.Name is { Length: > 0 } ? m.Name : m.Source ?? "";
            return trunc ? Formatting.Ellipsis(name, 15) : name;
        });
        return new JsonObject
        {
            ["Command"] = GoQuote(command),
            ["CreatedAt"] = Formatting.GoTime(created),
            ["ID"] = trunc ? Formatting.ShortId(c.Id) : c.Id,
            ["Image"] = image,
            ["Labels"] = string.Join(',', (c.Labels ?? []).OrderBy(k => k.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value)),
            ["LocalVolumes"] = (c.Mounts ?? []).Count(m => m.Type == "volume").ToString(CultureInfo.InvariantCulture),
            ["Mounts"] = string.Join(',', mounts),
            ["Names"] = string.Join(',', names),
            ["Networks"] = string.Join(',', (c.NetworkSettings?.Networks ?? []).Keys.Order(StringComparer.Ordinal)),
            ["Platform"] = null,
            ["Ports"] = DisplayablePorts(c.Ports ?? []),
            ["RunningFor"] = Units.HumanDuration(now - created) + " ago",
            ["Size"] = sizeText,
            ["State"] = c.State ?? "",
            ["Status"] = c.Status ?? "",
            ["\0Labels"] = LabelMap(c.Labels),
        };
    }

    /// <summary>The hidden raw label map that <c>.Label "key"</c> reads.</summary>
    public static JsonObject LabelMap(Dictionary<string, string>? labels)
    {
        var o = new JsonObject();
        foreach (var (k, v) in labels ?? []) o[k] = v;
        return o;
    }

    /// <summary>
    /// Docker's port column: published ports as "ip:public->private/proto" (IPv6 in brackets),
    /// unpublished as "private/proto", consecutive runs collapsed into ranges, joined by ", ".
    /// </summary>
    public static string DisplayablePorts(List<PortSummary> ports)
    {
        var groups = new List<(string Key, string Ip, string Proto, int Pub0, int Pub1, int Priv0, int Priv1)>();
        foreach (var p in ports.OrderBy(p => p.Type, StringComparer.Ordinal).ThenBy(p => p.IP ?? "", StringComparer.Ordinal).ThenBy(p => p.PrivatePort).ThenBy(p => p.PublicPort ?? 0))
        {
            string ip = p.IP ?? "", proto = p.Type ?? "tcp";
            int pub = p.PublicPort ?? 0;
            string key = pub == 0 ? "|" + proto : ip + "|" + proto;
            if (groups.Count > 0)
            {
                var g = groups[^1];
                bool contiguous = g.Key == key && g.Priv1 + 1 == p.PrivatePort && (pub == 0 ? g.Pub1 == 0 : g.Pub1 + 1 == pub);
                if (contiguous)
                {
                    groups[^1] = (g.Key, g.Ip, g.Proto, g.Pub0, pub, g.Priv0, p.PrivatePort);
                    continue;
                }
            }
            groups.Add((key, ip, proto, pub, pub, p.PrivatePort, p.PrivatePort));
        }
        static string Range(int a, int b) => a == b ? a.ToString(CultureInfo.InvariantCulture) : $"{a}-{b}";
        var parts = groups.Select(g =>
        {
            if (g.Pub0 == 0) return $"{Range(g.Priv0, g.Priv1)}/{g.Proto}";
            string ip = g.Ip.Contains(':') ? $"[{g.Ip}]" : g.Ip;
            return $"{ip}:{Range(g.Pub0, g.Pub1)}->{Range(g.Priv0, g.Priv1)}/{g.Proto}";
        });
        return string.Join(", ", parts);
    }

    /// <summary>skiff images [REPOSITORY[:TAG]]</summary>
    public static async Task<int> Images(CliContext ctx, ParsedArgs a)
    {
        bool quiet = a.Bool("quiet"), noTrunc = a.Bool("no-trunc"), digests = a.Bool("digests");
        var filters = a.GetAll("filter").ToList();
        if (a.Positionals.Count > 0) filters.Add("reference=" + a.Positionals[0]);
        string path = "/images/json" + Q(("all", B(a.Bool("all"))), ("filters", Filters(filters)));
        var list = await ctx.Client.GetJsonAsync(path, ApiJson.Default.ListImageSummary).ConfigureAwait(false);
        var now = DateTimeOffset.UtcNow;
        if (quiet)
        {
            foreach (var row in list.SelectMany(i => ImageRows(i, now, !noTrunc))) ctx.Out.WriteLine((string)row!["ID"]!);
            return 0;
        }
        string format = UserFormat(a) ?? (digests ? "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}" : ImagesDefaultFormat);
        ctx.Out.Write(Formatting.Render(format, list.SelectMany(i => ImageRows(i, now, !noTrunc)), ImageHeaders()));
        return 0;
    }

    /// <summary>Rows for one image: one per repository tag, or one "&lt;none&gt;" row.</summary>
    public static IEnumerable<JsonNode?> ImageRows(ImageSummary i, DateTimeOffset now, bool trunc)
    {
        var created = DateTimeOffset.FromUnixTimeSeconds(i.Created);
        JsonObject Row(string repo, string tag, string digest) => new()
        {
            ["Containers"] = i.Containers < 0 ? "N/A" : i.Containers.ToString(CultureInfo.InvariantCulture),
            ["CreatedAt"] = Formatting.GoTime(created),
            ["CreatedSince"] = Units.HumanDuration(now - created) + " ago",
            ["Digest"] = digest,
            ["ID"] = trunc ? Formatting.ShortId(i.Id) : i.Id,
            ["Repository"] = repo,
            ["SharedSize"] = i.SharedSize < 0 ? "N/A" : Units.HumanSize(i.SharedSize, 3),
            ["Size"] = Units.HumanSize(i.Size, 3),
            ["Tag"] = tag,
            ["UniqueSize"] = i.SharedSize < 0 ? "N/A" : Units.HumanSize(i.Size - i.SharedSize, 3),
            ["VirtualSize"] = Units.HumanSize(i.VirtualSize ?? i.Size),
        };
        string DigestFor(string repo)
        {
            foreach (string d in i.RepoDigests ?? [])
            {
                int at = d.IndexOf('@');
                if (at > 0 && d[..at] == repo) return d[(at + 1)..];
            }
            return "<none>";
        }
        var tags = (i.RepoTags ?? []).Where(t => t != "<none>:<none>").ToList();
        if (tags.Count == 0)
        {
            var digests = (i.RepoDigests ?? []).Where(d => d != "<none>@<none>").ToList();
            if (digests.Count == 0) { yield return Row("<none>", "<none>", "<none>"); yield break; }
            foreach (string d in digests)
            {
                int at = d.IndexOf('@');
                yield return Row(d[..at], "<none>", d[(at + 1)..]);
            }
            yield break;
        }
        foreach (string t in tags)
        {
            var (repo, tag) = SplitReference(t);
            yield return Row(repo, tag, DigestFor(repo));
        }
    }
}
