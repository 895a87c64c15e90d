using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Skiff.Client;
using Skiff.Client.Models;
using static Skiff.Cli.Api;

namespace Skiff.Cli;

/// <summary>Container lifecycle commands: run, create, start, wait, stop, kill, restart, rm, exec and friends.</summary>
public static class ContainerCommands
{
    /// <summary>Docker's classification of start errors into exit statuses 127, 126 or 125.</summary>
    public static int StartErrorExitCode(string message)
    {
        if (message.Contains("executable file not found", StringComparison.Ordinal) || message.Contains("no such file or directory", StringComparison.Ordinal))
            return 127;
        if (message.Contains("permission denied", StringComparison.Ordinal) || message.Contains("cannot execute", StringComparison.Ordinal) || message.Contains("is a directory", StringComparison.Ordinal))
            return 126;
        return 125;
    }

    /// <summary>The local terminal's size (stdout, else stdin), when either is a terminal.</summary>
    private static (int Rows, int Cols)? TerminalSize() => Terminal.GetSize(Terminal.IsTerminal(1) ? 1 : 0) is { Rows: > 0 } s ? s : null;

    private static CliException RunError(CliContext ctx, string message, int code = 125)
        => new($"skiff: {message}\n\nRun 'skiff {ctx.CommandName} --help' for more information", code);

    /// <summary>Reads an --env-file/--label-file, failing with Go's "open PATH: ..." wording.</summary>
    private static string ReadFlagFile(string path)
    {
        try { return File.ReadAllText(path); }
        catch (FileNotFoundException) { throw new FlagException($"open {path}: no such file or directory"); }
        catch (DirectoryNotFoundException) { throw new FlagException($"open {path}: no such file or directory"); }
        catch (UnauthorizedAccessException) { throw new FlagException($"open {path}: permission denied"); }
    }

    private static ContainerSpec BuildSpec(ParsedArgs a)
    {
        try
        {
            return RunOptions.Build(a, Environment.GetEnvironmentVariable, ReadFlagFile);
        }
        catch (IOException e)
        {
            throw new FlagException(e.Message);
        }
    }

    /// <summary>
    /// POST /containers/create; on 404 (image missing) prints "Unable to find image" and pulls
    /// through POST /images/create, then retries once. Warnings go to stderr.
    /// </summary>
    public static async Task<string> CreateAsync(CliContext ctx, ContainerSpec spec)
    {
        if (Reference.Validate(spec.Body.Image!) is { } invalid) throw new EngineStreamException(invalid);
        if (spec.CidFile is { } cidPath && File.Exists(cidPath))
            throw new EngineStreamException($"container ID file found, make sure the other container isn't running or delete {cidPath}");
        string path = "/containers/create" + Q(("name", spec.Name), ("platform", spec.Platform));
        string image = spec.Body.Image!;
        if (spec.Pull == "always") await PullAsync(ctx, image, spec.Platform, ctx.Err).ConfigureAwait(false);
        ContainerCreateResponse resp;
        try
        {
            resp = await ctx.Client.PostJsonAsync(path, spec.Body, ApiJson.Default.ContainerCreateRequest, ApiJson.Default.ContainerCreateResponse).ConfigureAwait(false);
        }
        catch (EngineApiException e) when (e.Status == HttpStatusCode.NotFound && spec.Pull != "never")
        {
            ctx.Err.WriteLine($"Unable to find image '{FamiliarWithTag(image)}' locally");
            await PullAsync(ctx, image, spec.Platform, ctx.Err).ConfigureAwait(false);
            resp = await ctx.Client.PostJsonAsync(path, spec.Body, ApiJson.Default.ContainerCreateRequest, ApiJson.Default.ContainerCreateResponse).ConfigureAwait(false);
        }
        foreach (string w in resp.Warnings ?? []) ctx.Err.WriteLine("WARNING: " + w);
        if (spec.CidFile is { } cid) await File.WriteAllTextAsync(cid, resp.Id).ConfigureAwait(false);
        return resp.Id;
    }

    /// <summary>skiff create: prints the new container's full ID.</summary>
    public static async Task<int> Create(CliContext ctx, ParsedArgs a)
    {
        ContainerSpec spec;
        try { spec = BuildSpec(a); }
        catch (FlagException e) { throw RunError(ctx, e.Message); }
        try
        {
            string id = await CreateAsync(ctx, spec).ConfigureAwait(false);
            ctx.Out.WriteLine(id);
            return 0;
        }
        catch (EngineApiException e) { throw RunError(ctx, e.DisplayMessage); }
        catch (EngineStreamException e) { throw RunError(ctx, e.Message); }
        catch (EngineConnectionException e) { throw RunError(ctx, e.Message); }
    }

