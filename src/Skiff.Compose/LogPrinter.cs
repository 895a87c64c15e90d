using System.Text;
using Skiff.Client;
using Skiff.Client.Models;

namespace Skiff.Compose;

/// <summary>Options of <c>compose logs</c> (and of the attached <c>up</c>).</summary>
public sealed class LogOptions
{
    public bool Follow { get; init; }
    public string? Tail { get; init; }
    public string? Since { get; init; }
    public string? Until { get; init; }
    public bool Timestamps { get; init; }
    public bool NoColor { get; init; }
    public bool NoPrefix { get; init; }
}

/// <summary>
/// Prints container output line by line with Docker Compose's prefix: the container's
/// <c>service-N</c> name padded to the longest one, then <c> | </c>; each service gets its own
/// colour (when colours are on). Lines from parallel containers never interleave mid-line.
/// </summary>
public sealed class LogPrinter(TextWriter output, bool colour, bool noPrefix)
{
    private static readonly string[] Colours = ["36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1"];
    private readonly Dictionary<string, string> _colourOf = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _width;

    /// <summary>The short name Docker Compose shows for a container: <c>service-N</c>, or the name of a one-off or custom-named container.</summary>
    public static string DisplayName(ContainerSummary c, string project)
    {
        string name = ComposeEngine.NameOf(c);
        string svc = ComposeEngine.ServiceOf(c);
        string expected = $"{project}-{svc}-{ComposeEngine.NumberOf(c)}";
        return name == expected ? $"{svc}-{ComposeEngine.NumberOf(c)}" : name;
    }

    /// <summary>Makes room for a name in the prefix column and gives its service a colour.</summary>
    public void Register(string name, string service)
    {
        lock (_lock)
        {
            _width = Math.Max(_width, name.Length);
            if (!_colourOf.ContainsKey(service)) _colourOf[service] = Colours[_colourOf.Count % Colours.Length];
        }
    }

    /// <summary>Writes one line for a container.</summary>
    public void Line(string name, string service, string text)
    {
        lock (_lock)
        {
            if (!noPrefix)
            {
                string prefix = name.PadRight(_width + 1) + " | ";
                if (colour && _colourOf.TryGetValue(service, out var c)) output.Write("\u001b[" + c + "m" + prefix + "\u001b[0m");
                else output.Write(prefix);
            }
            output.Write(text);
            output.Write('\n');
            output.Flush();
        }
    }

    /// <summary>Writes a line without prefix (e.g. "web-1 exited with code 0").</summary>
    public void Plain(string text)
    {
        lock (_lock)
        {
            output.Write(text);
            output.Write('\n');
            output.Flush();
        }
    }

    /// <summary>
    /// Streams one container's logs (GET /containers/{id}/logs) until the stream ends (the
    /// container stopped, when following) or <paramref name="ct"/> is cancelled.
    /// </summary>
    public async Task StreamAsync(EngineClient client, ContainerSummary c, string name, bool tty, LogOptions o, CancellationToken ct)
    {
        string service = ComposeEngine.ServiceOf(c);
        var q = new StringBuilder("/containers/").Append(Uri.EscapeDataString(c.Id)).Append("/logs?stdout=1&stderr=1");
        if (o.Follow) q.Append("&follow=1");
        if (o.Timestamps) q.Append("&timestamps=1");
        q.Append("&tail=").Append(Uri.EscapeDataString(o.Tail ?? "all"));
        if (o.Since is not null) q.Append("&since=").Append(Uri.EscapeDataString(o.Since));
        if (o.Until is not null) q.Append("&until=").Append(Uri.EscapeDataString(o.Until));
        using var resp = await client.SendAsync(HttpMethod.Get, q.ToString(), stream: true, ct: ct).ConfigureAwait(false);
        await using var body = await resp.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        var pending = new[] { new List<byte>(), new List<byte>(), new List<byte>() };
        void Feed(int stream, ReadOnlySpan<byte> data)
        {
            var buf = pending[Math.Clamp(stream, 0, 2)];
            foreach (byte b in data)
            {
                if (b == '\n')
                {
                    int len = buf.Count > 0 && buf[^1] == '\r' ? buf.Count - 1 : buf.Count;
                    Line(name, service, Encoding.UTF8.GetString(buf.ToArray(), 0, len));
                    buf.Clear();
                }
                else buf.Add(b);
            }
        }
        try
        {
            if (tty)
            {
                var chunk = new byte[16 * 1024];
                int n;
                while ((n = await body.ReadAsync(chunk, ct).ConfigureAwait(false)) > 0) Feed(1, chunk.AsSpan(0, n));
            }
            else
            {
                var reader = new MultiplexedStreamReader(body);
                while (true)
                {
                    var (ok, stream, payload) = await reader.ReadFrameAsync(ct).ConfigureAwait(false);
                    if (!ok) break;
                    Feed((int)stream, payload.Span);
                }
            }
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or HttpRequestException)
        {
            // The daemon closed the stream early (container removed): print what arrived.
        }
        foreach (var (buf, i) in pending.Select((b, i) => (b, i)))
            if (buf.Count > 0) Line(name, service, Encoding.UTF8.GetString(buf.ToArray()));
    }
}

