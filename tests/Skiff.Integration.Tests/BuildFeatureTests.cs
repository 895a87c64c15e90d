using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;

namespace Skiff.Integration.Tests;

/// <summary>
/// The Dockerfile and <c>docker build</c> features beyond the basics: BuildKit's automatic platform arguments, Docker's
/// predefined proxy arguments, <c>--add-host</c>, <c>--iidfile</c>, <c>--platform</c>, <c>COPY --exclude/--parents</c>,
/// <c>ADD --checksum/--unpack</c> of loopback URLs, and <c>skiff build --output</c>.
/// </summary>
[Collection("daemon")]
public sealed class BuildFeatureTests(DaemonFixture f)
{
    private static void Ok(ProcResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    private static string HostArch => RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "arm64" : "amd64";

    [Fact]
    public void PlatformAndProxyArgsExtraHostsAndTheIdFile()
    {
        using var tmp = new TempDir();
        string ctx = tmp.Context("""
            ARG BASE_ARCH=${TARGETARCH}
            FROM busybox
            ARG TARGETPLATFORM
            ARG BUILDOS
            ARG BASE_ARCH
            RUN echo "$TARGETPLATFORM $BUILDOS [$TARGETARCH] $BASE_ARCH" > /plat
            RUN echo "proxy=$HTTP_PROXY" > /proxy && grep myhost /etc/hosts > /hosts
            """);
        string iid = Path.Combine(tmp.Path, "iid");
        var r = f.Docker("build", "--build-arg", "HTTP_PROXY=http://proxy.invalid:3128", "--add-host", "myhost:10.1.2.3",
            "--iidfile", iid, "-t", "it-feat", ctx);
        Ok(r);
        Assert.DoesNotContain("were not consumed", r.Stdout + r.Stderr);
        var run = f.Docker("run", "--rm", "it-feat", "cat", "/plat", "/proxy", "/hosts");
        Ok(run);
        Assert.Equal($"linux/{HostArch} linux [] {HostArch}\nproxy=http://proxy.invalid:3128\n10.1.2.3\tmyhost\n", run.Stdout);

        // The proxy argument reached RUN without an ARG, so it stays out of the history.
        var history = f.Docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", "it-feat");
        Ok(history);
        Assert.DoesNotContain("proxy.invalid", history.Stdout);
        var id = JsonDocument.Parse(f.Docker("image", "inspect", "it-feat").Stdout).RootElement[0].GetProperty("Id").GetString();
        Assert.Equal(id, File.ReadAllText(iid));

        // skiff build: --platform names the target (the engine's own here) and the ID file is replaced. As in Docker, proxy
        // arguments and extra hosts are not part of the cache key: without --no-cache the steps would come from the cache.
        var skiff = f.SkiffCli("build", "--no-cache", "--platform", "linux/" + HostArch, "--iidfile", iid, "-q", "--build-arg", "HTTP_PROXY=http://other.invalid",
            "--add-host", "myhost=10.9.9.9", ctx);
        Ok(skiff);
        Assert.Equal(skiff.Stdout.Trim(), File.ReadAllText(iid));
        var hosts = f.Docker("run", "--rm", File.ReadAllText(iid), "cat", "/hosts", "/proxy");
        Ok(hosts);
        Assert.Equal("10.9.9.9\tmyhost\nproxy=http://other.invalid\n", hosts.Stdout);
        var bad = f.SkiffCli("build", "--platform", "windows/amd64", ctx);
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("operating system is not supported", bad.Stderr);
        Ok(f.Docker("rmi", "it-feat"));
    }

    [Fact]
    public void CopyExcludeAndParents()
    {
        using var tmp = new TempDir();
        string ctx = tmp.Context("""
            FROM busybox
            COPY --exclude=*.md --exclude=**/secret* src/ /a/
            COPY --exclude=*.txt hom* /b/
            COPY --parents x/one.txt y/one.txt /p/
            COPY --parents ./base/./deep/*.txt /q/
            COPY --parents src/docs /r/
            """,
            ("src/app.c", "c"), ("src/README.md", "md"), ("src/docs/guide.md", "md"), ("src/docs/keep.txt", "k"), ("src/lib/secret.key", "s"),
            ("home.txt", "t"), ("homer.bin", "b"),
            ("x/one.txt", "x1"), ("y/one.txt", "y1"), ("base/deep/z.txt", "z"), ("base/deep/w.bin", "w"));
        var r = f.Docker("build", "-t", "it-copyflags", ctx);
        Ok(r);
        var run = f.Docker("run", "--rm", "it-copyflags", "sh", "-c", "cd / && find a b p q r -type f | sort");
        Ok(run);
        Assert.Equal(string.Join('\n', [
            "a/app.c", "a/docs/guide.md", "a/docs/keep.txt", "b/homer.bin", "p/x/one.txt", "p/y/one.txt", "q/deep/z.txt", "r/src/docs/guide.md", "r/src/docs/keep.txt"]) + "\n", run.Stdout);
        Ok(f.Docker("rmi", "it-copyflags"));
    }

    /// <summary>A loopback HTTP server answering GETs from a fixed set of paths (404 otherwise) until disposed.</summary>
    private sealed class Files : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly Task _loop;
        public int Port { get; }

        public Files(Dictionary<string, byte[]> files)
        {
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _loop = Task.Run(async () =>
            {
                while (true)
                {
                    TcpClient client;
                    try { client = await _listener.AcceptTcpClientAsync(); }
                    catch (Exception e) when (e is SocketException or ObjectDisposedException) { return; }
                    using (client)
                    {
                        var stream = client.GetStream();
                        var request = new List<byte>();
                        var buf = new byte[4096];
                        while (!System.Text.Encoding.ASCII.GetString(request.ToArray()).Contains("\r\n\r\n", StringComparison.Ordinal))
                        {
                            int n = await stream.ReadAsync(buf);
                            if (n == 0) break;
                            request.AddRange(buf.AsSpan(0, n).ToArray());
                        }
                        string path = System.Text.Encoding.ASCII.GetString(request.ToArray()).Split(' ')[1];
                        byte[] body = files.TryGetValue(path, out var b) ? b : "missing"u8.ToArray();
                        string status = files.ContainsKey(path) ? "200 OK" : "404 Not Found";
                        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"));
                        await stream.WriteAsync(body);
                    }
                }
            });
        }

        public void Dispose()
        {
            _listener.Stop();
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
    }

    [Fact]
    public void AddChecksumAndUnpackOfRemoteArchives()
    {
        using var tmp = new TempDir();
        string payload = tmp.Sub("payload");
        File.WriteAllText(Path.Combine(payload, "inner.txt"), "from remote tar\n");
        string tarPath = Path.Combine(tmp.Path, "remote.tar.gz");
        Ok(Proc.Run("/bin/tar", ["-czf", tarPath, "-C", payload, "."]));
        byte[] tarBytes = File.ReadAllBytes(tarPath);
        byte[] text = "checked\n"u8.ToArray();
        using var server = new Files(new() { ["/remote.tar.gz"] = tarBytes, ["/file.txt"] = text });
        string sum = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(text));
        string ctx = tmp.Context($"""
            FROM busybox
            ADD --checksum={sum} http://127.0.0.1:{server.Port}/file.txt /checked.txt
            ADD http://127.0.0.1:{server.Port}/remote.tar.gz /kept/
            ADD --unpack=true http://127.0.0.1:{server.Port}/remote.tar.gz /unpacked/
            ADD --unpack=false local.tar.gz /local/
            """);
        File.Copy(tarPath, Path.Combine(ctx, "local.tar.gz"));
        var r = f.Docker("build", "-t", "it-addflags", ctx);
        Ok(r);
        var run = f.Docker("run", "--rm", "it-addflags", "sh", "-c", "cat /checked.txt; ls /kept; ls /local; cat /unpacked/inner.txt");
        Ok(run);
        Assert.Equal("checked\nremote.tar.gz\nlocal.tar.gz\nfrom remote tar\n", run.Stdout);

        string bad = tmp.Context($"FROM busybox\nADD --checksum=sha256:{new string('0', 64)} http://127.0.0.1:{server.Port}/file.txt /x\n");
        var mismatch = f.Docker("build", bad);
        Assert.NotEqual(0, mismatch.ExitCode);
        Assert.Contains($"digest mismatch sha256:{new string('0', 64)}: {sum}", mismatch.Stderr);
        string local = tmp.Context($"FROM busybox\nADD --checksum={sum} Dockerfile /x\n");
        var notUrl = f.Docker("build", local);
        Assert.NotEqual(0, notUrl.ExitCode);
        Assert.Contains("checksum can't be specified for non-HTTP(S) sources", notUrl.Stderr);
        Ok(f.Docker("rmi", "it-addflags"));
    }