    /// <summary>
    /// skiff run, in Docker's order: create (pulling if needed); attach (hijacked) before start;
    /// wait (next-exit, or removed with --rm) registered before start; start; stream; exit with the
    /// container's status.
    /// </summary>
    public static async Task<int> Run(CliContext ctx, ParsedArgs a)
    {
        ContainerSpec spec;
        try { spec = BuildSpec(a); }
        catch (FlagException e) { throw RunError(ctx, e.Message); }
        var body = spec.Body;
        if (body.AttachStdin && body.Tty && !Terminal.IsTerminal(0))
            throw new CliException("the input device is not a TTY", 1);
        if (spec.DetachKeys is { } dk)
        {
            try { EscapeDetector.ParseKeys(dk); }
            catch (FormatException e) { throw RunError(ctx, e.Message); }
        }

        if (body.Tty && TerminalSize() is { } size) body.HostConfig!.ConsoleSize = [size.Rows, size.Cols];
        string id;
        try { id = await CreateAsync(ctx, spec).ConfigureAwait(false); }
        catch (EngineApiException e) { throw RunError(ctx, e.DisplayMessage); }
        catch (EngineStreamException e) { throw RunError(ctx, e.Message); }
        catch (EngineConnectionException e) { throw RunError(ctx, e.Message); }

        if (spec.Detach)
        {
            await StartOrThrowAsync(ctx, id).ConfigureAwait(false);
            ctx.Out.WriteLine(id);
            return 0;
        }

        bool attachAny = body.AttachStdin || body.AttachStdout || body.AttachStderr;
        HijackedConnection? conn = null;
        try
        {
            Task<WaitResponse> wait;
            try
            {
                if (attachAny)
                {
                    conn = await ctx.Client.HijackAsync("/containers/" + id + "/attach" + Q(
                        ("stream", "1"),
                        ("stdin", B(body.AttachStdin)),
                        ("stdout", B(body.AttachStdout)),
                        ("stderr", B(body.AttachStderr)),
                        ("detachKeys", spec.DetachKeys)), null).ConfigureAwait(false);
                }
                wait = await BeginWaitAsync(ctx, id, body.HostConfig?.AutoRemove == true ? "removed" : "next-exit").ConfigureAwait(false);
            }
            catch (EngineApiException e) { throw RunError(ctx, e.DisplayMessage); }
            catch (EngineConnectionException e) { throw RunError(ctx, e.Message); }
            await StartOrThrowAsync(ctx, id, body.HostConfig?.AutoRemove == true ? wait : null).ConfigureAwait(false);

            using var signals = !body.Tty && spec.SigProxy ? ProxySignals(ctx, id) : null;
            if (conn is not null)
            {
                bool detached = await AttachPump.RunAsync(ctx, conn, body.Tty, body.AttachStdin, spec.DetachKeys,
                    (h, w) => ctx.Client.SendNoContentAsync(HttpMethod.Post, $"/containers/{id}/resize?h={h}&w={w}")).ConfigureAwait(false);
                if (detached) return 0;
            }
            return await FinishWaitAsync(ctx, wait).ConfigureAwait(false);
        }
        finally
        {
            conn?.Dispose();
        }
    }

