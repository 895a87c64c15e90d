using System.IO.Compression;
using Skiff.Archive;

namespace Skiff.Images.Tests;

public class ImageStoreTests
{
    /// <summary>A busybox rootfs (Debian's static busybox) as a gzip tar made by GNU tar, like a real `docker import`.</summary>
    internal static byte[] BusyboxRootfs(TempDir tmp, string name = "rootfs")
    {
        string root = tmp.Sub(name);
        foreach (var d in new[] { "bin", "etc", "tmp", "root", "usr/bin" }) Directory.CreateDirectory(Path.Combine(root, d));
        File.Copy("/bin/busybox", Path.Combine(root, "bin/busybox"));
        foreach (var applet in new[] { "sh", "ls", "echo", "cat", "id" })
            File.CreateSymbolicLink(Path.Combine(root, "bin", applet), "busybox");
        File.WriteAllText(Path.Combine(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
        Sh.Run("chmod", "1777", Path.Combine(root, "tmp"));
        string tar = Path.Combine(tmp.Path, name + ".tar.gz");
        Sh.Run("tar", "--numeric-owner", "-czf", tar, "-C", root, ".");
        return File.ReadAllBytes(tar);
    }

    private static string Chroot(string root, params string[] args) => Sh.Run("chroot", [root, .. args]);

    [Fact]
    public void ImportsBusyboxAndRunsItFromTheOverlay()
    {
        using var tmp = new TempDir();
        var store = new ImageStore(Path.Combine(tmp.Path, "data"));
        var image = store.Import(new MemoryStream(BusyboxRootfs(tmp)), new ImportOptions
        {
            Reference = "busybox",
            Changes = ["CMD [\"sh\"]", "ENV PATH=/bin:/usr/bin", "EXPOSE 8080", "LABEL a=b", "WORKDIR /root", "USER root", "VOLUME /data", "STOPSIGNAL SIGKILL"],
        });

        Assert.StartsWith("sha256:", image.Id);
        Assert.Equal(["busybox:latest"], image.RepoTags);
        Assert.Equal(image.Id, "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(image.ConfigBytes)));
        Assert.Equal("linux", image.Config.Os);
        Assert.Equal("amd64", image.Config.Architecture);
        Assert.Equal(["sh"], image.Config.Config!.Cmd);
        Assert.Equal(["PATH=/bin:/usr/bin"], image.Config.Config.Env);
        Assert.Contains("8080/tcp", image.Config.Config.ExposedPorts!.Keys);
        Assert.Equal("layers", image.Config.RootFs.Type);
        Assert.Single(image.DiffIds);
        Assert.Equal(image.DiffIds[0], image.ChainIds[0]);
        Assert.Equal("Imported from -", image.Config.History![0].Comment);
        Assert.True(image.Size >= new FileInfo("/bin/busybox").Length);

        foreach (var r in new[] { "busybox", "busybox:latest", "docker.io/library/busybox:latest", "library/busybox", image.Id, image.Id[7..], image.ShortId, image.Id[..15] })
            Assert.Equal(image.Id, store.Find(r).Id);
        Assert.Throws<ImageNotFoundException>(() => store.Find("busybox:other"));
        Assert.Equal("No such image: nothere:latest", Assert.Throws<ImageNotFoundException>(() => store.Find("nothere")).Message);

        string layer = store.LayerPaths(image.Id).Single();
        Assert.True(File.Exists(Path.Combine(layer, "bin/busybox")));
        Assert.Equal("busybox", new FileInfo(Path.Combine(layer, "bin/sh")).LinkTarget);
        Assert.True(store.Content.Exists(Skiff.Content.Digest.Parse(image.DiffIds[0])));

        string ctr = Path.Combine(tmp.Path, "data/containers/c1");
        var snap = store.PrepareContainer("busybox", ctr);
        string merged = tmp.Sub("merged");
        Sh.Mount(snap.MountOptions, merged);
        try
        {
            Assert.Equal("hello from skiff\n", Chroot(merged, "/bin/sh", "-c", "echo hello from skiff > /tmp/out; cat /tmp/out"));
        }
        finally
        {
            Sh.Umount(merged);
        }
        Assert.True(File.Exists(Path.Combine(snap.UpperDir, "tmp/out")));
        Assert.False(File.Exists(Path.Combine(layer, "tmp/out")));
    }

    [Fact]
    public void SameLayerIsStoredOnceAndStatePersists()
    {
        using var tmp = new TempDir();
        string data = Path.Combine(tmp.Path, "data");
        byte[] rootfs = BusyboxRootfs(tmp);
        var store = new ImageStore(data);
        var a = store.Import(new MemoryStream(rootfs), new ImportOptions { Reference = "a", Message = "first" });
        var b = store.Import(new MemoryStream(rootfs), new ImportOptions { Reference = "b:v2", Message = "second" });
        Assert.NotEqual(a.Id, b.Id);
        Assert.Equal(a.ChainIds, b.ChainIds);
        Assert.Single(store.Snapshots.List());
        Assert.Equal("first", a.Config.History![0].Comment);

        var reopened = new ImageStore(data);
        Assert.Equal(2, reopened.List().Count);
        Assert.Equal(b.Id, reopened.Find("b:v2").Id);
        Assert.Equal(["b:v2"], reopened.Find(b.Id).RepoTags);
        string repos = File.ReadAllText(Path.Combine(data, "images/repositories.json"));
        Assert.Contains("docker.io/library/b:v2", repos);
    }

    [Fact]
    public void TagAndRemoveFollowDockerRules()
    {
        using var tmp = new TempDir();
        string data = Path.Combine(tmp.Path, "data");
        var store = new ImageStore(data);
        var img = store.Import(new MemoryStream(BusyboxRootfs(tmp)), new ImportOptions { Reference = "busybox" });
        store.Tag("busybox", "localhost:5000/bb:v1");
        store.Tag(img.ShortId, "busybox:second");
        Assert.Equal(["busybox:latest", "busybox:second", "localhost:5000/bb:v1"], store.Find(img.Id).RepoTags);
        Assert.Throws<ImageNotFoundException>(() => store.Tag("nope", "x"));
        Assert.Throws<InvalidImageArgumentException>(() => store.Tag("busybox", "Bad:Name"));

        string? user = null;
        var multi = Assert.Throws<ImageConflictException>(() => store.Remove(img.Id, force: false, _ => user));
        Assert.Contains("referenced in multiple repositories", multi.Message);
        Assert.Equal(ImageErrorKind.Conflict, multi.Kind);

        Assert.Equal([new ImageDeleteEntry("busybox:second", null)], store.Remove("busybox:second", false, _ => user));
        Assert.Equal([new ImageDeleteEntry("localhost:5000/bb:v1", null)], store.Remove("localhost:5000/bb:v1", false, _ => user));

        user = "c0ffee0000000000";
        var inUse = Assert.Throws<ImageConflictException>(() => store.Remove("busybox", false, _ => user));
        Assert.Contains("c0ffee000000", inUse.Message);
        Assert.Throws<ImageConflictException>(() => store.Remove(img.Id, false, _ => user));
        user = null;

        var removed = store.Remove("busybox", false, _ => user);
        Assert.Equal([new ImageDeleteEntry("busybox:latest", null), new ImageDeleteEntry(null, img.Id)], removed);
        Assert.Empty(store.List());
        Assert.Empty(store.Snapshots.List());
        Assert.Empty(store.Content.List());
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(data, "l")));
        Assert.Throws<ImageNotFoundException>(() => store.Remove("busybox", false, _ => null));
    }

    [Fact]
    public void ForcedRemovalOfImageInUseOnlyUntags()
    {
        using var tmp = new TempDir();
        var store = new ImageStore(Path.Combine(tmp.Path, "data"));
        var img = store.Import(new MemoryStream(BusyboxRootfs(tmp)), new ImportOptions { Reference = "busybox" });
        var result = store.Remove(img.Id, force: true, _ => "abc");
        Assert.Equal([new ImageDeleteEntry("busybox:latest", null)], result);
        Assert.Empty(store.Find(img.Id).RepoTags);
        Assert.Single(store.Snapshots.List());
    }

    [Fact]
    public void RemoveByIdChecksConflictsInDockerdsOrder()
    {
        using var tmp = new TempDir();
        var store = new ImageStore(Path.Combine(tmp.Path, "data"));
        var img = store.Import(new MemoryStream(BusyboxRootfs(tmp)), new ImportOptions { Reference = "busybox" });
        store.Tag("busybox", "busybox:second");
        string short12 = img.Id["sha256:".Length..][..12];
        // Two tags of one repository are already "several references" for dockerd.
        var twoTags = Assert.Throws<ImageConflictException>(() => store.Remove(img.Id, false, _ => "5709d1e5000000", _ => null));
        Assert.Equal($"conflict: unable to delete {short12} (must be forced) - image is referenced in multiple repositories", twoTags.Message);
        var running = Assert.Throws<ImageConflictException>(() => store.Remove(img.Id, true, _ => "0123456789abcdef", _ => "0123456789abcdef"));
        Assert.Equal($"conflict: unable to delete {short12} (cannot be forced) - image is being used by running container 0123456789ab", running.Message);
        // By name, one of several tags is untagged even while a container runs the image.
        Assert.Equal([new ImageDeleteEntry("busybox:second", null)], store.Remove("busybox:second", false, _ => "0123456789abcdef", _ => "0123456789abcdef"));
        var stopped = Assert.Throws<ImageConflictException>(() => store.Remove(img.Id, false, _ => "5709d1e5000000", _ => null));
        Assert.Equal($"conflict: unable to delete {short12} (must be forced) - image is being used by stopped container 5709d1e50000", stopped.Message);
    }

    [Fact]
    public void CommitCreatesChildImageFromUpperDir()
    {
        using var tmp = new TempDir();
        var store = new ImageStore(Path.Combine(tmp.Path, "data"));
        var parent = store.Import(new MemoryStream(BusyboxRootfs(tmp)), new ImportOptions { Reference = "busybox", Changes = ["CMD [\"sh\"]"] });
        string ctr = Path.Combine(tmp.Path, "ctr");
        var snap = store.PrepareContainer(parent.Id, ctr);
        string merged = tmp.Sub("merged");
        Sh.Mount(snap.MountOptions, merged);
        try
        {
            Chroot(merged, "/bin/sh", "-c", "echo committed > /root/file; rm /etc/passwd; rm /bin/ls");
        }
        finally
        {
            Sh.Umount(merged);
        }
        var changes = store.Changes(parent.Id, snap.UpperDir).Select(c => $"{(int)c.Kind} {c.Path}").ToList();
        Assert.Equal(["0 /bin", "2 /bin/ls", "0 /etc", "2 /etc/passwd", "0 /root", "1 /root/file"], changes);
        var export = new MemoryStream();
        store.ExportRootfs(parent.Id, snap.UpperDir, export);
        export.Position = 0;
        var exported = new List<string>();
        using (var r = new TarReader(export, leaveOpen: true)) while (r.GetNextEntry() is { } e) exported.Add(e.Name);
        Assert.Contains("bin/busybox", exported);
        Assert.Contains("root/file", exported);
        Assert.DoesNotContain("etc/passwd", exported);
        Assert.DoesNotContain("bin/ls", exported);

        var child = store.Commit(new CommitOptions
        {
            UpperDir = snap.UpperDir,
            ParentImageId = parent.Id,
            Changes = ["ENV X=1"],
            Author = "tester",
            Comment = "a commit",
            CreatedBy = "/bin/sh -c echo committed",
            Reference = "mine:1",
        });
        Assert.Equal(parent.Id, child.Parent);
        Assert.Equal(2, child.DiffIds.Count);
        Assert.Equal(parent.DiffIds[0], child.DiffIds[0]);
        Assert.Equal(ImageStore.ChainId(parent.ChainIds[0], child.DiffIds[1]), child.ChainIds[1]);
        Assert.Equal(["sh"], child.Config.Config!.Cmd);
        Assert.Equal(["X=1"], child.Config.Config.Env);
        Assert.Equal("tester", child.Config.Author);
        Assert.Equal(2, store.Snapshots.List().Count);

        var history = store.History("mine:1");
        Assert.Equal(2, history.Count);
        Assert.Equal(child.Id, history[0].Id);
        Assert.Equal(["mine:1"], history[0].Tags);
        Assert.Equal("/bin/sh -c echo committed", history[0].CreatedBy);
        Assert.Equal(parent.Id, history[1].Id);
        Assert.True(history[1].Size > 0);

        string ctr2 = Path.Combine(tmp.Path, "ctr2");
        var snap2 = store.PrepareContainer("mine:1", ctr2);
        string merged2 = tmp.Sub("merged2");
        Sh.Mount(snap2.MountOptions, merged2);
        try
        {
            Assert.Equal("committed\n", File.ReadAllText(Path.Combine(merged2, "root/file")));
            Assert.False(File.Exists(Path.Combine(merged2, "etc/passwd")));
            Assert.False(File.Exists(Path.Combine(merged2, "bin/ls")));
            Assert.True(File.Exists(Path.Combine(merged2, "bin/cat")));
        }
        finally
        {
            Sh.Umount(merged2);
        }

        var conflict = Assert.Throws<ImageConflictException>(() => store.Remove(parent.Id, true, _ => null));
        Assert.Contains("dependent child images", conflict.Message);
        Assert.Equal([new ImageDeleteEntry("busybox:latest", null)], store.Remove("busybox", false, _ => null));
        var removed = store.Remove("mine:1", false, _ => null);
        Assert.Equal([new ImageDeleteEntry("mine:1", null), new ImageDeleteEntry(null, child.Id), new ImageDeleteEntry(null, parent.Id)], removed);
        Assert.Empty(store.Snapshots.List());
    }

    [Fact]
    public void SaveThenLoadIntoAnotherStoreKeepsIdsAndTags()
    {
        using var tmp = new TempDir();
        var store = new ImageStore(Path.Combine(tmp.Path, "a"));
        var img = store.Import(new MemoryStream(BusyboxRootfs(tmp)), new ImportOptions { Reference = "busybox:1" });
        var archive = new MemoryStream();
        store.Save(["busybox:1"], archive);

        archive.Position = 0;
        var names = new List<string>();
        using (var r = new TarReader(archive, leaveOpen: true)) while (r.GetNextEntry() is { } e) names.Add(e.Name);
        Assert.Contains("manifest.json", names);
        Assert.Contains("repositories", names);
        Assert.Contains("blobs/sha256/" + img.Id[7..], names);

        var other = new ImageStore(Path.Combine(tmp.Path, "b"));
        archive.Position = 0;
        var gz = new MemoryStream();
        using (var z = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true)) archive.CopyTo(z);
        gz.Position = 0;
        Assert.Equal(["Loaded image: busybox:1"], other.Load(gz));
        var loaded = other.Find("busybox:1");
        Assert.Equal(img.Id, loaded.Id);
        Assert.Equal(img.ChainIds, loaded.ChainIds);
        Assert.True(File.Exists(Path.Combine(other.LayerPaths(loaded.Id)[0], "bin/busybox")));
        Assert.False(Directory.Exists(Path.Combine(tmp.Path, "b/tmp")) && Directory.GetFileSystemEntries(Path.Combine(tmp.Path, "b/tmp")).Length > 0);

        var byId = new MemoryStream();
        store.Save([img.Id], byId);
        byId.Position = 0;
        var third = new ImageStore(Path.Combine(tmp.Path, "c"));
        Assert.Equal(["Loaded image ID: " + img.Id], third.Load(byId));
    }

