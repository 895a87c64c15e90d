using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Skiff.Integration.Tests;

/// <summary>
/// <c>docker build</c> (classic builder, DOCKER_BUILDKIT=0 as the fixture sets) and <c>skiff build</c> against the real skiffd,
/// then running what they built.
/// </summary>
[Collection("daemon")]
public sealed class BuildTests(DaemonFixture f)
{
    private static void Ok(ProcResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    private JsonElement Inspect(string image)
    {
        var r = f.Docker("image", "inspect", image);
        Ok(r);
        return JsonDocument.Parse(r.Stdout).RootElement[0];
    }

    [Fact]
    public void MultiStageWithTheDockerCli()
    {
        using var tmp = new TempDir();
        string ctx = tmp.Context("""
            ARG BASE=busybox
            ARG GLOBAL=global-default
            FROM ${BASE} AS build
            ARG GLOBAL
            ARG VERSION=1.0
            RUN mkdir -p /out && echo "v=$VERSION g=$GLOBAL" > /out/version && echo built
            COPY src/ /out/src/
            RUN echo "stage ran as $(id -u)" > /out/who

            FROM busybox AS final
            ARG GLOBAL
            ENV APP_HOME=/srv/app GREETING="hello world"
            WORKDIR $APP_HOME
            COPY --from=build /out ./
            COPY --chown=nobody:nogroup --chmod=0640 src/config.txt conf/
            RUN test "$VERSION" = "" && echo "no VERSION, $GLOBAL" > scoped
            USER nobody
            EXPOSE 8080/tcp 53/udp
            LABEL org.example.app="demo" stage=final
            HEALTHCHECK --interval=5s --retries=2 CMD true
            STOPSIGNAL SIGINT
            ENTRYPOINT ["/bin/sh", "-c"]
            CMD ["cat version; echo $GREETING"]
            """, ("src/config.txt", "key=value\n"), ("src/data.txt", "data\n"));
        var r = f.Docker("build", "-t", "it-build:one", "-t", "it-build:two", "--build-arg", "VERSION=2.5", "--label", "extra=yes", ctx);
        Ok(r);
        Assert.Contains("Step 1/", r.Stdout);
        Assert.Contains("Successfully built ", r.Stdout);
        Assert.Contains("Successfully tagged it-build:one", r.Stdout);
        Assert.Contains("Successfully tagged it-build:two", r.Stdout);
        Assert.Contains("built\n", r.Stdout);

        var run = f.Docker("run", "--rm", "it-build:one");
        Ok(run);
        Assert.Equal("v=2.5 g=global-default\nhello world\n", run.Stdout);

        var files = f.Docker("run", "--rm", "it-build:two", "id -u; pwd; cat who scoped; stat -c '%a %u %g' conf/config.txt; cat src/data.txt");
        Ok(files);
        var lines = files.Stdout.Split('\n');
        Assert.Equal("65534", lines[0]);
        Assert.Equal("/srv/app", lines[1]);
        Assert.Equal("stage ran as 0", lines[2]);
        Assert.Equal("no VERSION, global-default", lines[3]);
        Assert.Equal("640 65534 65534", lines[4]);
        Assert.Equal("data", lines[5]);

        var config = Inspect("it-build:one").GetProperty("Config");
        Assert.Equal("nobody", config.GetProperty("User").GetString());
        Assert.Equal("/srv/app", config.GetProperty("WorkingDir").GetString());
        Assert.Equal("demo", config.GetProperty("Labels").GetProperty("org.example.app").GetString());
        Assert.Equal("yes", config.GetProperty("Labels").GetProperty("extra").GetString());
        Assert.Equal("SIGINT", config.GetProperty("StopSignal").GetString());
        Assert.True(config.GetProperty("ExposedPorts").TryGetProperty("53/udp", out _));
        var health = config.GetProperty("Healthcheck");
        Assert.Equal(["CMD-SHELL", "true"], health.GetProperty("Test").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(5_000_000_000, health.GetProperty("Interval").GetInt64());
        Assert.Equal(2, health.GetProperty("Retries").GetInt32());
        Assert.Equal(["/bin/sh", "-c"], config.GetProperty("Entrypoint").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("APP_HOME=/srv/app", config.GetProperty("Env").EnumerateArray().Select(e => e.GetString()));

        var history = f.Docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", "it-build:one");
        Ok(history);
        Assert.Contains("|1 GLOBAL=global-default /bin/sh -c test \"$VERSION\" = \"\"", history.Stdout);
    }

    [Fact]
    public void CacheIsKeyedByContentAndExplainsMisses()
    {
        using var tmp = new TempDir();
        string ctx = tmp.Context("""
            FROM busybox
            COPY base.txt /base.txt
            RUN echo run-one > /one
            COPY app/ /app/
            RUN cat /app/main.txt > /two
            """, ("base.txt", "base\n"), ("app/main.txt", "v1\n"), ("app/other.txt", "other\n"));
        Ok(f.Docker("build", "-t", "it-cache", ctx));
        var again = f.Docker("build", "-t", "it-cache", ctx);
        Ok(again);
        Assert.Equal(4, again.Stdout.Split("---> Using cache").Length - 1);
        Assert.DoesNotContain("Running in", again.Stdout);

        // Same content, new mtime: still cached.
        File.SetLastWriteTimeUtc(Path.Combine(ctx, "app/main.txt"), DateTime.UtcNow.AddHours(1));
        var touched = f.Docker("build", "-t", "it-cache", ctx);
        Ok(touched);
        Assert.Equal(4, touched.Stdout.Split("---> Using cache").Length - 1);

        File.WriteAllText(Path.Combine(ctx, "app/main.txt"), "v2\n");
        var changed = f.Docker("build", "-t", "it-cache", ctx);
        Ok(changed);
        Assert.Equal(2, changed.Stdout.Split("---> Using cache").Length - 1);
        Assert.Contains("Cache miss: source files changed: /app/main.txt", changed.Stdout);
        var run = f.Docker("run", "--rm", "it-cache", "cat", "/two");
        Ok(run);
        Assert.Equal("v2\n", run.Stdout);

        var nocache = f.Docker("build", "--no-cache", "-t", "it-cache", ctx);
        Ok(nocache);
        Assert.DoesNotContain("Using cache", nocache.Stdout);
    }

    [Fact]
    public void SkiffCliTargetIgnoreAndOutsideDockerfile()
    {
        using var tmp = new TempDir();
        string ctx = tmp.Context("", ("keep.txt", "keep\n"), ("secret.key", "no\n"), ("logs/a.log", "a\n"), ("logs/keep.log", "k\n"), (".dockerignore", "*.key\nlogs\n!logs/keep.log\n"));
        File.Delete(Path.Combine(ctx, "Dockerfile"));
        string dockerfile = Path.Combine(tmp.Path, "Build.dockerfile");
        File.WriteAllText(dockerfile, """
            FROM busybox AS first
            COPY . /ctx/
            RUN ls -a /ctx /ctx/logs | sort > /listing

            FROM busybox AS second
            RUN echo should-not-run
            """);
        var r = f.SkiffCli("build", "-f", dockerfile, "--target", "first", "-t", "it-skiff-build", ctx);
        Ok(r);
        Assert.DoesNotContain("should-not-run", r.Stdout);
        var ls = f.Docker("run", "--rm", "it-skiff-build", "cat", "/listing");
        Ok(ls);
        Assert.Contains("keep.txt", ls.Stdout);
        Assert.Contains("keep.log", ls.Stdout);
        Assert.DoesNotContain("secret.key", ls.Stdout);
        Assert.DoesNotContain("a.log", ls.Stdout);

        var docker = f.Docker("build", "-q", "-f", dockerfile, "--target", "first", ctx);
        Ok(docker);
        Assert.Matches("^sha256:[0-9a-f]{64}\n$", docker.Stdout);
    }

    [Fact]
    public void SymlinksAndDotDotCannotLeaveTheContext()
    {
        using var tmp = new TempDir();
        string ctx = tmp.Context("FROM busybox\n", ("inside/file.txt", "inside\n"));
        File.CreateSymbolicLink(Path.Combine(ctx, "hostetc"), "/etc");
        File.CreateSymbolicLink(Path.Combine(ctx, "up"), "../../../../../../etc");
        File.CreateSymbolicLink(Path.Combine(ctx, "shadow"), "/etc/shadow");

        // COPY of a symlink copies the link, not the host file it names.
        File.WriteAllText(Path.Combine(ctx, "Dockerfile"), "FROM busybox\nCOPY shadow /copied\n");
        Ok(f.Docker("build", "-t", "it-symlink", ctx));
        var link = f.Docker("run", "--rm", "it-symlink", "sh", "-c", "readlink /copied; test -L /copied && echo link");
        Ok(link);
        Assert.Equal("/etc/shadow\nlink\n", link.Stdout);

        foreach (var src in new[] { "hostetc/passwd", "up/passwd", "../../../../etc/passwd", "hostetc/../../etc/hostname" })
        {
            File.WriteAllText(Path.Combine(ctx, "Dockerfile"), $"FROM busybox\nCOPY {src} /leak\n");
            var r = f.Docker("build", ctx);
            Assert.True(r.ExitCode != 0, $"COPY {src} must fail: {r}");
            Assert.Contains("file not found in build context", r.Stderr);
        }
    }

    [Fact]
    public void FailuresReportLineNumbersAndExitCodes()
    {
        using var tmp = new TempDir();
        string ctx = tmp.Context("FROM busybox\nRUN echo ok\nNOPE x\n");
        var bad = f.Docker("build", ctx);
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("dockerfile parse error on line 3: unknown instruction: NOPE", bad.Stderr);

        File.WriteAllText(Path.Combine(ctx, "Dockerfile"), "FROM busybox\nRUN echo before; exit 7\n");
        var failed = f.Docker("build", ctx);
        Assert.Equal(7, failed.ExitCode);
        Assert.Contains("before", failed.Stdout);
        Assert.Contains("The command '/bin/sh -c echo before; exit 7' returned a non-zero code: 7", failed.Stderr);

        var skiff = f.SkiffCli("build", ctx);
        Assert.Equal(7, skiff.ExitCode);
    }

    [Fact]
    public async Task AddExtractsLocalTarsAndFetchesHttpUrls()
    {
        using var tmp = new TempDir();
        string payload = tmp.Sub("payload");
        File.WriteAllText(Path.Combine(payload, "inner.txt"), "from tar\n");
        string ctx = tmp.Context("");
        var tar = Proc.Run("/bin/tar", ["-czf", Path.Combine(ctx, "bundle.tar.gz"), "-C", payload, "."]);
        Ok(tar);

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var server = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            var buf = new byte[4096];
            // One small GET: read until the end of its headers.
            var request = new List<byte>();
            while (!System.Text.Encoding.ASCII.GetString(request.ToArray()).Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                int n = await stream.ReadAsync(buf);
                if (n == 0) break;
                request.AddRange(buf.AsSpan(0, n).ToArray());
            }
            var body = "downloaded\n"u8.ToArray();
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"));
            await stream.WriteAsync(body);
        });
        File.WriteAllText(Path.Combine(ctx, "Dockerfile"), $"""
            FROM busybox
            ADD bundle.tar.gz /unpacked/
            ADD http://127.0.0.1:{port}/files/remote.txt /fetched/
            """);
        var r = f.Docker("build", "-t", "it-add", ctx);
        Ok(r);
        await server.WaitAsync(TimeSpan.FromSeconds(10));
        var run = f.Docker("run", "--rm", "it-add", "sh", "-c", "cat /unpacked/inner.txt /fetched/remote.txt");
        Ok(run);
        Assert.Equal("from tar\ndownloaded\n", run.Stdout);
    }

    [Fact]
    public void BuilderPruneDropsTheCache()
    {
        using var tmp = new TempDir();
        string ctx = tmp.Context("FROM busybox\nRUN echo prune-me > /p\n");
        Ok(f.Docker("build", "-t", "it-prune", ctx));
        var prune = f.Docker("builder", "prune", "-f");
        Ok(prune);
        Assert.Contains("Total reclaimed space", prune.Stdout);
        var again = f.Docker("build", "-t", "it-prune", ctx);
        Ok(again);
        Assert.DoesNotContain("Using cache", again.Stdout);
    }
}
