using System.Formats.Tar;


namespace Skiff.Build.Tests;

/// <summary>The context index: links resolve inside the context only, ".." never leaves it, .dockerignore filters.</summary>
public sealed class BuildContextTests
{
    private static BuildContext Load(TempDir tmp, Action<System.Formats.Tar.TarWriter> write)
    {
        var ms = new MemoryStream();
        using (var w = new System.Formats.Tar.TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true)) write(w);
        ms.Position = 0;
        return BuildContext.Load(ms, tmp.Path);
    }

    private static void File(System.Formats.Tar.TarWriter w, string name, string content)
    {
        var e = new PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, name) { DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(content)) };
        w.WriteEntry(e);
    }

    private static void Link(System.Formats.Tar.TarWriter w, string name, string target) =>
        w.WriteEntry(new PaxTarEntry(System.Formats.Tar.TarEntryType.SymbolicLink, name) { LinkName = target });

    [Fact]
    public void SymlinksResolveInsideTheContext()
    {
        using var tmp = new TempDir();
        using var ctx = Load(tmp, w =>
        {
            File(w, "etc/passwd", "context passwd");
            File(w, "real/file", "data");
            Link(w, "abs", "/etc");
            Link(w, "up", "../../../../etc");
            Link(w, "dirlink", "real");
        });
        Assert.Equal("etc", SourceTrees.Resolve(ctx, "abs", followFinal: true));
        Assert.Equal("etc/passwd", SourceTrees.Resolve(ctx, "up/passwd", followFinal: true));
        Assert.Equal("context passwd", ctx.ReadText("abs/passwd"));
        Assert.Equal("real/file", SourceTrees.Resolve(ctx, "dirlink/file", followFinal: false));
        Assert.Equal("etc/passwd", SourceTrees.Resolve(ctx, "../../etc/passwd", followFinal: false));
        Assert.Equal(Skiff.Archive.TarEntryType.SymbolicLink, ctx.Lookup("abs")!.Type);
    }

    [Fact]
    public void IgnoredFilesDisappear()
    {
        using var tmp = new TempDir();
        using var ctx = Load(tmp, w =>
        {
            File(w, "keep.txt", "k");
            File(w, "drop.log", "d");
            File(w, "logs/a.log", "a");
            File(w, "logs/important.log", "i");
        });
        ctx.Apply(DockerIgnore.Parse("*.log\nlogs\n!logs/important.log\n"));
        Assert.NotNull(ctx.Lookup("keep.txt"));
        Assert.Null(ctx.Lookup("drop.log"));
        Assert.Null(ctx.Lookup("logs/a.log"));
        Assert.NotNull(ctx.Lookup("logs/important.log"));
        Assert.Equal(["important.log"], ctx.Children("logs").Select(c => c.Name));
    }

    [Fact]
    public void FilesAreHashedByContent()
    {
        using var tmp = new TempDir();
        using var ctx = Load(tmp, w => { File(w, "a", "same"); File(w, "b", "same"); File(w, "c", "other"); });
        Assert.Equal(ctx.Lookup("a")!.Sha256, ctx.Lookup("b")!.Sha256);
        Assert.NotEqual(ctx.Lookup("a")!.Sha256, ctx.Lookup("c")!.Sha256);
        using var s = new StreamReader(ctx.Open(ctx.Lookup("c")!));
        Assert.Equal("other", s.ReadToEnd());
    }
}