    [Fact]
    public void MaliciousOrBrokenImportsAreInvalidArgumentsAndLeaveNothing()
    {
        using var tmp = new TempDir();
        string data = Path.Combine(tmp.Path, "data");
        var store = new ImageStore(data);
        var evil = new MemoryStream();
        using (var w = new TarWriter(evil, leaveOpen: true))
        {
            w.WriteEntry(new TarEntry("escape", TarEntryType.SymbolicLink) { LinkName = "/" });
            w.WriteEntry(new TarEntry("escape/tmp/pwned", TarEntryType.RegularFile) { Size = 1 }, new MemoryStream([1]));
        }
        evil.Position = 0;
        var ex = Assert.Throws<InvalidImageArgumentException>(() => store.Import(evil, new ImportOptions { Reference = "evil" }));
        Assert.IsType<UnsafeArchiveEntryException>(ex.InnerException);
        Assert.Contains("escape/tmp/pwned", ex.Message);
        Assert.False(File.Exists("/tmp/pwned"));

        Assert.Throws<InvalidImageArgumentException>(() => store.Import(new MemoryStream(new byte[1000].Select((_, i) => (byte)(i * 7)).ToArray()), new ImportOptions()));
        Assert.Throws<InvalidImageArgumentException>(() => store.Import(new MemoryStream(BusyboxRootfs(tmp)), new ImportOptions { Changes = ["RUN rm -rf /"] }));
        Assert.Contains("empty archive", Assert.Throws<InvalidImageArgumentException>(() => store.Import(new MemoryStream(), new ImportOptions())).Message);
        Assert.Throws<InvalidImageArgumentException>(() => store.Import(new MemoryStream(BusyboxRootfs(tmp, "r2")), new ImportOptions { Reference = "UPPER" }));

        Assert.Empty(store.List());
        Assert.Empty(store.Snapshots.List());
        Assert.Empty(Directory.GetDirectories(Path.Combine(data, "layers")));
        Assert.Empty(Directory.GetFiles(Path.Combine(data, "content/ingest")));
    }

