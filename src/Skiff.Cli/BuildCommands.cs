using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Skiff.Client;
using static Skiff.Cli.Api;

namespace Skiff.Cli;

/// <summary>
/// <c>skiff build</c> and <c>skiff builder prune</c>. Like the Docker CLI's classic build, the context directory is sent as
/// a tar filtered by its <c>.dockerignore</c> (the Dockerfile and the .dockerignore are always sent; a Dockerfile outside
/// the context is added under a generated name). Symlinks are sent as links, never followed.
/// </summary>
public static class BuildCommands
{
    /// <summary>
    /// <c>--ssh default|ID[=SOCKET]</c> (Docker's syntax): agent sockets by id; <c>default</c> and an id without a path take
    /// <c>$SSH_AUTH_SOCK</c>. Key files (Docker also takes <c>ID=KEYFILE[,KEYFILE]</c>) need an agent: load them with ssh-add.
    /// </summary>
    private static Dictionary<string, string> ParseSsh(IEnumerable<string> specs)
    {
        var agents = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var spec in specs)
        {
            int eq = spec.IndexOf('=');
            string id = eq < 0 ? spec : spec[..eq];
            string path = eq < 0 ? "" : spec[(eq + 1)..];
            if (id.Length == 0) throw new CliException($"invalid ssh spec \"{spec}\": the id is empty", 1);
            if (path.Contains(',', StringComparison.Ordinal)) throw new CliException($"invalid ssh spec \"{spec}\": only one agent socket per id (load keys into an agent with ssh-add)", 1);
            if (path.Length == 0)
            {
                path = Environment.GetEnvironmentVariable("SSH_AUTH_SOCK") ?? "";
                if (path.Length == 0) throw new CliException("invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set", 1);
            }
            path = Path.GetFullPath(path);
            if (!File.Exists(path)) throw new CliException($"failed to parse ssh spec \"{spec}\": stat {path}: no such file or directory", 1);
            if (!CanConnect(path))
                throw new CliException($"ssh spec \"{spec}\": {path} is not an agent socket (key files are not forwarded: load them into an agent with ssh-add and pass its socket)", 1);
            agents[id] = path;
        }
        return agents;
    }

    private static bool CanConnect(string path)
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        try
        {
            socket.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// Opens the build session (<c>POST /build/session</c>, hijacked) through which the daemon reaches the agents: each
    /// stream it opens (named <c>ssh:ID</c>) is connected to that agent's socket here.
    /// </summary>
    private static async Task<BuildSessionClient> OpenSessionAsync(CliContext ctx, Dictionary<string, string> agents)
    {
        string id = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        var query = new List<(string, string?)> { ("id", id) };
        foreach (var k in agents.Keys) query.Add(("ssh", k));
        var conn = await ctx.Client.HijackAsync("/build/session" + Q([.. query]), null).ConfigureAwait(false);
        var mux = new Skiff.Build.Session.SessionMux(conn, async name =>
        {
            if (!name.StartsWith("ssh:", StringComparison.Ordinal) || !agents.TryGetValue(name[4..], out var path)) return null;
            var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(path)).ConfigureAwait(false);
                return socket;
            }
            catch (System.Net.Sockets.SocketException)
            {
                socket.Dispose();
                return null;
            }
        });
        return new BuildSessionClient(id, conn, mux, mux.RunAsync(CancellationToken.None));
    }

    /// <summary>The client end of a build session: closed when the build is over.</summary>
    private sealed class BuildSessionClient(string id, HijackedConnection conn, Skiff.Build.Session.SessionMux mux, Task loop) : IAsyncDisposable
    {
        public string Id { get; } = id;

        public async ValueTask DisposeAsync()
        {
            conn.CloseWrite();
            await mux.DisposeAsync().ConfigureAwait(false);
            try { await loop.ConfigureAwait(false); } catch (Exception e) when (e is IOException or ObjectDisposedException) { }
        }
    }

    /// <summary>skiff build [OPTIONS] PATH | -</summary>
    public static async Task<int> Build(CliContext ctx, ParsedArgs a)
    {
        string contextArg = a.Positionals[0];
        bool quiet = a.Bool("quiet");
        // As the Docker CLI does: a failed build leaves no ID file of an earlier one behind.
        if (a.Get("iidfile") is { Length: > 0 } staleIid)
        {
            try { File.Delete(staleIid); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CliException("Removing image ID file: " + e.Message, 1); }
        }
        var pairs = new List<(string, string?)>();
        foreach (var t in a.GetAll("tag")) pairs.Add(("t", t));
        string? dockerfile = a.Get("file");
        var buildArgs = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var ba in a.GetAll("build-arg"))
        {
            int eq = ba.IndexOf('=');
            if (eq < 0) buildArgs[ba] = Environment.GetEnvironmentVariable(ba);
            else buildArgs[ba[..eq]] = ba[(eq + 1)..];
        }
        var labels = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var l in a.GetAll("label"))
        {
            int eq = l.IndexOf('=');
            labels[eq < 0 ? l : l[..eq]] = eq < 0 ? "" : l[(eq + 1)..];
        }

        var secrets = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var spec in a.GetAll("secret")) AddSecret(secrets, spec);
        var headers = new List<KeyValuePair<string, string>>();
        if (secrets.Count > 0)
            headers.Add(new("X-Skiff-Build-Secrets", Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(secrets, BuildCliJson.Default.DictionaryStringString))));
        Stream? stdinBody = null;
        BuildContextArchive? archive = null;
        if (contextArg == "-")
        {
            stdinBody = await ContextFromStdinAsync(FdStream.Stdin()).ConfigureAwait(false);
        }
        else
        {
            string dir = Path.GetFullPath(contextArg);
            if (!Directory.Exists(dir)) throw new CliException($"unable to prepare context: path \"{contextArg}\" not found", 1);
            string dfPath = dockerfile is null ? Path.Combine(dir, "Dockerfile") : Path.GetFullPath(dockerfile);
            if (!File.Exists(dfPath)) throw new CliException($"unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {dfPath}: no such file or directory", 1);
            string rel = Path.GetRelativePath(dir, dfPath);
            string? outside = null;
            if (rel.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(rel))
            {
                outside = dfPath;
                rel = ".dockerfile." + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(10));
            }
            dockerfile = rel.Replace('\\', '/');
            archive = BuildContextArchive.Plan(dir, dockerfile, outside);
        }
        pairs.Add(("dockerfile", dockerfile));
        if (buildArgs.Count > 0) pairs.Add(("buildargs", JsonSerializer.Serialize(buildArgs, BuildCliJson.Default.DictionaryStringString)));
        if (labels.Count > 0) pairs.Add(("labels", JsonSerializer.Serialize(labels, BuildCliJson.Default.DictionaryStringString)));
        if (a.Get("target") is { } target) pairs.Add(("target", target));
        if (a.Bool("no-cache")) pairs.Add(("nocache", "1"));
        if (a.Bool("pull")) pairs.Add(("pull", "1"));
        if (quiet) pairs.Add(("q", "1"));
        pairs.Add(("rm", "1"));
        if (a.Bool("force-rm")) pairs.Add(("forcerm", "1"));
        if (a.Get("network") is { } net) pairs.Add(("networkmode", net));
        foreach (var h in a.GetAll("add-host")) pairs.Add(("extrahosts", h));
        if (a.Get("platform") is { Length: > 0 } platform) pairs.Add(("platform", platform));

        var output = ParseOutput(a.GetAll("output").ToList());
        var agents = ParseSsh(a.GetAll("ssh"));
        await using var session = agents.Count > 0 ? await OpenSessionAsync(ctx, agents).ConfigureAwait(false) : null;
        if (session is not null) pairs.Add(("session", session.Id));

        HttpResponseMessage? resp = null;
        Stream stream;
        if (archive is not null)
        {
            // Sent on a raw connection with a known length: headers and small files in big batches, big files by sendfile.
            stream = await ctx.Client.UploadAsync("/build" + Q([.. pairs]), "application/x-tar", archive.Length, archive.SendTo, headers: headers).ConfigureAwait(false);
        }
        else
        {
            var content = new StreamContent(stdinBody!, 64 * 1024);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
            resp = await ctx.Client.SendAsync(HttpMethod.Post, "/build" + Q([.. pairs]), content, stream: true, headers: headers).ConfigureAwait(false);
            stream = await resp.Content.ReadAsStreamAsync().ConfigureAwait(false);
        }
        using var respOwner = resp;
        await using var streamOwner = stream;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string? id = null;
        string? line;
        while ((line = await reader.ReadLineAsync().ConfigureAwait(false)) is not null)
        {
            if (line.Trim().Length == 0) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException) { continue; }
            using (doc)
            {
                var root = doc.RootElement;
                if (root.TryGetProperty("errorDetail", out var err) && err.ValueKind == JsonValueKind.Object)
                {
                    ctx.Out.Flush();
                    int code = err.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : 1;
                    string message = err.TryGetProperty("message", out var m) ? m.GetString() ?? "" : "";
                    throw new CliException(message, code == 0 ? 1 : code);
                }
                if (root.TryGetProperty("aux", out var aux) && aux.TryGetProperty("ID", out var auxId)) id = auxId.GetString();
                if (!quiet && root.TryGetProperty("stream", out var s)) ctx.Out.Write(s.GetString());
            }
            if (!quiet) ctx.Out.Flush();
        }
        if (quiet && id is not null) ctx.Out.WriteLine(id);
        ctx.Out.Flush();
        if (a.Get("iidfile") is { Length: > 0 } iidfile && id is not null) File.WriteAllText(iidfile, id);
        if (output is not null && id is not null) await ExportAsync(ctx, id, output.Value.Type, output.Value.Dest).ConfigureAwait(false);
        return 0;
    }

    /// <summary>
    /// <c>skiff build -</c>: stdin is a context archive (tar, possibly compressed) or, as the Docker CLI takes it, a lone
    /// Dockerfile, which is then sent as a context holding only that file.
    /// </summary>
    private static async Task<Stream> ContextFromStdinAsync(Stream stdin)
    {
        var head = new byte[512];
        int n = 0;
        while (n < head.Length)
        {
            int r = await stdin.ReadAsync(head.AsMemory(n)).ConfigureAwait(false);
            if (r == 0) break;
            n += r;
        }
        bool archive = (n >= 2 && head[0] == 0x1f && head[1] == 0x8b)                                    // gzip
            || (n >= 3 && head[0] == 'B' && head[1] == 'Z' && head[2] == 'h')                                 // bzip2
            || (n >= 6 && head[0] == 0xfd && head[1] == '7' && head[2] == 'z' && head[3] == 'X' && head[4] == 'Z') // xz
            || (n >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd)             // zstd
            || (n >= 262 && head[257] == 'u' && head[258] == 's' && head[259] == 't' && head[260] == 'a' && head[261] == 'r');
        if (archive) return new ConcatStream(new MemoryStream(head, 0, n), stdin);
        var rest = new MemoryStream();
        rest.Write(head, 0, n);
        await stdin.CopyToAsync(rest).ConfigureAwait(false);
        var tar = new MemoryStream();
        using (var writer = new System.Formats.Tar.TarWriter(tar, System.Formats.Tar.TarEntryFormat.Pax, leaveOpen: true))
        {
            rest.Position = 0;
            var entry = new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, "Dockerfile")
            {
                DataStream = rest, Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite, ModificationTime = DateTimeOffset.UtcNow,
            };
            writer.WriteEntry(entry);
        }
        tar.Position = 0;
        return tar;
    }

    /// <summary>What was read ahead to look at, then the rest of the stream.</summary>
    private sealed class ConcatStream(Stream first, Stream second) : Stream
    {
        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = first.Read(buffer, offset, count);
            return n > 0 ? n : second.Read(buffer, offset, count);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int n = await first.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            return n > 0 ? n : await second.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>
    /// <c>-o, --output type=local,dest=DIR | type=tar,dest=FILE | DIR | -</c> (BuildKit's forms; <c>-</c> is a tar on stdout).
    /// </summary>
    private static (string Type, string Dest)? ParseOutput(List<string> specs)
    {
        if (specs.Count == 0) return null;
        if (specs.Count > 1) throw new CliException("multiple outputs are not supported: give one --output", 1);
        string spec = specs[0];
        if (!spec.Contains('=', StringComparison.Ordinal)) return spec == "-" ? ("tar", "-") : ("local", spec);
        string? type = null, dest = null;
        foreach (var field in spec.Split(','))
        {
            int eq = field.IndexOf('=');
            string key = (eq < 0 ? field : field[..eq]).Trim().ToLowerInvariant(), value = eq < 0 ? "" : field[(eq + 1)..];
            switch (key)
            {
                case "type": type = value; break;
                case "dest": dest = value; break;
                default: throw new CliException($"invalid output: unexpected key '{key}' in '{field}'", 1);
            }
        }
        if (type is null) throw new CliException("invalid output: type= is required", 1);
        if (type is not ("local" or "tar")) throw new CliException($"output type \"{type}\" is not supported: use local or tar", 1);
        if (string.IsNullOrEmpty(dest)) dest = type == "tar" ? "-" : throw new CliException("invalid output: dest= is required for type=local", 1);
        if (type == "local" && dest == "-") throw new CliException("invalid output: type=local needs a directory, not -", 1);
        return (type, dest);
    }

    /// <summary>
    /// Writes the built image's filesystem: a container is created from it (never started), its export (the merged layers)
    /// goes to a tar file, stdout or a directory, and the container is removed again.
    /// </summary>
    private static async Task ExportAsync(CliContext ctx, string imageId, string type, string dest)
    {
        var body = new Skiff.Client.Models.ContainerCreateRequest
        {
            Image = imageId, Cmd = ["skiff-build-output"], Labels = new() { ["org.skiff.build-output"] = "true" },
            HostConfig = new Skiff.Client.Models.HostConfig { NetworkMode = "none" },
        };
        var created = await ctx.Client.PostJsonAsync("/containers/create", body, Skiff.Client.Models.ApiJson.Default.ContainerCreateRequest,
            Skiff.Client.Models.ApiJson.Default.ContainerCreateResponse).ConfigureAwait(false);
        try
        {
            using var resp = await ctx.Client.SendAsync(HttpMethod.Get, "/containers/" + created.Id + "/export", stream: true).ConfigureAwait(false);
            if (type == "tar")
            {
                await ContainerCommands.CopyBodyToOutput(ctx, resp, dest == "-" ? null : dest).ConfigureAwait(false);
                return;
            }
            await using var tar = await resp.Content.ReadAsStreamAsync().ConfigureAwait(false);
            await OutputDirectory.ExtractAsync(tar, Path.GetFullPath(dest)).ConfigureAwait(false);
        }
        finally
        {
            await ctx.Client.SendNoContentAsync(HttpMethod.Delete, "/containers/" + created.Id + "?force=1&v=1").ConfigureAwait(false);
        }
    }

    /// <summary>
    /// <c>--secret id=ID[,src=FILE|,env=VAR][,type=file|env]</c> (BuildKit's syntax): the content, base64, by id. Without
    /// src or env, the file is the id and then an environment variable of that name, as Docker's CLI looks it up.
    /// </summary>
    private static void AddSecret(Dictionary<string, string?> secrets, string spec)
    {
        string? id = null, src = null, env = null, type = null;
        foreach (var field in spec.Split(','))
        {
            int eq = field.IndexOf('=');
            string key = (eq < 0 ? field : field[..eq]).Trim().ToLowerInvariant(), value = eq < 0 ? "" : field[(eq + 1)..];
            switch (key)
            {
                case "id": id = value; break;
                case "src" or "source": src = value; break;
                case "env": env = value; break;
                case "type": type = value; break;
                default: throw new CliException($"invalid secret: unexpected key '{key}' in '{field}'", 1);
            }
        }
        if (string.IsNullOrEmpty(id)) throw new CliException("invalid secret: id= is required", 1);
        if (type is not (null or "file" or "env")) throw new CliException($"invalid secret: unsupported type \"{type}\"", 1);
        byte[] content;
        if (type == "env" || env is not null)
        {
            string name = env ?? src ?? id;
            content = Encoding.UTF8.GetBytes(Environment.GetEnvironmentVariable(name) ?? throw new CliException($"secret {id}: environment variable {name} is not set", 1));
        }
        else
        {
            string path = src ?? id;
            if (!File.Exists(path) && src is null && Environment.GetEnvironmentVariable(id) is { } fromEnv) content = Encoding.UTF8.GetBytes(fromEnv);
            else
            {
                try { content = File.ReadAllBytes(path); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CliException($"failed to read secret {id}: {e.Message}", 1); }
            }
        }
        secrets[id] = Convert.ToBase64String(content);
    }

    /// <summary>skiff builder prune [-a] [-f]</summary>
    public static async Task<int> Prune(CliContext ctx, ParsedArgs a)
    {
        if (!a.Bool("force") && !ContainerCommands.Confirm(ctx, "WARNING! This will remove all dangling build cache.")) return 0;
        using var resp = await ctx.Client.SendAsync(HttpMethod.Post, "/build/prune" + Q(("all", a.Bool("all") ? "1" : null))).ConfigureAwait(false);
        await using var s = await resp.Content.ReadAsStreamAsync().ConfigureAwait(false);
        using var doc = await JsonDocument.ParseAsync(s).ConfigureAwait(false);
        if (doc.RootElement.TryGetProperty("CachesDeleted", out var deleted) && deleted.ValueKind == JsonValueKind.Array && deleted.GetArrayLength() > 0)
        {
            ctx.Out.WriteLine("Deleted build cache objects:");
            foreach (var d in deleted.EnumerateArray()) ctx.Out.WriteLine(d.GetString());
            ctx.Out.WriteLine();
        }
        long reclaimed = doc.RootElement.TryGetProperty("SpaceReclaimed", out var sr) ? sr.GetInt64() : 0;
        ctx.Out.WriteLine("Total reclaimed space: " + Units.HumanSize(reclaimed));
        return 0;
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string?>))]
internal sealed partial class BuildCliJson : System.Text.Json.Serialization.JsonSerializerContext;
