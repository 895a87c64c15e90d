using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Skiff.Integration.Tests;

/// <summary>
/// Push and pull through the real Docker CLI against skiffd and Debian's docker-registry; skopeo reads what Skiff
/// pushed; malicious layers are refused; a kill -9 during a pull leaves a consistent store.
/// </summary>
[Collection("registry")]
public sealed class RegistryTests(RegistryFixture f)
{
    private string Ref(string repo) => $"{f.Registry}/{repo}";

    private static void Ok(ProcResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    [Fact]
    public void PushThenPullRoundTripsThroughTheDockerCli()
    {
        string image = Ref("rt/busybox:v1");
        Ok(f.Docker("tag", "busybox:latest", image));
        var push = f.Docker("push", image);
        Ok(push);
        Assert.Contains($"The push refers to repository [{f.Registry}/rt/busybox]", push.Stdout);
        Assert.Contains("Pushed", push.Stdout);
        Assert.Matches(@"v1: digest: sha256:[0-9a-f]{64} size: \d+", push.Stdout);

        var repoDigests = f.Docker("image", "inspect", "-f", "{{json .RepoDigests}}", image);
        Ok(repoDigests);
        Assert.Contains($"{f.Registry}/rt/busybox@sha256:", repoDigests.Stdout);

        var again = f.Docker("push", image);
        Ok(again);
        Assert.Contains("Layer already exists", again.Stdout);

        // Same registry, other repository: the layer is mounted, not uploaded.
        Ok(f.Docker("tag", "busybox:latest", Ref("other/busybox:v1")));
        var mount = f.Docker("push", Ref("other/busybox:v1"));
        Ok(mount);
        Assert.Contains("Mounted from rt/busybox", mount.Stdout);
        Ok(f.Docker("rmi", Ref("other/busybox:v1")));

        Ok(f.Docker("rmi", image));
        Assert.NotEqual(0, f.Docker("image", "inspect", image).ExitCode);
        var pull = f.Docker("pull", image);
        Ok(pull);
        Assert.Contains("v1: Pulling from rt/busybox", pull.Stdout);
        Assert.Matches(@"Digest: sha256:[0-9a-f]{64}", pull.Stdout);
        Assert.Contains("Status: ", pull.Stdout);
        var run = f.Docker("run", "--rm", image, "echo", "pulled-ok");
        Ok(run);
        Assert.Equal("pulled-ok\n", run.Stdout);

        var upToDate = f.Docker("pull", image);
        Ok(upToDate);
        Assert.Contains("Status: Image is up to date for " + image, upToDate.Stdout);
        // dockerd prints no layer lines for an image it has: "v1: Pulling from", "Digest:", "Status:".
        Assert.DoesNotContain("Already exists", upToDate.Stdout);

        var digests = f.Docker("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}", Ref("rt/busybox"));
        Ok(digests);
        Assert.Matches($@"{f.Registry}/rt/busybox v1 sha256:[0-9a-f]{{64}}", digests.Stdout);
    }

    [Fact]
    public void SkiffCliPushesAndPulls()
    {
        string image = Ref("cli/busybox:c1");
        var env = new Dictionary<string, string> { ["SKIFF_HOST"] = f.Daemon.Host, ["DOCKER_CONFIG"] = Path.Combine(f.Daemon.Root, "docker-config") };
        Ok(Proc.Run(f.Daemon.Skiff, ["tag", "busybox:latest", image], env));
        var push = Proc.Run(f.Daemon.Skiff, ["push", image], env);
        Ok(push);
        Assert.Contains("c1: digest: sha256:", push.Stdout);
        Ok(Proc.Run(f.Daemon.Skiff, ["rmi", image], env));
        var pull = Proc.Run(f.Daemon.Skiff, ["pull", image], env);
        Ok(pull);
        Assert.Contains("Digest: sha256:", pull.Stdout);
        Ok(Proc.Run(f.Daemon.Skiff, ["rmi", image], env));
    }

    [Fact]
    public void PullOfAFreshImageDownloadsEveryLayerWithDockersMessages()
    {
        string image = Ref("fresh/two-layers:latest");
        PushRawImage("fresh/two-layers", "latest",
        [
            Layer(("a/one.txt", "first layer\n")),
            Layer(("a/two.txt", "second layer\n")),
        ]);
        var pull = f.Docker("pull", image);
        Ok(pull);
        Assert.Contains("Pulling fs layer", pull.Stdout);
        Assert.Contains("Pull complete", pull.Stdout);
        Assert.Contains("Status: Downloaded newer image for " + image, pull.Stdout);
        var history = f.Docker("image", "inspect", "-f", "{{len .RootFS.Layers}}", image);
        Ok(history);
        Assert.Equal("2\n", history.Stdout);

        // Pushed to an empty registry, the pulled layers go up as they came (the cached compressed blobs): same digests.
        int port = f.StartRegistry("fresh-dst", null);
        string copy = $"127.0.0.1:{port}/fresh/two-layers:latest";
        Ok(f.Docker("tag", image, copy));
        Ok(f.Docker("push", copy));
        var src = Proc.Run("skopeo", ["inspect", "--tls-verify=false", "docker://" + image]);
        var dst = Proc.Run("skopeo", ["inspect", "--tls-verify=false", "docker://" + copy]);
        Ok(src);
        Ok(dst);
        using (var a = JsonDocument.Parse(src.Stdout))
        using (var b = JsonDocument.Parse(dst.Stdout))
            Assert.Equal(a.RootElement.GetProperty("Layers").ToString(), b.RootElement.GetProperty("Layers").ToString());
        Ok(f.Docker("rmi", copy));
        Ok(f.Docker("rmi", image));
    }

    [Fact]
    public void SkopeoReadsAndCopiesWhatSkiffPushed()
    {
        string image = Ref("skopeo/busybox:s1");
        Ok(f.Docker("tag", "busybox:latest", image));
        var push = f.Docker("push", image);
        Ok(push);
        string digest = System.Text.RegularExpressions.Regex.Match(push.Stdout, "digest: (sha256:[0-9a-f]{64})").Groups[1].Value;

        var inspect = Proc.Run("skopeo", ["inspect", "--tls-verify=false", "docker://" + image]);
        Ok(inspect);
        using (var doc = JsonDocument.Parse(inspect.Stdout))
        {
            Assert.Equal(digest, doc.RootElement.GetProperty("Digest").GetString());
            Assert.Equal("amd64", doc.RootElement.GetProperty("Architecture").GetString());
            Assert.Equal(1, doc.RootElement.GetProperty("Layers").GetArrayLength());
        }

        string copy = Ref("skopeo/copied:s1");
        var cp = Proc.Run("skopeo", ["copy", "--src-tls-verify=false", "--dest-tls-verify=false", "docker://" + image, "docker://" + copy]);
        Ok(cp);
        string oci = Path.Combine(f.Root, "oci-copy");
        Ok(Proc.Run("skopeo", ["copy", "--src-tls-verify=false", "docker://" + image, "oci:" + oci + ":s1"]));
        Assert.True(File.Exists(Path.Combine(oci, "index.json")));

        // An OCI layout tarball (skopeo's oci-archive, gzip layers) loads with docker load.
        string ociTar = Path.Combine(f.Root, "oci-archive.tar");
        Ok(Proc.Run("skopeo", ["copy", "--src-tls-verify=false", "docker://" + image, "oci-archive:" + ociTar + ":loaded/busybox:oci"]));
        var load = f.Docker("load", "-i", ociTar);
        Ok(load);
        Assert.Contains("Loaded image: loaded/busybox:oci", load.Stdout);
        Ok(f.Docker("run", "--rm", "loaded/busybox:oci", "true"));
        Ok(f.Docker("rmi", "loaded/busybox:oci"));

        var pull = f.Docker("pull", copy);
        Ok(pull);
        var run = f.Docker("run", "--rm", copy, "cat", "/etc/passwd");
        Ok(run);
        Assert.StartsWith("root:x:0:0", run.Stdout);
        Ok(f.Docker("rmi", copy));
        Ok(f.Docker("rmi", image));
    }

    [Fact]
    public void SavedImagesLoadBack()
    {
        Ok(f.Docker("tag", "busybox:latest", "saved/busybox:t1"));
        string tar = Path.Combine(f.Root, "saved.tar");
        Ok(f.Docker("save", "-o", tar, "saved/busybox:t1"));
        // The archive is both a docker-archive and an OCI layout.
        Ok(Proc.Run("skopeo", ["inspect", "docker-archive:" + tar]));
        var oci = Proc.Run("skopeo", ["inspect", "oci-archive:" + tar]);
        Ok(oci);
        Assert.Contains("\"Architecture\": \"amd64\"", oci.Stdout);
        Ok(f.Docker("rmi", "saved/busybox:t1"));
        var load = f.Docker("load", "-i", tar);
        Ok(load);
        Assert.Contains("Loaded image: saved/busybox:t1", load.Stdout);
        var run = f.Docker("run", "--rm", "saved/busybox:t1", "echo", "loaded");
        Ok(run);
        Assert.Equal("loaded\n", run.Stdout);
        Ok(f.Docker("rmi", "saved/busybox:t1"));
    }

    [Fact]
    public void BuildPullsABaseImageTheStoreLacks()
    {
        string base_ = Ref("buildbase/busybox:v1");
        Ok(f.Docker("tag", "busybox:latest", base_));
        Ok(f.Docker("push", base_));
        Ok(f.Docker("rmi", base_));
        string ctx = Path.Combine(f.Root, "build-pull");
        Directory.CreateDirectory(ctx);
        File.WriteAllText(Path.Combine(ctx, "Dockerfile"), $"FROM {base_}\nRUN echo built > /marker\n");
        var build = f.Docker("build", "-t", "built/from-registry", ctx);
        Ok(build);
        Assert.Contains("Digest: sha256:", build.Stdout);
        var run = f.Docker("run", "--rm", "built/from-registry", "cat", "/marker");
        Ok(run);
        Assert.Equal("built\n", run.Stdout);
        Ok(f.Docker("rmi", "built/from-registry"));
        Ok(f.Docker("rmi", base_));
    }

    [Theory]
    [InlineData("dotdot")]
    [InlineData("absolute")]
    [InlineData("symlink")]
    public void MaliciousLayerIsRefusedAndWritesNothingOutside(string kind)
    {
        string victim = Path.Combine(f.Root, "victim-" + kind);
        Directory.CreateDirectory(victim);
        string escapeTarget = Path.Combine(victim, "pwned");
        byte[] layer = kind switch
        {
            "dotdot" => RawLayer(w => AddFile(w, "../../../../../../../.." + escapeTarget, "x")),
            "absolute" => RawLayer(w => AddFile(w, escapeTarget, "x")),
            _ => RawLayer(w =>
            {
                w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "link") { LinkName = victim });
                AddFile(w, "link/pwned", "x");
            }),
        };
        string repo = "evil/" + kind;
        PushRawImage(repo, "latest", [layer]);
        var pull = f.Docker("pull", Ref(repo + ":latest"));
        Assert.NotEqual(0, pull.ExitCode);
        Assert.False(File.Exists(escapeTarget), "the layer wrote outside its root");
        Assert.NotEqual(0, f.Docker("image", "inspect", Ref(repo + ":latest")).ExitCode);
        string output = pull.Stdout + pull.Stderr;
        Assert.True(output.Contains("outside", StringComparison.OrdinalIgnoreCase) || output.Contains("escape", StringComparison.OrdinalIgnoreCase)
            || output.Contains("invalid", StringComparison.OrdinalIgnoreCase) || output.Contains("unsafe", StringComparison.OrdinalIgnoreCase), output);
    }

    [Fact]
    public void LoginThenPushAndPullWithBasicAuth()
    {
        string htpasswd = Path.Combine(f.Root, "htpasswd");
        Ok(Proc.Run("htpasswd", ["-cbB", htpasswd, "skiffuser", "s3cret"]));
        int port = f.StartRegistry("auth", htpasswd);
        string image = $"127.0.0.1:{port}/private/busybox:1";
        Ok(f.Docker("tag", "busybox:latest", image));

        var anonymous = f.Docker("push", image);
        Assert.NotEqual(0, anonymous.ExitCode);
        Assert.Contains("unauthorized", anonymous.Stdout + anonymous.Stderr, StringComparison.OrdinalIgnoreCase);

        var wrong = Proc.Run(DaemonFixture.DockerCli, ["login", "-u", "skiffuser", "--password-stdin", $"127.0.0.1:{port}"], f.Daemon.DockerEnv, stdin: "wrong\n");
        Assert.NotEqual(0, wrong.ExitCode);
        var login = Proc.Run(DaemonFixture.DockerCli, ["login", "-u", "skiffuser", "--password-stdin", $"127.0.0.1:{port}"], f.Daemon.DockerEnv, stdin: "s3cret\n");
        Ok(login);
        Assert.Contains("Login Succeeded", login.Stdout);

        Ok(f.Docker("push", image));
        Ok(f.Docker("rmi", image));
        var pull = f.Docker("pull", image);
        Ok(pull);
        Assert.Contains("Status: Downloaded newer image for " + image, pull.Stdout);
        Ok(f.Docker("logout", $"127.0.0.1:{port}"));
        Ok(f.Docker("rmi", image));
    }

    /// <summary>
    /// As dockerd: one of several tags of an image a container uses is simply untagged (the last tag needs force, see
    /// ImageRemoveCompatTests).
    /// </summary>
    [Fact]
    public void ImageInUseLosesOneOfSeveralTagsWithoutForce()
    {
        Ok(f.Docker("tag", "busybox:latest", "inuse/busybox:1"));
        var create = f.Docker("create", "--name", "reg-inuse", "inuse/busybox:1", "true");
        Ok(create);
        try
        {
            var rmi = f.Docker("rmi", "inuse/busybox:1");
            Ok(rmi);
            Assert.Equal("Untagged: inuse/busybox:1\n", rmi.Stdout);
            Ok(f.Docker("image", "inspect", "busybox:latest"));
        }
        finally
        {
            f.Docker("rm", "-f", "reg-inuse");
        }
    }

    [Fact]
    public void PruneAndSystemDfSeePulledImages()
    {
        string image = Ref("prune/img:latest");
        PushRawImage("prune/img", "latest", [Layer(("p.txt", "one\n"))]);
        Ok(f.Docker("pull", image));
        PushRawImage("prune/img", "latest", [Layer(("p.txt", "two\n"))]);
        Ok(f.Docker("pull", image));
        var dangling = f.Docker("images", "-q", "--filter", "dangling=true");
        Ok(dangling);
        Assert.NotEmpty(dangling.Stdout.Trim());
        var df = f.Docker("system", "df", "--format", "{{.Type}} {{.TotalCount}}");
        Ok(df);
        Assert.Matches(@"Images [1-9]", df.Stdout);
        var prune = f.Docker("image", "prune", "-f");
        Ok(prune);
        Assert.Contains("deleted: sha256:", prune.Stdout);
        Assert.Equal("", f.Docker("images", "-q", "--filter", "dangling=true").Stdout.Trim());
        Ok(f.Docker("rmi", image));
    }

    [Fact]
    public void KillDuringPullLeavesAConsistentStoreAndThePullCompletesAfterwards()
    {
        string image = Ref("crash/big:latest");
        // ~40 MB of incompressible data in 4 layers, so the pull is still running when the daemon dies.
        var layers = Enumerable.Range(0, 4).Select(i => RandomLayer($"blob{i}", 10 << 20)).ToList();
        PushRawImage("crash/big", "latest", layers);

        var psi = new ProcessStartInfo(DaemonFixture.DockerCli) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in f.Daemon.DockerEnv) psi.Environment[k] = v;
        psi.ArgumentList.Add("pull");
        psi.ArgumentList.Add(image);
        using (var pull = Process.Start(psi)!)
        {
            _ = pull.StandardOutput.ReadToEndAsync();
            _ = pull.StandardError.ReadToEndAsync();
            string layersDir = Path.Combine(f.Daemon.DataRoot, "layers");
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (DateTime.UtcNow < deadline && !Directory.EnumerateDirectories(layersDir, ".tmp-*").Any()) Thread.Sleep(5);
            Thread.Sleep(30);
            f.Daemon.KillDaemon();
            pull.WaitForExit(10_000);
        }
        var problems = Skiff.Images.ImageStore.Check(f.Daemon.DataRoot);
        Assert.True(problems.Count == 0, string.Join("\n", problems));

        f.Daemon.StartDaemon();
        var again = f.Docker("pull", image);
        Ok(again);
        Assert.Contains("Status: Downloaded newer image for " + image, again.Stdout);
        Assert.Empty(Skiff.Images.ImageStore.Check(f.Daemon.DataRoot));
        Ok(f.Docker("rmi", image));
    }

    // ---- helpers: build layers and push images with plain HTTP, so tests control every byte ----

    private static void AddFile(TarWriter w, string name, string content) =>
        w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)), Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite });

    private static byte[] RawLayer(Action<TarWriter> write)
    {
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true)) write(w);
        return ms.ToArray();
    }

    private static byte[] Layer(params (string Name, string Content)[] files) =>
        RawLayer(w => { foreach (var (n, c) in files) AddFile(w, n, c); });

    private static byte[] RandomLayer(string name, int size)
    {
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(RandomNumberGenerator.GetBytes(size)), Mode = UnixFileMode.UserRead });
        return ms.ToArray();
    }

    private static string Sha(byte[] b) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(b));

    /// <summary>Pushes an image made of the given uncompressed layer tars (gzipped here) with the registry's HTTP API.</summary>
    private void PushRawImage(string repo, string tag, IReadOnlyList<byte[]> tars)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://{f.Registry}/") };
        var layers = new List<(string Digest, long Size)>();
        var diffIds = new List<string>();
        foreach (var tar in tars)
        {
            var gz = new MemoryStream();
            using (var z = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true)) z.Write(tar);
            var blob = gz.ToArray();
            Upload(http, repo, blob);
            layers.Add((Sha(blob), blob.Length));
            diffIds.Add(Sha(tar));
        }
        string diffs = string.Join(",", diffIds.Select(d => $"\"{d}\""));
        var config = Encoding.UTF8.GetBytes(
            $$$"""{"architecture":"amd64","os":"linux","created":"{{{DateTime.UtcNow:o}}}","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[{{{diffs}}}]}}""");
        Upload(http, repo, config);
        string layerJson = string.Join(",", layers.Select(l => $$"""{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{l.Digest}}","size":{{l.Size}}}"""));
        var manifest = Encoding.UTF8.GetBytes(
            $$$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{{Sha(config)}}}","size":{{{config.Length}}}},"layers":[{{{layerJson}}}]}""");
        var content = new ByteArrayContent(manifest);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.oci.image.manifest.v1+json");
        var put = http.PutAsync($"v2/{repo}/manifests/{tag}", content).Result;
        Assert.True(put.IsSuccessStatusCode, put.Content.ReadAsStringAsync().Result);
    }

    private static void Upload(HttpClient http, string repo, byte[] blob)
    {
        var start = http.PostAsync($"v2/{repo}/blobs/uploads/", null).Result;
        Assert.True(start.IsSuccessStatusCode, start.ToString());
        var loc = start.Headers.Location!;
        var uri = (loc.IsAbsoluteUri ? loc.ToString() : new Uri(http.BaseAddress!, loc).ToString());
        uri += (uri.Contains('?') ? "&" : "?") + "digest=" + Sha(blob);
        var put = http.PutAsync(uri, new ByteArrayContent(blob)).Result;
        Assert.True(put.IsSuccessStatusCode, put.Content.ReadAsStringAsync().Result);
    }
}