    private static MemoryStream Archive(params (string Name, string? Data, string? Link)[] entries)
    {
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, leaveOpen: true))
        {
            foreach (var (name, data, link) in entries)
            {
                if (link is not null) { w.WriteEntry(new TarEntry(name, TarEntryType.SymbolicLink) { LinkName = link }); continue; }
                byte[] bytes = System.Text.Encoding.UTF8.GetBytes(data!);
                w.WriteEntry(new TarEntry(name, TarEntryType.RegularFile) { Mode = 0x1A4, Size = bytes.Length }, new MemoryStream(bytes));
            }
        }
        ms.Position = 0;
        return ms;
    }

    [Fact]
    public void LoadRefusesHostPathsAndLayersThatDoNotMatchTheirDiffId()
    {
        using var tmp = new TempDir();
        var store = new ImageStore(Path.Combine(tmp.Path, "data"));
        var viaSymlink = Archive(("host", null, "/etc"), ("manifest.json", "[{\"Config\":\"host/hostname\",\"Layers\":[]}]", null));
        var ex = Assert.Throws<InvalidImageArgumentException>(() => store.Load(viaSymlink));
        Assert.Contains("host/hostname", ex.Message);

        string layer = new string((char)0, 1024);
        string diffId = "sha256:" + new string('0', 64);
        string config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" + diffId + "\"]}}";
        var mismatch = Archive(("c.json", config, null), ("l/layer.tar", layer, null),
            ("manifest.json", "[{\"Config\":\"c.json\",\"RepoTags\":[\"x:1\"],\"Layers\":[\"l/layer.tar\"]}]", null));
        Assert.Contains("does not match its diff ID", Assert.Throws<InvalidImageArgumentException>(() => store.Load(mismatch)).Message);
        Assert.Empty(store.List());
        Assert.Empty(store.Snapshots.List());
    }

    [Fact]
    public void PruneRemovesDanglingThenAllUnused()
    {
        using var tmp = new TempDir();
        var store = new ImageStore(Path.Combine(tmp.Path, "data"));
        byte[] rootfs = BusyboxRootfs(tmp);
        var dangling = store.Import(new MemoryStream(rootfs), new ImportOptions { Message = "dangling" });
        var used = store.Import(new MemoryStream(rootfs), new ImportOptions { Message = "used" });
        var tagged = store.Import(new MemoryStream(rootfs), new ImportOptions { Reference = "keep", Message = "tagged" });
        Func<string, string?> users = id => id == used.Id ? "ctr" : null;

        var (deleted, _) = store.Prune(all: false, users);
        Assert.Equal([new ImageDeleteEntry(null, dangling.Id)], deleted);
        Assert.Single(store.Snapshots.List());

        var (all, reclaimed) = store.Prune(all: true, users);
        Assert.Equal([new ImageDeleteEntry("keep:latest", null), new ImageDeleteEntry(null, tagged.Id)], all);
        Assert.Equal(0, reclaimed);
        Assert.Equal(used.Id, store.List().Single().Id);
    }

    [Fact]
    public void StartupCollectsLayersOfImportsThatNeverRegistered()
    {
        using var tmp = new TempDir();
        string data = Path.Combine(tmp.Path, "data");
        var store = new ImageStore(data);
        var img = store.Import(new MemoryStream(BusyboxRootfs(tmp)), new ImportOptions { Reference = "x" });
        // Simulate a crash after the layer was committed but before the image record was written.
        File.Delete(Path.Combine(data, "images", img.Id[7..] + ".json"));
        var reopened = new ImageStore(data);
        Assert.Empty(reopened.List());
        Assert.Empty(reopened.Snapshots.List());
        Assert.Empty(reopened.Content.List());
        Assert.DoesNotContain("x:latest", File.ReadAllText(Path.Combine(data, "images/repositories.json")));
    }

    [Fact]
    public void DiffIdIsTheSameForPlainGzipAndZstdOfOneTar()
    {
        using var tmp = new TempDir();
        var store = new ImageStore(Path.Combine(tmp.Path, "data"));
        byte[] gz = BusyboxRootfs(tmp);
        string plainPath = Path.Combine(tmp.Path, "plain.tar");
        using (var g = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress))
        using (var f = File.Create(plainPath))
            g.CopyTo(f);
        Sh.Run("zstd", "-q", plainPath, "-o", plainPath + ".zst");
        var fromGzip = store.Import(new MemoryStream(gz), new ImportOptions { Reference = "gz" });
        var fromPlain = store.Import(File.OpenRead(plainPath), new ImportOptions { Reference = "plain" });
        var fromZstd = store.Import(File.OpenRead(plainPath + ".zst"), new ImportOptions { Reference = "zstd" });
        string expected = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(plainPath)));
        Assert.Equal([expected], fromGzip.DiffIds);
        Assert.Equal([expected], fromPlain.DiffIds);
        Assert.Equal([expected], fromZstd.DiffIds);
        Assert.Single(store.Snapshots.List());
    }

    [Fact]
    public void ConcurrentImportsAndRemovalsKeepTheStoreConsistent()
    {
        using var tmp = new TempDir();
        string data = Path.Combine(tmp.Path, "data");
        var store = new ImageStore(data);
        byte[] rootfs = BusyboxRootfs(tmp);
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var img = store.Import(new MemoryStream(rootfs), new ImportOptions { Reference = $"img{i}", Message = $"m{i}" });
            if (i % 2 == 0) store.Remove($"img{i}", false, _ => null);
            else Assert.True(Directory.Exists(store.LayerPaths(img.Id)[0]));
        });
        Assert.Equal(4, store.List().Count);
        Assert.Single(store.Snapshots.List());
        var reopened = new ImageStore(data);
        Assert.Equal(4, reopened.List().Count);
        foreach (var img in reopened.List()) Assert.True(File.Exists(Path.Combine(reopened.LayerPaths(img.Id)[0], "bin/busybox")));
    }
}
