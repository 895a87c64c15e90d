using static Skiff.Archive.Tests.ExtractionTests;

namespace Skiff.Archive.Tests;

/// <summary>Whiteouts and opaque dirs checked against the real kernel overlayfs.</summary>
public class OverlayTests
{
    private static void WithOverlay(string options, string merged, Action body)
    {
        Sh.Mount(options, merged);
        try { body(); }
        finally { Sh.Umount(merged); }
    }

    private static void CreateLayers(TempDir tmp, out string l1, out string l2)
    {
        l1 = tmp.Sub("l1");
        l2 = tmp.Sub("l2");
        LayerExtractor.Extract(Tar(D("d"), F("d/a", "a"), F("d/b", "b"), F("f", "f"), D("o"), F("o/x", "x"), F("keep", "k")), l1);
        LayerExtractor.Extract(Tar(D("d"), F("d/.wh.a", ""), F(".wh.f", ""), D("o"), F("o/.wh..wh..opq", ""), F("o/y", "y")), l2);
    }

    private static void AssertMergedView(string merged)
    {
        Assert.False(File.Exists(Path.Combine(merged, "d/a")));
        Assert.Equal("b", File.ReadAllText(Path.Combine(merged, "d/b")));
        Assert.False(File.Exists(Path.Combine(merged, "f")));
        Assert.Equal(["y"], Directory.GetFileSystemEntries(Path.Combine(merged, "o")).Select(Path.GetFileName));
        Assert.Equal("k", File.ReadAllText(Path.Combine(merged, "keep")));
    }

    [Fact]
    public void ExtractedWhiteoutsHideLowerEntriesInOverlay()
    {
        using var tmp = new TempDir();
        CreateLayers(tmp, out var l1, out var l2);
        string merged = tmp.Sub("merged");
        WithOverlay($"lowerdir={l2}:{l1}", merged, () => AssertMergedView(merged));
    }

    [Fact]
    public void OverlayUpperDirBecomesLayerDiffThatReproducesTheView()
    {
        using var tmp = new TempDir();
        string l1 = tmp.Sub("l1");
        LayerExtractor.Extract(Tar(D("d"), F("d/a", "a"), F("d/b", "b"), F("f", "f"), D("o"), F("o/x", "x"), F("keep", "k")), l1);
        string upper = tmp.Sub("upper"), work = tmp.Sub("work"), merged = tmp.Sub("merged");
        WithOverlay($"lowerdir={l1},upperdir={upper},workdir={work}", merged, () =>
        {
            File.Delete(Path.Combine(merged, "d/a"));
            File.Delete(Path.Combine(merged, "f"));
            Directory.Delete(Path.Combine(merged, "o"), recursive: true);
            Directory.CreateDirectory(Path.Combine(merged, "o"));
            File.WriteAllText(Path.Combine(merged, "o/y"), "y");
            File.WriteAllText(Path.Combine(merged, "new"), "n");
        });

        var diff = new MemoryStream();
        DirectoryArchiver.WriteTree(upper, diff, new ArchiveOptions { OverlayDiff = true });
        diff.Position = 0;
        var names = new List<string>();
        using (var r = new TarReader(diff, leaveOpen: true))
            while (r.GetNextEntry() is { } e)
            {
                names.Add(e.Name);
                Assert.DoesNotContain(e.Xattrs.Keys, k => k.StartsWith("trusted.overlay.", StringComparison.Ordinal));
            }
        Assert.Contains("d/.wh.a", names);
        Assert.Contains(".wh.f", names);
        Assert.Contains("o/.wh..wh..opq", names);
        Assert.Contains("o/y", names);
        Assert.Contains("new", names);

        diff.Position = 0;
        string l2 = tmp.Sub("l2");
        LayerExtractor.Extract(diff, l2);
        string merged2 = tmp.Sub("merged2");
        WithOverlay($"lowerdir={l2}:{l1}", merged2, () =>
        {
            AssertMergedView(merged2);
            Assert.Equal("n", File.ReadAllText(Path.Combine(merged2, "new")));
        });
    }

