using Skiff.Linux;

namespace Skiff.Volumes.Tests;

public sealed class CopyUpTests
{
    private static void Whiteout(string path) =>
        LinuxException.ThrowIfError(Libc.mknod(path, 0x2000, 0), "mknod", path);

    private static unsafe void Opaque(string dir)
    {
        byte y = (byte)'y';
        LinuxException.ThrowIfError(Libc.lsetxattr(dir, "trusted.overlay.opaque", &y, 1, 0), "setxattr", dir);
    }

    [Fact]
    public void CopiesTheMergedDirectoryWithOwnerModeAndWhiteouts()
    {
        using var t = new TempDir();
        string lower = t.Sub("lower"), upper = t.Sub("upper"), dest = t.Sub("dest");
        Directory.CreateDirectory(Path.Combine(lower, "data", "sub"));
        File.WriteAllText(Path.Combine(lower, "data", "a"), "a");
        File.WriteAllText(Path.Combine(lower, "data", "b"), "b");
        File.WriteAllText(Path.Combine(lower, "data", "sub", "c"), "c");
        Directory.CreateDirectory(Path.Combine(upper, "data"));
        Whiteout(Path.Combine(upper, "data", "b"));
        File.WriteAllText(Path.Combine(upper, "data", "new"), "n");
        File.CreateSymbolicLink(Path.Combine(upper, "data", "abs"), "/etc/shadow");
        Libc.chown(Path.Combine(upper, "data"), 1000, 1001);
        Libc.chmod(Path.Combine(upper, "data"), 0x1E8); // 0750

        Assert.True(CopyUp.Copy([upper, lower], "/data/", dest));
        Assert.Equal(["a", "abs", "new", "sub"], Directory.EnumerateFileSystemEntries(dest).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal("c", File.ReadAllText(Path.Combine(dest, "sub", "c")));
        Assert.Equal("/etc/shadow", new FileInfo(Path.Combine(dest, "abs")).LinkTarget);
        var st = Sh.Run("/usr/bin/stat", "-c", "%u %g %a", dest).Trim();
        Assert.Equal("1000 1001 750", st);
    }

    [Fact]
    public void AnOpaqueDirectoryHidesTheLayersBelow()
    {
        using var t = new TempDir();
        string lower = t.Sub("lower"), upper = t.Sub("upper"), dest = t.Sub("dest");
        Directory.CreateDirectory(Path.Combine(lower, "data"));
        File.WriteAllText(Path.Combine(lower, "data", "old"), "o");
        Directory.CreateDirectory(Path.Combine(upper, "data"));
        Opaque(Path.Combine(upper, "data"));
        File.WriteAllText(Path.Combine(upper, "data", "only"), "x");
        Assert.Equal([Path.Combine(upper, "data")], CopyUp.ResolveDirectory([upper, lower], "/data"));
        Assert.True(CopyUp.Copy([upper, lower], "/data", dest));
        Assert.Equal(["only"], Directory.EnumerateFileSystemEntries(dest).Select(p => Path.GetFileName(p)!).ToArray());
    }

    [Fact]
    public void SymlinksOnTheWayResolveInsideTheRoot()
    {
        using var t = new TempDir();
        string lower = t.Sub("lower"), upper = t.Sub("upper");
        Directory.CreateDirectory(Path.Combine(lower, "real", "dir"));
        File.CreateSymbolicLink(Path.Combine(upper, "abs"), "/real");
        File.CreateSymbolicLink(Path.Combine(upper, "rel"), "real/../real/dir");
        File.CreateSymbolicLink(Path.Combine(upper, "escape"), "../../../../../../etc");
        File.CreateSymbolicLink(Path.Combine(upper, "loop"), "loop");
        Assert.Equal([Path.Combine(lower, "real", "dir")], CopyUp.ResolveDirectory([upper, lower], "/abs/dir"));
        Assert.Equal([Path.Combine(lower, "real", "dir")], CopyUp.ResolveDirectory([upper, lower], "/rel"));
        // "../.." stops at the root: the host's /etc is never reached, and the image has no /etc.
        Assert.Null(CopyUp.ResolveDirectory([upper, lower], "/escape"));
        Assert.Null(CopyUp.ResolveDirectory([upper, lower], "/loop"));
        Assert.Null(CopyUp.ResolveDirectory([upper, lower], "/missing"));
    }

    [Fact]
    public void AWhiteoutOrAFileHidesTheDirectory()
    {
        using var t = new TempDir();
        string lower = t.Sub("lower"), upper = t.Sub("upper"), dest = t.Sub("dest");
        Directory.CreateDirectory(Path.Combine(lower, "gone"));
        File.WriteAllText(Path.Combine(lower, "gone", "f"), "f");
        Whiteout(Path.Combine(upper, "gone"));
        Directory.CreateDirectory(Path.Combine(lower, "file"));
        File.WriteAllText(Path.Combine(upper, "file"), "not a dir");
        Assert.False(CopyUp.Copy([upper, lower], "/gone", dest));
        Assert.False(CopyUp.Copy([upper, lower], "/file", dest));
        Assert.Empty(Directory.EnumerateFileSystemEntries(dest));
    }
}
