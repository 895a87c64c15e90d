using System.Formats.Tar;
using System.Text.Json;

namespace Skiff.Integration.Tests;

/// <summary>
/// <c>POST /images/load</c>: with <c>quiet=0</c> (what the Docker CLI asks for on a terminal) every layer the daemon did
/// not have reports dockerd's "Loading layer" progress ending at the layer file's size, then the "Loaded image" stream
/// line; quiet (the API's default, and the CLI's without a terminal) gives only the stream lines.
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
}