    [Fact]
    public void DirectoryTreeArchiveIsDeterministicAndKeepsHardLinks()
    {
        using var tmp = new TempDir();
        string src = tmp.Sub("src");
        LayerExtractor.Extract(Tar(D("z"), F("z/1", "one"), H("z/2", "z/1"), L("a", "z/1"), F("b", "b", 0x9ED)), src);
        var one = new MemoryStream();
        var two = new MemoryStream();
        DirectoryArchiver.WriteTree(src, one);
        DirectoryArchiver.WriteTree(src, two);
        Assert.Equal(one.ToArray(), two.ToArray());
        one.Position = 0;
        var entries = new List<TarEntry>();
        using (var r = new TarReader(one)) while (r.GetNextEntry() is { } e) entries.Add(e);
        Assert.Equal(["a", "b", "z", "z/1", "z/2"], entries.Select(e => e.Name));
        Assert.Equal(TarEntryType.HardLink, entries[4].Type);
        Assert.Equal("z/1", entries[4].LinkName);
        Assert.Equal(0x9EDu, entries[1].Mode);

        var prefixed = new MemoryStream();
        DirectoryArchiver.WriteTree(Path.Combine(src, "z"), prefixed, new ArchiveOptions { Prefix = "z" });
        prefixed.Position = 0;
        using var r2 = new TarReader(prefixed);
        Assert.Equal("z", r2.GetNextEntry()!.Name);
        Assert.Equal("z/1", r2.GetNextEntry()!.Name);
    }

    private static List<string> Listing(Stream tar)
    {
        tar.Position = 0;
        var result = new List<string>();
        using var r = new TarReader(tar, leaveOpen: true);
        while (r.GetNextEntry() is { } e)
        {
            string data = e.DataStream is { } d ? new StreamReader(d).ReadToEnd() : "";
            result.Add($"{e.Name} {e.Type} {e.Mode:x} {e.LinkName} {data}");
        }
        return result;
    }

    [Fact]
    public void MergedViewWithoutMountMatchesKernelOverlay()
    {
        using var tmp = new TempDir();
        CreateLayers(tmp, out var l1, out var l2);
        string upper = tmp.Sub("upper"), work = tmp.Sub("work"), merged = tmp.Sub("merged");
        var kernel = new MemoryStream();
        WithOverlay($"lowerdir={l2}:{l1},upperdir={upper},workdir={work}", merged, () =>
        {
            File.Delete(Path.Combine(merged, "d/b"));
            File.WriteAllText(Path.Combine(merged, "keep"), "changed");
            Directory.Delete(Path.Combine(merged, "o"), recursive: true);
            Directory.CreateDirectory(Path.Combine(merged, "o"));
            File.WriteAllText(Path.Combine(merged, "o/z"), "z");
            Directory.CreateDirectory(Path.Combine(merged, "new/deep"));
            File.CreateSymbolicLink(Path.Combine(merged, "new/link"), "/etc/passwd");
            File.WriteAllText(Path.Combine(merged, "d/a"), "resurrected");
            DirectoryArchiver.WriteTree(merged, kernel, new ArchiveOptions { IncludeXattrs = false });
        });
        var ours = new MemoryStream();
        OverlayTree.WriteMerged([upper, l2, l1], ours, new ArchiveOptions { IncludeXattrs = false });
        Assert.Equal(Listing(kernel), Listing(ours));

        var changes = OverlayTree.Changes(upper, [l2, l1]).Select(c => $"{(int)c.Kind} {c.Path}").ToList();
        Assert.Equal(
        [
            "0 /d", "1 /d/a", "2 /d/b", "0 /keep", "1 /new", "1 /new/deep", "1 /new/link", "0 /o", "2 /o/y", "1 /o/z",
        ], changes);
    }
}