/// <summary>The attached part of <c>compose up</c>.</summary>
public static class Attacher
{
    /// <summary>
    /// Follows the output of <paramref name="containers"/> until every one has stopped and prints
    /// "name exited with code N" for each. With <paramref name="abortOnExit"/> the first exit
    /// stops all of them. Returns the exit code of <paramref name="exitCodeFrom"/>'s container
    /// (else 0).
    /// </summary>
    public static async Task<int> RunAsync(ComposeEngine engine, List<ContainerSummary> containers, LogPrinter printer, LogOptions lo, bool abortOnExit, string? exitCodeFrom, int? timeout, CancellationToken ct)
    {
        var names = containers.Select(c => (c, name: LogPrinter.DisplayName(c, engine.Project.Name))).ToList();
        foreach (var (c, name) in names) printer.Register(name, ComposeEngine.ServiceOf(c));
        printer.Plain("Attaching to " + string.Join(", ", names.Select(n => n.name)));
        var follow = new LogOptions { Follow = true, Since = lo.Since, Timestamps = lo.Timestamps };
        var tasks = names.Select(async pair =>
        {
            var (c, name) = pair;
            bool tty;
            using (var doc = await engine.InspectAsync(c.Id, ct).ConfigureAwait(false))
                tty = doc.RootElement.GetProperty("Config").TryGetProperty("Tty", out var t) && t.GetBoolean();
            await printer.StreamAsync(engine.Client, c, name, tty, follow, ct).ConfigureAwait(false);
            using var resp = await engine.Client.SendAsync(HttpMethod.Post, "/containers/" + Uri.EscapeDataString(c.Id) + "/wait?condition=not-running", ct: ct).ConfigureAwait(false);
            var w = System.Text.Json.JsonSerializer.Deserialize(await resp.Content.ReadAsStringAsync(ct).ConfigureAwait(false), Skiff.Client.Models.ApiJson.Default.WaitResponse)!;
            printer.Plain($"{name} exited with code {w.StatusCode}");
            return (c, code: (int)w.StatusCode);
        }).ToList();
        int exit = 0;
        bool aborted = false;
        while (tasks.Count > 0)
        {
            var done = await Task.WhenAny(tasks).ConfigureAwait(false);
            tasks.Remove(done);
            var (c, code) = await done.ConfigureAwait(false);
            if (exitCodeFrom is not null && ComposeEngine.ServiceOf(c) == exitCodeFrom) exit = code;
            if (abortOnExit && !aborted)
            {
                aborted = true;
                printer.Plain("Aborting on container exit...");
                await engine.StopAsync(containers.Select(ComposeEngine.ServiceOf).Distinct().ToList(), timeout, ct).ConfigureAwait(false);
            }
        }
        return exit;
    }
}
