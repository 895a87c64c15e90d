using System.Security.Cryptography;
using Skiff.Content;

namespace Skiff.Images.Tests;

public class ContentStoreTests
{
    [Fact]
    public void IngestStoresUnderDigestAndVerifiesExpected()
    {
        using var tmp = new TempDir();
        var store = new ContentStore(Path.Combine(tmp.Path, "content"));
        byte[] data = RandomNumberGenerator.GetBytes(1_000_000);
        var expected = Digest.Compute(data);
        var info = store.Ingest(new MemoryStream(data), expected);
        Assert.Equal(expected, info.Digest);
        Assert.Equal(data.Length, info.Size);
        Assert.True(File.Exists(Path.Combine(tmp.Path, "content/blobs/sha256", expected.Hex)));
        Assert.True(store.Exists(expected));
        Assert.Equal(data.Length, store.Size(expected));
        Assert.Equal(data, store.ReadAllBytes(expected));
        Assert.Empty(Directory.GetFiles(Path.Combine(tmp.Path, "content/ingest")));
        Assert.Equal([expected], store.List());

        var wrong = Digest.Compute("other"u8);
        var ex = Assert.Throws<DigestMismatchException>(() => store.Ingest(new MemoryStream("x"u8.ToArray()), wrong));
        Assert.Equal(wrong, ex.Expected);
        Assert.False(store.Exists(ex.Actual));
        Assert.Empty(Directory.GetFiles(Path.Combine(tmp.Path, "content/ingest")));

        Assert.True(store.Delete(expected));
        Assert.False(store.Exists(expected));
        Assert.Throws<ContentNotFoundException>(() => store.OpenRead(expected));
        Assert.Throws<ContentNotFoundException>(() => store.Size(expected));
    }

    [Fact]
    public void SameContentTwiceIsStoredOnce()
    {
        using var tmp = new TempDir();
        var store = new ContentStore(tmp.Path);
        var a = store.Ingest("same"u8);
        var b = store.Ingest("same"u8);
        Assert.Equal(a, b);
        Assert.Single(store.List());
    }

    [Fact]
    public void CrashMidIngestLeavesNoBlobAndVerifyCleansUp()
    {
        using var tmp = new TempDir();
        string root = Path.Combine(tmp.Path, "content");
        var crashed = new ContentStore(root);
        var writer = crashed.BeginIngest();
        writer.Write(RandomNumberGenerator.GetBytes(100_000));
        writer.Flush();
        string partial = writer.IngestPath;
        File.WriteAllBytes(Path.Combine(root, "ingest", "leftover"), [1, 2, 3]);

        var good = crashed.Ingest("good"u8);
        var bad = crashed.Ingest("will rot"u8);
        File.WriteAllText(crashed.BlobPath(bad.Digest), "bit flip");

        // A new process opens the store while the old writer's file is still there.
        var restarted = new ContentStore(root);
        Assert.Equal(2, restarted.List().Count());
        var active = restarted.BeginIngest();
        active.Write("in flight"u8);
        var report = restarted.Verify();

        Assert.Equal(2, report.Checked);
        Assert.Equal([bad.Digest], report.CorruptRemoved);
        Assert.Equal(2, report.StaleIngestsRemoved.Count);
        Assert.False(File.Exists(partial));
        Assert.True(File.Exists(active.IngestPath));
        Assert.True(restarted.Exists(good.Digest));
        Assert.False(restarted.Exists(bad.Digest));
        Assert.Equal(Digest.Compute("in flight"u8), active.Commit().Digest);
    }

    [Fact]
    public void DisposedWriterDiscardsPartialData()
    {
        using var tmp = new TempDir();
        var store = new ContentStore(tmp.Path);
        string path;
        using (var w = store.BeginIngest())
        {
            w.Write("abc"u8);
            path = w.IngestPath;
        }
        Assert.False(File.Exists(path));
        Assert.Empty(store.List());
    }

    [Theory]
    [InlineData("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true)]
    [InlineData("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", false)]
    [InlineData("sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", false)]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", false)]
    [InlineData("sha256:0123", false)]
    public void DigestParsing(string s, bool ok) => Assert.Equal(ok, Digest.TryParse(s, out _));
}
