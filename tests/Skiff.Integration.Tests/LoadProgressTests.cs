using System.Formats.Tar;
using System.Net;
using System.Text.Json;

namespace Skiff.Integration.Tests;

/// <summary>
/// <c>POST /images/load</c>: with <c>quiet=0</c> (what the Docker CLI asks for on a terminal) every layer the daemon did
/// not have reports dockerd's "Loading layer" progress ending at the layer file's size, then the "Loaded image" stream
/// line; quiet (the API's default, and the CLI's without a terminal) gives only the stream lines. <c>docker import URL</c>
/// downloads the tarball with dockerd's "Downloading from"/"Importing" messages.
/// </summary>
[Collection("daemon")]
public sealed class LoadProgressTests(DaemonFixture f)
{
    private static void Ok(ProcResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    private ProcResult Load(string tar, string query) =>
        Proc.Run("/usr/bin/curl", ["-sS", "--unix-socket", f.Socket, "-X", "POST", "-H", "Content-Type: application/x-tar", "--data-binary", "@" + tar, "http://d/v1.41/images/load" + query]);

    [Fact]
    public void LoadReportsLayerProgressUnlessQuiet()
    {
        string name = "loadprogress:" + Guid.NewGuid().ToString("N")[..6];
        string root = Path.Combine(f.Root, "loadprogress-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(root);
        string rootfs = Path.Combine(root, "rootfs.tar"), saved = Path.Combine(root, "saved.tar");
        var payload = new byte[3 << 20];
        Random.Shared.NextBytes(payload);
        using (var fs = File.Create(rootfs))
        using (var w = new TarWriter(fs, TarEntryFormat.Pax))
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "blob") { DataStream = new MemoryStream(payload) });
        Ok(f.Docker("import", rootfs, name));
        Ok(f.Docker("save", "-o", saved, name));
        Ok(f.Docker("rmi", name));

        var loud = Load(saved, "?quiet=0");
        Ok(loud);
        var messages = loud.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var layer = messages.Where(m => m.TryGetProperty("status", out var s) && s.GetString() == "Loading layer").ToList();
        Assert.NotEmpty(layer);
        var last = layer[^1];
        Assert.Matches("^[0-9a-f]{12}$", last.GetProperty("id").GetString());
        long total = last.GetProperty("progressDetail").GetProperty("total").GetInt64();
        Assert.True(total > payload.Length, loud.Stdout);
        Assert.Equal(total, last.GetProperty("progressDetail").GetProperty("current").GetInt64());
        // dockerd's text: a 50-column bar, then "%8v/%v" of go-units' decimal sizes.
        Assert.Matches(@"^\[={50}>\]  3\.1\d\dMB/3\.1\d\dMB$", last.GetProperty("progress").GetString());
        Assert.Equal($"Loaded image: {name}\n", messages[^1].GetProperty("stream").GetString());

        // Layers already there report nothing; quiet (the default) never reports progress.
        var again = Load(saved, "?quiet=0");
        Ok(again);
        Assert.DoesNotContain("Loading layer", again.Stdout);
        Ok(f.Docker("rmi", name));
        var quiet = Load(saved, "");
        Ok(quiet);
        Assert.Equal($"{{\"stream\":\"Loaded image: {name}\\n\"}}\n", quiet.Stdout);
        var cli = f.Docker("load", "-i", saved);
        Ok(cli);
        Assert.Equal($"Loaded image: {name}\n", cli.Stdout);
        Ok(f.Docker("rmi", name));
        Directory.Delete(root, recursive: true);
    }

    [Fact]
    public async Task ImportFromUrlReportsDownloadProgress()
    {
        string root = Path.Combine(f.Root, "importurl-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(root);
        string rootfs = Path.Combine(root, "rootfs.tar");
        using (var fs = File.Create(rootfs))
        using (var w = new TarWriter(fs, TarEntryFormat.Pax))
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "hello") { DataStream = new MemoryStream("imported from a URL\n"u8.ToArray()) });
        int port = RegistryFixture.FreePort();
        using var server = new HttpListener();
        server.Prefixes.Add($"http://127.0.0.1:{port}/");
        server.Start();
        var serving = Task.Run(async () =>
        {
            while (server.IsListening)
            {
                HttpListenerContext c;
                try { c = await server.GetContextAsync(); }
                catch (Exception) { return; }
                if (c.Request.Url!.AbsolutePath == "/rootfs.tar")
                {
                    byte[] bytes = File.ReadAllBytes(rootfs);
                    c.Response.ContentLength64 = bytes.Length;
                    c.Response.OutputStream.Write(bytes);
                }
                else
                {
                    c.Response.StatusCode = 404;
                    c.Response.OutputStream.Write("no such file"u8);
                }
                c.Response.Close();
            }
        });
        try
        {
            string name = "importurl:" + Guid.NewGuid().ToString("N")[..6];
            var raw = Proc.Run("/usr/bin/curl", ["-sS", "--unix-socket", f.Socket, "-X", "POST",
                $"http://d/v1.41/images/create?fromSrc={Uri.EscapeDataString($"http://127.0.0.1:{port}/rootfs.tar")}&repo={name.Split(':')[0]}&tag={name.Split(':')[1]}"]);
            Ok(raw);
            var lines = raw.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal($"Downloading from http://127.0.0.1:{port}/rootfs.tar", lines[0].GetProperty("status").GetString());
            var importing = lines.Where(l => l.GetProperty("status").GetString() == "Importing").ToList();
            Assert.NotEmpty(importing);
            Assert.Equal(new FileInfo(rootfs).Length, importing[^1].GetProperty("progressDetail").GetProperty("current").GetInt64());
            Assert.Matches("^sha256:[0-9a-f]{64}$", lines[^1].GetProperty("status").GetString());
            // The layer is the tarball itself: its diff ID is the file's sha256.
            var layers = f.Docker("image", "inspect", "-f", "{{json .RootFS.Layers}}", name);
            Ok(layers);
            string sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(rootfs)));
            Assert.Equal($"[\"sha256:{sha}\"]\n", layers.Stdout);
            var cli = f.Docker("import", $"http://127.0.0.1:{port}/rootfs.tar", name + "b");
            Ok(cli);
            Assert.Matches($"^Downloading from http://127.0.0.1:{port}/rootfs.tar\nsha256:[0-9a-f]{{64}}\n$", cli.Stdout);
            var missing = f.Docker("import", $"http://127.0.0.1:{port}/nope.tar");
            Assert.Equal(1, missing.ExitCode);
            Assert.Contains($"failed to GET http://127.0.0.1:{port}/nope.tar with status 404 Not Found: no such file", missing.Stderr);
            Ok(f.Docker("rmi", name, name + "b"));
        }
        finally
        {
            server.Stop();
            await serving.WaitAsync(TimeSpan.FromSeconds(5));
            Directory.Delete(root, recursive: true);
        }
    }
}