    [Fact]
    public void OutputWritesTheFinalFilesystemToADirectoryOrATar()
    {
        using var tmp = new TempDir();
        string ctx = tmp.Context("""
            FROM busybox AS build
            RUN mkdir -p /out/bin && echo artifact > /out/bin/app && ln -s bin/app /out/link && chmod 750 /out/bin/app

            FROM scratch
            COPY --from=build /out/ /
            """);
        string dir = Path.Combine(tmp.Path, "exported");
        Ok(f.SkiffCli("build", "--output", "type=local,dest=" + dir, ctx));
        Assert.Equal("artifact\n", File.ReadAllText(Path.Combine(dir, "bin/app")));
        Assert.Equal("bin/app", new FileInfo(Path.Combine(dir, "link")).LinkTarget);
        Assert.Equal((UnixFileMode)0x1E8, File.GetUnixFileMode(Path.Combine(dir, "bin/app")));

        string tarFile = Path.Combine(tmp.Path, "out.tar");
        Ok(f.SkiffCli("build", "-o", "type=tar,dest=" + tarFile, ctx));
        var list = Proc.Run("/bin/tar", ["-tf", tarFile]);
        Ok(list);
        Assert.Contains("bin/app", list.Stdout);
        Assert.Contains("link", list.Stdout);

        // No container is left behind by the export.
        var ps = f.Docker("ps", "-a", "--filter", "label=org.skiff.build-output", "-q");
        Ok(ps);
        Assert.Equal("", ps.Stdout.Trim());
    }

    [Fact]
    public void ALoneDockerfileOnStdinWithMaintainerAndPatternExpansion()
    {
        var r = Proc.Run(f.Skiff, ["build", "-t", "it-stdin", "-"], f.SkiffEnv,
            "FROM busybox\nMAINTAINER Jane <jane@example.invalid>\nARG V=v1.2.3\nENV VER=${V#v} MAJOR=${V%%.*} DASHED=${V//./-}\nRUN echo $VER $MAJOR $DASHED > /ver\n");
        Ok(r);
        var image = JsonDocument.Parse(f.Docker("image", "inspect", "it-stdin").Stdout).RootElement[0];
        Assert.Equal("Jane <jane@example.invalid>", image.GetProperty("Author").GetString());
        var run = f.Docker("run", "--rm", "it-stdin", "cat", "/ver");
        Ok(run);
        Assert.Equal("1.2.3 v1 v1-2-3\n", run.Stdout);
        Ok(f.Docker("rmi", "it-stdin"));
    }
}
