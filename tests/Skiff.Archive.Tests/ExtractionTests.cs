namespace Skiff.Archive.Tests;

public class ExtractionTests
{
    private static readonly byte[] Capability = [0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];

    internal static MemoryStream Tar(params (TarEntry Entry, string? Data)[] entries)
    {
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, leaveOpen: true))
        {
            foreach (var (e, d) in entries)
            {
                if (d is not null) e.Size = System.Text.Encoding.UTF8.GetByteCount(d);
                w.WriteEntry(e, d is null ? null : new MemoryStream(System.Text.Encoding.UTF8.GetBytes(d)));
            }
        }
        ms.Position = 0;
        return ms;
    }

    internal static (TarEntry, string?) F(string name, string data, uint mode = 0x1A4) => (new TarEntry(name, TarEntryType.RegularFile) { Mode = mode }, data);
    internal static (TarEntry, string?) D(string name, uint mode = 0x1ED) => (new TarEntry(name, TarEntryType.Directory) { Mode = mode }, null);
    internal static (TarEntry, string?) L(string name, string target) => (new TarEntry(name, TarEntryType.SymbolicLink) { LinkName = target, Mode = 0x1FF }, null);
    internal static (TarEntry, string?) H(string name, string target) => (new TarEntry(name, TarEntryType.HardLink) { LinkName = target }, null);

    [Fact]
    public void AppliesOwnershipModesTimesXattrsAndSpecialFiles()
    {
        using var tmp = new TempDir();
        string root = tmp.Sub("root");
        var mtime = DateTimeOffset.FromUnixTimeSeconds(1600000000);
        var ping = new TarEntry("usr/bin/ping", TarEntryType.RegularFile) { Mode = 0xDED, Uid = 0, Gid = 0, ModificationTime = mtime };
        ping.Xattrs["security.capability"] = Capability;
        ping.Xattrs["user.note"] = [0xFF, 0x00, 0x41];
        using var tar = Tar(
            (new TarEntry("usr", TarEntryType.Directory) { Mode = 0x1ED, ModificationTime = mtime }, null),
            (ping, "binary"),
            (new TarEntry("home/u/file", TarEntryType.RegularFile) { Mode = 0x180, Uid = 1234, Gid = 5678, ModificationTime = mtime }, "secret"),
            (new TarEntry("home/u/link", TarEntryType.SymbolicLink) { LinkName = "/nonexistent/abs", Uid = 1234, Gid = 5678, ModificationTime = mtime }, null),
            H("home/u/hard", "home/u/file"),
            (new TarEntry("dev/null", TarEntryType.CharacterDevice) { DevMajor = 1, DevMinor = 3, Mode = 0x1B6 }, null),
            (new TarEntry("dev/loop0", TarEntryType.BlockDevice) { DevMajor = 7, DevMinor = 0, Mode = 0x1B0 }, null),
            (new TarEntry("tmp/fifo", TarEntryType.Fifo) { Mode = 0x1A4 }, null),
            (new TarEntry("tmp", TarEntryType.Directory) { Mode = 0x3FF }, null));
        var result = LayerExtractor.Extract(tar, root);
        Assert.Equal(9, result.Entries);

        var st = Native.Lstat(Path.Combine(root, "usr/bin/ping"));
        Assert.Equal(0x8000u | 0xDED, st.Mode);
        Assert.Equal(Capability, Native.GetXattr(Path.Combine(root, "usr/bin/ping"), "security.capability"));
        Assert.Equal([0xFF, 0x00, 0x41], Native.GetXattr(Path.Combine(root, "usr/bin/ping"), "user.note"));
        Assert.Equal(1600000000, st.Mtime);
        Assert.Equal(1600000000, Native.Lstat(Path.Combine(root, "usr")).Mtime);

        var f = Native.Lstat(Path.Combine(root, "home/u/file"));
        Assert.Equal((1234u, 5678u), (f.Uid, f.Gid));
        Assert.Equal(2ul, f.Nlink);
        Assert.Equal(f.Ino, Native.Lstat(Path.Combine(root, "home/u/hard")).Ino);
        var l = Native.Lstat(Path.Combine(root, "home/u/link"));
        Assert.Equal(0xA000u, l.Mode & 0xF000);
        Assert.Equal((1234u, 5678u), (l.Uid, l.Gid));
        Assert.Equal(1600000000, l.Mtime);
        Assert.Equal("/nonexistent/abs", new FileInfo(Path.Combine(root, "home/u/link")).LinkTarget);

        var dn = Native.Lstat(Path.Combine(root, "dev/null"));
        Assert.Equal(0x2000u | 0x1B6, dn.Mode);
        Assert.Equal(Skiff.Linux.Libc.MakeDev(1, 3), dn.Rdev);
        Assert.Equal(0x6000u, Native.Lstat(Path.Combine(root, "dev/loop0")).Mode & 0xF000);
        Assert.Equal(0x1000u, Native.Lstat(Path.Combine(root, "tmp/fifo")).Mode & 0xF000);
        Assert.Equal(0x4000u | 0x3FF, Native.Lstat(Path.Combine(root, "tmp")).Mode);
    }

    [Fact]
    public void ReplacesExistingEntriesAndMergesDirectories()
    {
        using var tmp = new TempDir();
        string root = tmp.Sub("root");
        LayerExtractor.Extract(Tar(D("a"), F("a/old", "1"), F("b", "file"), D("c"), F("c/x", "x")), root);
        LayerExtractor.Extract(Tar(D("a"), F("a/new", "2"), L("b", "a"), F("c", "now a file")), root);
        Assert.True(File.Exists(Path.Combine(root, "a/old")));
        Assert.True(File.Exists(Path.Combine(root, "a/new")));
        Assert.Equal("a", new FileInfo(Path.Combine(root, "b")).LinkTarget);
        Assert.Equal("now a file", File.ReadAllText(Path.Combine(root, "c")));
    }

    [Fact]
    public void RelativeSymlinkInsideRootIsTraversedWithoutLeaving()
    {
        using var tmp = new TempDir();
        string root = tmp.Sub("root");
        LayerExtractor.Extract(Tar(D("usr/lib"), L("lib", "usr/lib"), F("lib/libc.so", "c"), L("usr/lib64", "../lib"), F("usr/lib64/x", "y")), root);
        Assert.Equal("c", File.ReadAllText(Path.Combine(root, "usr/lib/libc.so")));
        Assert.Equal("y", File.ReadAllText(Path.Combine(root, "usr/lib/x")));
    }

    public static TheoryData<string, (TarEntry, string?)[]> Escapes(string sentinel) => new()
    {
        { "symlink to / then a file under it", [L("evil", "/"), F($"evil{sentinel}/pwned", "x")] },
        { "symlink to the sentinel dir", [L("evil", sentinel), F("evil/pwned", "x")] },
        { "relative symlink climbing out", [D("a"), L("a/up", "../../../../../../../.."), F($"a/up{sentinel}/pwned", "x")] },
        { "dot-dot path", [F("../../../../../../../../.." + sentinel + "/pwned", "x")] },
        { "dot-dot in the middle", [D("a"), F("a/../../pwned", "x")] },
        { "hard link climbing out", [H("pwned", "../../../../../../../.." + sentinel + "/target")] },
        { "hard link through escaping symlink", [L("evil", sentinel), H("pwned", "evil/target")] },
        { "symlink chain", [L("a", "b"), L("b", "/"), F($"a{sentinel}/pwned", "x")] },
    };

    [Fact]
    public void MaliciousLayersAreRefusedAndWriteNothingOutside()
    {
        using var tmp = new TempDir();
        string sentinel = tmp.Sub("sentinel");
        string target = Path.Combine(sentinel, "target");
        File.WriteAllText(target, "original");
        foreach (var row in Escapes(sentinel))
        {
            string name = (string)row[0];
            var entries = ((TarEntry, string?)[])row[1];
            string root = tmp.Sub("root-" + Guid.NewGuid().ToString("N")[..6]);
            var ex = Assert.Throws<UnsafeArchiveEntryException>(() => LayerExtractor.Extract(Tar(entries), root));
            Assert.False(string.IsNullOrEmpty(ex.EntryName), name);
            Assert.Equal(["target"], Directory.GetFileSystemEntries(sentinel).Select(Path.GetFileName));
            Assert.Equal("original", File.ReadAllText(target));
            Assert.Equal(1ul, Native.Lstat(target).Nlink);
        }
    }

    [Fact]
    public void AbsolutePathsResolveInsideTheRoot()
    {
        using var tmp = new TempDir();
        string root = tmp.Sub("root");
        string outside = Path.Combine(tmp.Path, "etc-x-" + Guid.NewGuid().ToString("N"));
        LayerExtractor.Extract(Tar(F(outside, "inside"), F("/etc/skiff-test-x", "y")), root);
        Assert.False(File.Exists(outside));
        Assert.False(File.Exists("/etc/skiff-test-x"));
        Assert.Equal("inside", File.ReadAllText(Path.Combine(root, outside.TrimStart('/'))));
        Assert.Equal("y", File.ReadAllText(Path.Combine(root, "etc/skiff-test-x")));
    }

    [Fact]
    public void AbsolutePathsAreRefusedWhenAsked()
    {
        using var tmp = new TempDir();
        string root = tmp.Sub("root");
        string outside = Path.Combine(tmp.Path, "abs-" + Guid.NewGuid().ToString("N"));
        var strict = new ExtractOptions { RejectAbsoluteNames = true };
        var ex = Assert.Throws<UnsafeArchiveEntryException>(() => LayerExtractor.Extract(Tar(F(outside, "x")), root, strict));
        Assert.Equal(outside, ex.EntryName);
        Assert.Throws<UnsafeArchiveEntryException>(() => LayerExtractor.Extract(Tar(F("a", "x"), H("b", "/a")), tmp.Sub("root2"), strict));
        Assert.False(File.Exists(outside));
        Assert.Empty(Directory.GetFileSystemEntries(root));
    }

    [Fact]
    public void HardLinkToHostPasswdIsRefused()
    {
        using var tmp = new TempDir();
        string root = tmp.Sub("root");
        ulong before = Native.Lstat("/etc/passwd").Nlink;
        var ex = Assert.ThrowsAny<ArchiveEntryException>(() => LayerExtractor.Extract(Tar(H("passwd", "/etc/passwd")), root));
        Assert.Equal("passwd", ex.EntryName);
        Assert.Equal(before, Native.Lstat("/etc/passwd").Nlink);
        Assert.Empty(Directory.GetFileSystemEntries(root));
    }

    [Fact]
    public void ExistingSymlinkIsReplacedNotFollowed()
    {
        using var tmp = new TempDir();
        string sentinel = tmp.Sub("sentinel");
        string victim = Path.Combine(sentinel, "victim");
        File.WriteAllText(victim, "original");
        string root = tmp.Sub("root");
        LayerExtractor.Extract(Tar(L("file", victim), F("file", "overwritten?")), root);
        Assert.Equal("original", File.ReadAllText(victim));
        Assert.Equal("overwritten?", File.ReadAllText(Path.Combine(root, "file")));
    }

    [Fact]
    public void WhiteoutsBecomeOverlayMarkers()
    {
        using var tmp = new TempDir();
        string root = tmp.Sub("root");
        LayerExtractor.Extract(Tar(D("d"), F("d/.wh.gone", ""), F("o/.wh..wh..opq", ""), F(".wh.top", "")), root);
        var wh = Native.Lstat(Path.Combine(root, "d/gone"));
        Assert.Equal(0x2000u, wh.Mode & 0xF000);
        Assert.Equal(0ul, wh.Rdev);
        Assert.Equal(0x2000u, Native.Lstat(Path.Combine(root, "top")).Mode & 0xF000);
        Assert.Equal("y"u8.ToArray(), Native.GetXattr(Path.Combine(root, "o"), "trusted.overlay.opaque"));
        Assert.False(File.Exists(Path.Combine(root, "o/.wh..wh..opq")));
    }

    [Fact]
    public void WhiteoutModeNoneKeepsFiles()
    {
        using var tmp = new TempDir();
        string root = tmp.Sub("root");
        LayerExtractor.Extract(Tar(F(".wh.x", "")), root, new ExtractOptions { Whiteouts = WhiteoutMode.None });
        Assert.True(File.Exists(Path.Combine(root, ".wh.x")));
    }

    [Fact]
    public void RefusedHardLinkLeavesTheExistingEntryAlone()
    {
        using var tmp = new TempDir();
        string sentinel = tmp.Sub("sentinel");
        string root = tmp.Sub("root");
        Assert.Throws<UnsafeArchiveEntryException>(() =>
            LayerExtractor.Extract(Tar(F("keep", "mine"), L("out", sentinel), H("keep", "out/x")), root));
        Assert.Equal("mine", File.ReadAllText(Path.Combine(root, "keep")));
    }

    [Fact]
    public void OverlayXattrsFromTheArchiveAreIgnored()
    {
        using var tmp = new TempDir();
        string root = tmp.Sub("root");
        var dir = new TarEntry("d", TarEntryType.Directory) { Mode = 0x1ED };
        dir.Xattrs["trusted.overlay.redirect"] = "/etc"u8.ToArray();
        dir.Xattrs["trusted.overlay.opaque"] = "y"u8.ToArray();
        dir.Xattrs["trusted.other"] = "kept"u8.ToArray();
        var link = new TarEntry("l", TarEntryType.SymbolicLink) { LinkName = "d" };
        link.Xattrs["user.x"] = "1"u8.ToArray();
        LayerExtractor.Extract(Tar((dir, null), (link, null)), root);
        Assert.Null(Native.GetXattr(Path.Combine(root, "d"), "trusted.overlay.redirect"));
        Assert.Null(Native.GetXattr(Path.Combine(root, "d"), "trusted.overlay.opaque"));
        Assert.Equal("kept"u8.ToArray(), Native.GetXattr(Path.Combine(root, "d"), "trusted.other"));
    }
}