    /// <summary>
    /// POST /containers/{id}/start. On failure with --rm, waits (up to 10 s) for the daemon to
    /// remove the container first, as Docker's CLI does, so the name is free when the CLI exits.
    /// </summary>
    private static async Task StartOrThrowAsync(CliContext ctx, string id, Task<WaitResponse>? removed = null)
    {
        try
        {
            await ctx.Client.SendNoContentAsync(HttpMethod.Post, "/containers/" + id + "/start").ConfigureAwait(false);
        }
        catch (EngineApiException e)
        {
            if (removed is not null)
            {
                try { await removed.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false); }
                catch (Exception) { }
            }
            throw RunError(ctx, e.DisplayMessage, StartErrorExitCode(e.Message));
        }
    }

    /// <summary>
    /// Sends POST /containers/{id}/wait and returns once the daemon has answered with headers
    /// (it registers the waiter before flushing them), or after one second for daemons that
    /// do not flush early. The returned task completes with the exit status.
    /// </summary>
    public static async Task<Task<WaitResponse>> BeginWaitAsync(CliContext ctx, string id, string condition)
    {
        var headers = ctx.Client.SendAsync(HttpMethod.Post, "/containers/" + P(id) + "/wait" + Q(("condition", condition)), stream: true);
        await Task.WhenAny(headers, Task.Delay(1000)).ConfigureAwait(false);
        return ReadWait(headers);

        static async Task<WaitResponse> ReadWait(Task<HttpResponseMessage> headers)
        {
            using var resp = await headers.ConfigureAwait(false);
            await using var s = await resp.Content.ReadAsStreamAsync().ConfigureAwait(false);
            return (await JsonSerializer.DeserializeAsync(s, ApiJson.Default.WaitResponse).ConfigureAwait(false))!;
        }
    }

    private static async Task<int> FinishWaitAsync(CliContext ctx, Task<WaitResponse> wait)
    {
        WaitResponse w;
        try { w = await wait.ConfigureAwait(false); }
        catch (EngineApiException e) { throw new CliException("skiff: " + e.DisplayMessage, 125); }
        if (w.Error?.Message is { Length: > 0 } msg) throw new CliException("skiff: " + msg, 125);
        return (int)w.StatusCode;
    }

    private static SignalProxy ProxySignals(CliContext ctx, string id) => new(ctx, id);

    /// <summary>Forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT to the container (docker run --sig-proxy).</summary>
    private sealed class SignalProxy : IDisposable
    {
        private readonly List<PosixSignalRegistration> _regs = [];

        public SignalProxy(CliContext ctx, string id)
        {
            foreach (var (sig, name) in new[] { (PosixSignal.SIGINT, "SIGINT"), (PosixSignal.SIGTERM, "SIGTERM"), (PosixSignal.SIGHUP, "SIGHUP"), (PosixSignal.SIGQUIT, "SIGQUIT") })
            {
                _regs.Add(PosixSignalRegistration.Create(sig, c =>
                {
                    c.Cancel = true;
                    _ = Task.Run(async () =>
                    {
                        try { await ctx.Client.SendNoContentAsync(HttpMethod.Post, $"/containers/{id}/kill?signal={name}").ConfigureAwait(false); }
                        catch (Exception) { }
                    });
                }));
            }
        }

        public void Dispose()
        {
            foreach (var r in _regs) r.Dispose();
        }
    }

    /// <summary>skiff start [-a] [-i] CONTAINER...</summary>
    public static async Task<int> Start(CliContext ctx, ParsedArgs a)
    {
        bool attach = a.Bool("attach"), interactive = a.Bool("interactive");
        if (attach || interactive)
        {
            if (a.Positionals.Count > 1) throw new CliException("you cannot start and attach multiple containers at once", 1);
            string name = a.Positionals[0];
            var info = await InspectContainerAsync(ctx, name).ConfigureAwait(false);
            bool tty = info.Config?.Tty == true;
            bool stdin = interactive && info.Config?.OpenStdin == true;
            using var conn = await ctx.Client.HijackAsync("/containers/" + P(info.Id) + "/attach" + Q(("stream", "1"), ("stdin", B(stdin)), ("stdout", "1"), ("stderr", "1"), ("detachKeys", a.Get("detach-keys"))), null).ConfigureAwait(false);
            var wait = await BeginWaitAsync(ctx, info.Id, "next-exit").ConfigureAwait(false);
            try { await ctx.Client.SendNoContentAsync(HttpMethod.Post, "/containers/" + P(info.Id) + "/start").ConfigureAwait(false); }
            catch (EngineApiException e) { throw new CliException(e.DisplayMessage, StartErrorExitCode(e.Message) == 125 ? 1 : StartErrorExitCode(e.Message)); }
            bool detached = await AttachPump.RunAsync(ctx, conn, tty, stdin, a.Get("detach-keys"),
                (h, w) => ctx.Client.SendNoContentAsync(HttpMethod.Post, $"/containers/{info.Id}/resize?h={h}&w={w}")).ConfigureAwait(false);
            if (detached) return 0;
            var w = await wait.ConfigureAwait(false);
            return (int)w.StatusCode;
        }
        return await ForEach(ctx, a.Positionals, name => ctx.Client.SendNoContentAsync(HttpMethod.Post, "/containers/" + P(name) + "/start"), "failed to start containers").ConfigureAwait(false);
    }

    /// <summary>
    /// Runs an action per name, printing the name on success and Docker's error line otherwise;
    /// returns 1 if any failed.
    /// </summary>
    public static async Task<int> ForEach(CliContext ctx, IEnumerable<string> names, Func<string, Task> action, string? summary = null, bool printName = true)
    {
        var failed = new List<string>();
        foreach (string name in names)
        {
            try
            {
                await action(name).ConfigureAwait(false);
                if (printName) ctx.Out.WriteLine(name);
            }
            catch (EngineApiException e)
            {
                ctx.Out.Flush();
                ctx.Err.WriteLine(e.DisplayMessage);
                failed.Add(name);
            }
        }
        if (failed.Count > 0 && summary is not null)
        {
            ctx.Out.Flush();
            ctx.Err.WriteLine($"Error: {summary}: {string.Join(", ", failed)}");
        }
        return failed.Count > 0 ? 1 : 0;
    }

    /// <summary>skiff wait CONTAINER...: prints each exit status.</summary>
    public static async Task<int> Wait(CliContext ctx, ParsedArgs a)
    {
        int rc = 0;
        foreach (string name in a.Positionals)
        {
            try
            {
                var w = await (await BeginWaitAsync(ctx, name, "not-running").ConfigureAwait(false)).ConfigureAwait(false);
                ctx.Out.WriteLine(w.StatusCode);
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

    /// <summary>skiff rm [-f] [-v] [-l] CONTAINER...</summary>
    public static Task<int> Remove(CliContext ctx, ParsedArgs a)
        => ForEach(ctx, a.Positionals, name => ctx.Client.SendNoContentAsync(HttpMethod.Delete, "/containers/" + P(name) + Q(("force", B(a.Bool("force"))), ("v", B(a.Bool("volumes"))), ("link", B(a.Bool("link"))))));

    /// <summary>skiff stop [-t N] [-s SIG] CONTAINER...</summary>
    public static Task<int> Stop(CliContext ctx, ParsedArgs a)
        => ForEach(ctx, a.Positionals, name => ctx.Client.SendNoContentAsync(HttpMethod.Post, "/containers/" + P(name) + "/stop" + Q(("t", a.Get("time") ?? a.Get("timeout")), ("signal", a.Get("signal")))));

    /// <summary>skiff restart [-t N] [-s SIG] CONTAINER...</summary>
    public static Task<int> Restart(CliContext ctx, ParsedArgs a)
        => ForEach(ctx, a.Positionals, name => ctx.Client.SendNoContentAsync(HttpMethod.Post, "/containers/" + P(name) + "/restart" + Q(("t", a.Get("time") ?? a.Get("timeout")), ("signal", a.Get("signal")))));

    /// <summary>skiff kill [-s SIG] CONTAINER...</summary>
    public static Task<int> Kill(CliContext ctx, ParsedArgs a)
        => ForEach(ctx, a.Positionals, name => ctx.Client.SendNoContentAsync(HttpMethod.Post, "/containers/" + P(name) + "/kill" + Q(("signal", a.Get("signal")))));

    /// <summary>skiff pause CONTAINER...</summary>
    public static Task<int> Pause(CliContext ctx, ParsedArgs a)
        => ForEach(ctx, a.Positionals, name => ctx.Client.SendNoContentAsync(HttpMethod.Post, "/containers/" + P(name) + "/pause"));

    /// <summary>skiff unpause CONTAINER...</summary>
    public static Task<int> Unpause(CliContext ctx, ParsedArgs a)
        => ForEach(ctx, a.Positionals, name => ctx.Client.SendNoContentAsync(HttpMethod.Post, "/containers/" + P(name) + "/unpause"));

    /// <summary>skiff rename OLD NEW</summary>
    public static async Task<int> Rename(CliContext ctx, ParsedArgs a)
    {
        string newName = a.Positionals[1].Trim();
        if (newName.Length == 0) throw new CliException("Error: neither old nor new names may be empty", 1);
        try
        {
            await ctx.Client.SendNoContentAsync(HttpMethod.Post, "/containers/" + P(a.Positionals[0]) + "/rename" + Q(("name", newName))).ConfigureAwait(false);
        }
        catch (EngineApiException e)
        {
            throw new CliException($"{e.DisplayMessage}\nError: failed to rename container named {a.Positionals[0]}", 1);
        }
        return 0;
    }

    /// <summary>skiff logs [-f] [--tail N] [--since T] [--until T] [-t] [--details] CONTAINER</summary>
    public static async Task<int> Logs(CliContext ctx, ParsedArgs a)
    {
        string name = a.Positionals[0];
        var info = await InspectContainerAsync(ctx, name).ConfigureAwait(false);
        var now = DateTimeOffset.UtcNow;
        string path = "/containers/" + P(name) + "/logs" + Q(
            ("stdout", "1"), ("stderr", "1"),
            ("since", a.Get("since") is { } s ? Units.GetTimestamp(s, now) : null),
            ("until", a.Get("until") is { } u ? Units.GetTimestamp(u, now) : null),
            ("timestamps", B(a.Bool("timestamps"))),
            ("follow", B(a.Bool("follow"))),
            ("tail", a.Get("tail") ?? "all"),
            ("details", B(a.Bool("details"))));
        using var resp = await ctx.Client.SendAsync(HttpMethod.Get, path, stream: true).ConfigureAwait(false);
        await using var body = await resp.Content.ReadAsStreamAsync().ConfigureAwait(false);
        ctx.Out.Flush();
        var stdout = ctx.RawOut;
        if (info.Config?.Tty == true) await body.CopyToAsync(stdout).ConfigureAwait(false);
        else await new MultiplexedStreamReader(body).CopyToAsync(stdout, ctx.RawErr).ConfigureAwait(false);
        return 0;
    }

    /// <summary>skiff exec [-d] [-i] [-t] [-u] [-w] [-e] [--privileged] CONTAINER COMMAND [ARG...]</summary>
    public static async Task<int> Exec(CliContext ctx, ParsedArgs a)
    {
        string container = a.Positionals[0];
        bool detach = a.Bool("detach"), interactive = a.Bool("interactive"), tty = a.Bool("tty");
        var env = new List<string>();
        try
        {
            foreach (string file in a.GetAll("env-file")) env.AddRange(RunOptions.ParseEnvFile(File.ReadAllText(file), Environment.GetEnvironmentVariable));
            foreach (string e in a.GetAll("env")) if (RunOptions.ParseEnvValue(e, Environment.GetEnvironmentVariable) is { } v) env.Add(v);
        }
        catch (FlagException e) { throw new CliException(e.Message, 125); }
        if (interactive && tty && !detach && !Terminal.IsTerminal(0)) throw new CliException("the input device is not a TTY", 1);
        var req = new ExecCreateRequest
        {
            AttachStdin = interactive && !detach,
            AttachStdout = !detach,
            AttachStderr = !detach,
            Tty = tty,
            Cmd = a.Positionals.Skip(1).ToList(),
            Env = env.Count > 0 ? env : null,
            User = a.Get("user"),
            WorkingDir = a.Get("workdir"),
            Privileged = a.Bool("privileged"),
            DetachKeys = a.Get("detach-keys"),
            ConsoleSize = tty && TerminalSize() is { } size ? [size.Rows, size.Cols] : null,
        };
        var created = await ctx.Client.PostJsonAsync("/containers/" + P(container) + "/exec", req, ApiJson.Default.ExecCreateRequest, ApiJson.Default.IdResponse).ConfigureAwait(false);
        string execId = created.Id;
        if (detach)
        {
            await ctx.Client.SendNoContentAsync(HttpMethod.Post, "/exec/" + execId + "/start", EngineClient.JsonContent(new ExecStartRequest { Detach = true, Tty = tty }, ApiJson.Default.ExecStartRequest)).ConfigureAwait(false);
            return 0;
        }
        byte[] startBody = JsonSerializer.SerializeToUtf8Bytes(new ExecStartRequest { Detach = false, Tty = tty }, ApiJson.Default.ExecStartRequest);
        using (var conn = await ctx.Client.HijackAsync("/exec/" + execId + "/start", startBody).ConfigureAwait(false))
        {
            bool detached = await AttachPump.RunAsync(ctx, conn, tty, interactive, a.Get("detach-keys"),
                (h, w) => ctx.Client.SendNoContentAsync(HttpMethod.Post, $"/exec/{execId}/resize?h={h}&w={w}")).ConfigureAwait(false);
            if (detached) return 0;
        }
        var inspect = await ctx.Client.GetJsonAsync("/exec/" + execId + "/json", ApiJson.Default.ExecInspect).ConfigureAwait(false);
        return inspect.ExitCode ?? 0;
    }

    /// <summary>skiff attach [--no-stdin] [--sig-proxy] [--detach-keys] CONTAINER</summary>
    public static async Task<int> Attach(CliContext ctx, ParsedArgs a)
    {
        var info = await InspectContainerAsync(ctx, a.Positionals[0]).ConfigureAwait(false);
        if (info.State is { Running: false }) throw new CliException("You cannot attach to a stopped container, start it first", 1);
        if (info.State is { Paused: true }) throw new CliException("You cannot attach to a paused container, unpause it first", 1);
        bool tty = info.Config?.Tty == true;
        bool stdin = !a.Bool("no-stdin") && info.Config?.OpenStdin == true;
        if (stdin && tty && !Terminal.IsTerminal(0)) throw new CliException("the input device is not a TTY", 1);
        using var conn = await ctx.Client.HijackAsync("/containers/" + P(info.Id) + "/attach" + Q(("stream", "1"), ("stdin", B(stdin)), ("stdout", "1"), ("stderr", "1"), ("detachKeys", a.Get("detach-keys"))), null).ConfigureAwait(false);
        using var signals = !tty && (!a.Has("sig-proxy") || a.Bool("sig-proxy")) ? ProxySignals(ctx, info.Id) : null;
        bool detached = await AttachPump.RunAsync(ctx, conn, tty, stdin, a.Get("detach-keys"),
            (h, w) => ctx.Client.SendNoContentAsync(HttpMethod.Post, $"/containers/{info.Id}/resize?h={h}&w={w}")).ConfigureAwait(false);
        if (detached) return 0;
        var after = await InspectContainerAsync(ctx, info.Id).ConfigureAwait(false);
        return after.State?.ExitCode ?? 0;
    }

    /// <summary>skiff top CONTAINER [ps OPTIONS]</summary>
    public static async Task<int> Top(CliContext ctx, ParsedArgs a)
    {
        string args = a.Positionals.Count > 1 ? string.Join(' ', a.Positionals.Skip(1)) : "";
        var top = await ctx.Client.GetJsonAsync("/containers/" + P(a.Positionals[0]) + "/top" + Q(("ps_args", args.Length > 0 ? args : null)), ApiJson.Default.TopResponse).ConfigureAwait(false);
        var tw = new TabWriter(20, 1);
        tw.Write(string.Join('\t', top.Titles ?? []) + "\n");
        foreach (var p in top.Processes ?? []) tw.Write(string.Join('\t', p) + "\n");
        ctx.Out.Write(tw.Flush());
        return 0;
    }

    /// <summary>skiff port CONTAINER [PRIVATE_PORT[/PROTO]]</summary>
    public static async Task<int> Port(CliContext ctx, ParsedArgs a)
    {
        using var doc = await ctx.Client.GetDocumentAsync("/containers/" + P(a.Positionals[0]) + "/json").ConfigureAwait(false);
        var lines = new List<string>();
        if (doc.RootElement.TryGetProperty("NetworkSettings", out var ns) && ns.TryGetProperty("Ports", out var ports) && ports.ValueKind == JsonValueKind.Object)
        {
            string? want = a.Positionals.Count > 1 ? a.Positionals[1] : null;
            if (want is not null && !want.Contains('/')) want += "/tcp";
            foreach (var p in ports.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
            {
                if (want is not null && p.Name != want) continue;
                if (p.Value.ValueKind != JsonValueKind.Array) continue;
                foreach (var b in p.Value.EnumerateArray())
                {
                    string ip = b.GetProperty("HostIp").GetString() ?? "";
                    string hp = b.GetProperty("HostPort").GetString() ?? "";
                    string addr = ip.Contains(':') ? $"[{ip}]:{hp}" : $"{ip}:{hp}";
                    lines.Add(want is null ? $"{p.Name} -> {addr}" : addr);
                }
            }
            if (want is not null && lines.Count == 0)
                throw new CliException($"Error: No public port '{want}' published for {a.Positionals[0]}", 1);
        }
        foreach (string l in lines) ctx.Out.WriteLine(l);
        return 0;
    }

    /// <summary>skiff diff CONTAINER: "C /path", "A /path", "D /path".</summary>
    public static async Task<int> Diff(CliContext ctx, ParsedArgs a)
    {
        var changes = await ctx.Client.GetJsonAsync("/containers/" + P(a.Positionals[0]) + "/changes", ApiJson.Default.ListChangeItem).ConfigureAwait(false);
        foreach (var c in changes ?? [])
            ctx.Out.WriteLine($"{c.Kind switch { 0 => 'C', 1 => 'A', 2 => 'D', _ => '?' }} {c.Path}");
        return 0;
    }

    /// <summary>skiff export [-o FILE] CONTAINER: the filesystem as a tar stream.</summary>
    public static async Task<int> Export(CliContext ctx, ParsedArgs a)
    {
        string? output = a.Get("output");
        if (output is null && Terminal.IsTerminal(1))
            throw new CliException("cowardly refusing to save to a terminal. Use the -o flag or redirect", 1);
        using var resp = await ctx.Client.SendAsync(HttpMethod.Get, "/containers/" + P(a.Positionals[0]) + "/export", stream: true).ConfigureAwait(false);
        await CopyBodyToOutput(ctx, resp, output).ConfigureAwait(false);
        return 0;
    }

    /// <summary>Writes a response body to a file (atomically, via a temp file) or to stdout.</summary>
    public static async Task CopyBodyToOutput(CliContext ctx, HttpResponseMessage resp, string? output)
    {
        await using var body = await resp.Content.ReadAsStreamAsync().ConfigureAwait(false);
        if (output is null)
        {
            ctx.Out.Flush();
            await body.CopyToAsync(ctx.RawOut).ConfigureAwait(false);
            return;
        }
        string tmp = output + ".skiff-tmp";
        await using (var f = File.Create(tmp)) await body.CopyToAsync(f).ConfigureAwait(false);
        File.Move(tmp, output, true);
    }

    /// <summary>skiff update [resource flags] CONTAINER...</summary>
    public static async Task<int> Update(CliContext ctx, ParsedArgs a)
    {
        var req = new UpdateRequest();
        if (a.Get("memory") is { } m) req.Memory = Units.RamInBytes(m);
        if (a.Get("memory-swap") is { } ms) req.MemorySwap = ms == "-1" ? -1 : Units.RamInBytes(ms);
        if (a.Get("memory-reservation") is { } mr) req.MemoryReservation = Units.RamInBytes(mr);
        if (a.Get("cpus") is { } c) req.NanoCpus = (long)Math.Round(double.Parse(c, System.Globalization.CultureInfo.InvariantCulture) * 1e9);
        if (a.Get("cpu-shares") is { } cs) req.CpuShares = long.Parse(cs, System.Globalization.CultureInfo.InvariantCulture);
        if (a.Get("cpu-period") is { } cp) req.CpuPeriod = long.Parse(cp, System.Globalization.CultureInfo.InvariantCulture);
        if (a.Get("cpu-quota") is { } cq) req.CpuQuota = long.Parse(cq, System.Globalization.CultureInfo.InvariantCulture);
        if (a.Get("cpuset-cpus") is { } cc) req.CpusetCpus = cc;
        if (a.Get("pids-limit") is { } pl) req.PidsLimit = long.Parse(pl, System.Globalization.CultureInfo.InvariantCulture);
        if (a.Get("restart") is { } r)
        {
            try { req.RestartPolicy = RunOptions.ParseRestart(r); }
            catch (FlagException e) { throw new CliException(e.Message, 125); }
        }
        return await ForEach(ctx, a.Positionals, async name =>
        {
            var resp = await ctx.Client.PostJsonAsync("/containers/" + P(name) + "/update", req, ApiJson.Default.UpdateRequest, ApiJson.Default.WarningsResponse).ConfigureAwait(false);
            foreach (string w in resp.Warnings ?? []) ctx.Err.WriteLine("WARNING: " + w);
        }).ConfigureAwait(false);
    }

    /// <summary>skiff container prune [-f] [--filter]</summary>
    public static async Task<int> Prune(CliContext ctx, ParsedArgs a)
    {
        if (!a.Bool("force") && !Confirm(ctx, "WARNING! This will remove all stopped containers.")) return 0;
        var r = await PostPrune(ctx, "/containers/prune" + Q(("filters", Filters(a.GetAll("filter"))))).ConfigureAwait(false);
        if (r.ContainersDeleted is { Count: > 0 } deleted)
        {
            ctx.Out.WriteLine("Deleted Containers:");
            foreach (string d in deleted) ctx.Out.WriteLine(d);
            ctx.Out.WriteLine();
        }
        ctx.Out.WriteLine("Total reclaimed space: " + Units.HumanSize(r.SpaceReclaimed));
        return 0;
    }

    /// <summary>POST to a prune endpoint and decode the answer.</summary>
    public static async Task<PruneResponse> PostPrune(CliContext ctx, string path)
    {
        using var resp = await ctx.Client.SendAsync(HttpMethod.Post, path).ConfigureAwait(false);
        await using var s = await resp.Content.ReadAsStreamAsync().ConfigureAwait(false);
        return (await JsonSerializer.DeserializeAsync(s, ApiJson.Default.PruneResponse).ConfigureAwait(false))!;
    }

    /// <summary>Docker's "Are you sure you want to continue? [y/N]" prompt; non-interactive input counts as no.</summary>
    public static bool Confirm(CliContext ctx, string warning)
    {
        ctx.Out.Write(warning + "\nAre you sure you want to continue? [y/N] ");
        ctx.Out.Flush();
        string? answer = new StreamReader(FdStream.Stdin()).ReadLine();
        return answer?.Trim().ToLowerInvariant() is "y" or "yes";
    }

    /// <summary>skiff cp: CONTAINER:SRC to a local path or "-" (tar), or local SRC / "-" to CONTAINER:DEST.</summary>
    public static async Task<int> Copy(CliContext ctx, ParsedArgs a)
    {
        string src = a.Positionals[0], dst = a.Positionals[1];
        static (string? Container, string Path) Split(string s)
        {
            if (s.StartsWith('/') || s.StartsWith('.') || s == "-") return (null, s);
            int colon = s.IndexOf(':');
            return colon > 0 ? (s[..colon], s[(colon + 1)..]) : (null, s);
        }
        var (sc, sp) = Split(src);
        var (dc, dp) = Split(dst);
        if ((sc is null) == (dc is null))
            throw new CliException(sc is null ? "must specify at least one container source" : "copying between containers is not supported", 1);
        if (sc is not null)
        {
            using var resp = await ctx.Client.SendAsync(HttpMethod.Get, "/containers/" + P(sc) + "/archive" + Q(("path", sp)), stream: true).ConfigureAwait(false);
            if (dp == "-")
            {
                await CopyBodyToOutput(ctx, resp, null).ConfigureAwait(false);
                return 0;
            }
            await using var body = await resp.Content.ReadAsStreamAsync().ConfigureAwait(false);
            await ExtractTarAsync(body, dp).ConfigureAwait(false);
            return 0;
        }
        string container = dc!;
        string targetPath = dp;
        Stream tar;
        if (sp == "-")
        {
            tar = FdStream.Stdin();
        }
        else
        {
            string full = Path.GetFullPath(sp);
            if (!File.Exists(full) && !Directory.Exists(full))
                throw new CliException($"lstat {full}: no such file or directory", 1);
            // Like Docker: copying into an existing directory (or a path ending in '/') keeps the
            // source's name; otherwise the archive goes to the parent and carries the new name.
            string entryName = Path.GetFileName(full.TrimEnd('/'));
            if (!dp.EndsWith('/') && !await IsContainerDirectoryAsync(ctx, container, dp).ConfigureAwait(false))
            {
                entryName = Path.GetFileName(dp.TrimEnd('/'));
                string? parent = Path.GetDirectoryName(dp.TrimEnd('/'));
                targetPath = string.IsNullOrEmpty(parent) ? "/" : parent;
            }
            var ms = new MemoryStream();
            await using (var w = new System.Formats.Tar.TarWriter(ms, System.Formats.Tar.TarEntryFormat.Pax, leaveOpen: true))
            {
                await w.WriteEntryAsync(full, entryName).ConfigureAwait(false);
                if (Directory.Exists(full) && !File.GetAttributes(full).HasFlag(FileAttributes.ReparsePoint))
                {
                    var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false };
                    foreach (string entry in Directory.EnumerateFileSystemEntries(full, "*", options))
                        await w.WriteEntryAsync(entry, entryName + "/" + Path.GetRelativePath(full, entry)).ConfigureAwait(false);
                }
            }
            ms.Position = 0;
            tar = ms;
        }
        var content = new StreamContent(tar);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-tar");
        await ctx.Client.SendNoContentAsync(HttpMethod.Put, "/containers/" + P(container) + "/archive" + Q(("path", targetPath)), content).ConfigureAwait(false);
        return 0;
    }

    /// <summary>HEAD /containers/{id}/archive: true when the path exists and is a directory (Go's ModeDir bit in the stat header).</summary>
    private static async Task<bool> IsContainerDirectoryAsync(CliContext ctx, string container, string path)
    {
        try
        {
            using var resp = await ctx.Client.SendAsync(HttpMethod.Head, "/containers/" + P(container) + "/archive" + Q(("path", path))).ConfigureAwait(false);
            if (!resp.Headers.TryGetValues("X-Docker-Container-Path-Stat", out var values)) return false;
            using var doc = JsonDocument.Parse(Convert.FromBase64String(values.First()));
            return doc.RootElement.TryGetProperty("mode", out var mode) && (mode.GetUInt32() & (1u << 31)) != 0;
        }
        catch (EngineApiException e) when (e.Status == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    private static async Task ExtractTarAsync(Stream body, string dest)
    {
        // The archive's top entry is the source's base name; copying to an existing directory puts
        // it inside, otherwise the destination names the copy. Regular files, directories and
        // symlinks are restored; ownership and special files are not (the CLI runs unprivileged).
        bool destIsDir = Directory.Exists(dest);
        await using var reader = new System.Formats.Tar.TarReader(body);
        System.Formats.Tar.TarEntry? entry;
        string root = Path.GetFullPath(destIsDir ? dest : Path.GetDirectoryName(Path.GetFullPath(dest))!);
        while ((entry = await reader.GetNextEntryAsync().ConfigureAwait(false)) is not null)
        {
            string name = entry.Name.TrimStart('/');
            if (!destIsDir)
            {
                string first = name.Split('/')[0];
                name = Path.GetFileName(dest) + name[first.Length..];
            }
            string target = Path.GetFullPath(Path.Combine(root, name));
            // Entries may not leave the destination (".." or absolute names from a hostile archive).
            if (target != root && !target.StartsWith(root.TrimEnd('/') + "/", StringComparison.Ordinal)) continue;
            switch (entry.EntryType)
            {
                case System.Formats.Tar.TarEntryType.Directory:
                    Directory.CreateDirectory(target);
                    break;
                case System.Formats.Tar.TarEntryType.RegularFile or System.Formats.Tar.TarEntryType.V7RegularFile:
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    await entry.ExtractToFileAsync(target, true).ConfigureAwait(false);
                    break;
                case System.Formats.Tar.TarEntryType.SymbolicLink:
                    if (File.Exists(target) || Directory.Exists(target)) File.Delete(target);
                    File.CreateSymbolicLink(target, entry.LinkName);
                    break;
                default:
                    break;
            }
        }
    }
}
