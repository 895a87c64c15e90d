using System.IO.Compression;
using System.Text;

namespace Skiff.Archive.Tests;

public class TarFormatTests
{
    private static readonly byte[] Capability = [0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0xFF, 0x0A, 0x3D, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];

    private static List<(TarEntry Entry, byte[]? Data)> Sample()
    {
        string longName = string.Join('/', Enumerable.Range(0, 30).Select(i => $"dir{i:D3}")) + "/file.txt";
        return
        [
            (new TarEntry("etc", TarEntryType.Directory) { Mode = 0x1ED, ModificationTime = DateTimeOffset.FromUnixTimeSeconds(1700000000) }, null),
            (new TarEntry("etc/hello", TarEntryType.RegularFile) { Mode = 0x1A4, Uid = 1000, Gid = 1000, UserName = "u", GroupName = "g", Size = 5, ModificationTime = DateTimeOffset.FromUnixTimeSeconds(1700000001).AddTicks(1234567) }, "hello"u8.ToArray()),
            (new TarEntry("bin/ping", TarEntryType.RegularFile) { Mode = 0x9ED, Size = 3, Xattrs = { ["security.capability"] = Capability, ["user.bin"] = [0, 1, 2, 0xFE, 0xFF, (byte)'\n', (byte)'='] } }, "elf"u8.ToArray()),
            (new TarEntry(longName, TarEntryType.RegularFile) { Mode = 0x1A4, Size = 0 }, []),
            (new TarEntry("ünïcødé/файл", TarEntryType.RegularFile) { Mode = 0x1A4, Size = 1 }, "x"u8.ToArray()),
            (new TarEntry("etc/hello-link", TarEntryType.HardLink) { LinkName = "etc/hello", Mode = 0x1A4 }, null),
            (new TarEntry("lib", TarEntryType.SymbolicLink) { LinkName = "usr/lib/" + new string('l', 150), Mode = 0x1FF }, null),
            (new TarEntry("dev/null", TarEntryType.CharacterDevice) { DevMajor = 1, DevMinor = 3, Mode = 0x1B6 }, null),
            (new TarEntry("dev/sda", TarEntryType.BlockDevice) { DevMajor = 8, DevMinor = 0, Mode = 0x1B0 }, null),
            (new TarEntry("run/fifo", TarEntryType.Fifo) { Mode = 0x1A4 }, null),
            (new TarEntry("big-ids", TarEntryType.RegularFile) { Uid = 100000000, Gid = 3000000, Size = 0 }, []),
        ];
    }

    internal static byte[] WriteSample(TarFormat format = TarFormat.Pax)
    {
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, leaveOpen: true, format))
        {
            foreach (var (e, d) in Sample()) w.WriteEntry(e, d is null ? null : new MemoryStream(d));
        }
        return ms.ToArray();
    }

    [Theory]
    [InlineData(TarFormat.Pax)]
    [InlineData(TarFormat.Gnu)]
    public void RoundTripPreservesEveryField(TarFormat format)
    {
        byte[] tar = WriteSample(format);
        Assert.Equal(0, tar.Length % 512);
        using var r = new TarReader(new TrickleStream(new MemoryStream(tar)));
        foreach (var (expected, data) in Sample())
        {
            var e = r.GetNextEntry();
            Assert.NotNull(e);
            Assert.Equal(expected.Name, e.Name);
            Assert.Equal(expected.Type, e.Type);
            Assert.Equal(expected.Mode, e.Mode);
            Assert.Equal(expected.Uid, e.Uid);
            Assert.Equal(expected.Gid, e.Gid);
            Assert.Equal(expected.UserName, e.UserName);
            Assert.Equal(expected.LinkName, e.LinkName);
            Assert.Equal(expected.ModificationTime, e.ModificationTime);
            Assert.Equal(expected.DevMajor, e.DevMajor);
            Assert.Equal(expected.DevMinor, e.DevMinor);
            Assert.Equal(expected.Xattrs.Count, e.Xattrs.Count);
            foreach (var (k, v) in expected.Xattrs) Assert.Equal(v, e.Xattrs[k]);
            if (data is not null && e.Type == TarEntryType.RegularFile)
            {
                var got = new MemoryStream();
                e.DataStream!.CopyTo(got);
                Assert.Equal(data, got.ToArray());
            }
        }
        Assert.Null(r.GetNextEntry());
    }

    [Fact]
    public void GnuFormatUsesLongLinkRecords()
    {
        byte[] tar = WriteSample(TarFormat.Gnu);
        Assert.True(tar.AsSpan().IndexOf("././@LongLink"u8) >= 0);
        Assert.True(tar.AsSpan().IndexOf("ustar  \0"u8) >= 0);
        Assert.True(tar.AsSpan().IndexOf("path="u8) < 0);
    }

    [Fact]
    public void BinaryXattrIsStoredByteExactInPaxRecord()
    {
        byte[] tar = WriteSample();
        byte[] key = Encoding.ASCII.GetBytes("SCHILY.xattr.security.capability=");
        int at = tar.AsSpan().IndexOf(key);
        Assert.True(at > 0);
        Assert.Equal(Capability, tar.AsSpan(at + key.Length, Capability.Length).ToArray());
        Assert.Equal((byte)'\n', tar[at + key.Length + Capability.Length]);
    }

    [Fact]
    public void SkipsUnreadDataWhenAdvancing()
    {
        using var r = new TarReader(new TrickleStream(new MemoryStream(WriteSample())));
        int n = 0;
        while (r.GetNextEntry() is not null) n++;
        Assert.Equal(Sample().Count, n);
    }

    [Theory]
    [InlineData(TarFormat.Pax)]
    [InlineData(TarFormat.Gnu)]
    public void GnuTarListsOurArchive(TarFormat format)
    {
        using var tmp = new TempDir();
        string file = Path.Combine(tmp.Path, "a.tar");
        File.WriteAllBytes(file, WriteSample(format));
        string listing = Sh.Run("tar", "-tvf", file);
        Assert.Contains("etc/hello-link link to etc/hello", listing);
        Assert.Contains("dir029/file.txt", listing);
        Assert.Contains("-rwsr-xr-x", listing);
        Assert.Contains("ünïcødé/файл", listing);
        string dest = tmp.Sub("x");
        Sh.Run("tar", "--xattrs", "--xattrs-include=*", "-xpf", file, "-C", dest);
        Assert.Equal(Capability, Native.GetXattr(Path.Combine(dest, "bin/ping"), "security.capability"));
        Assert.Equal("hello", File.ReadAllText(Path.Combine(dest, "etc/hello-link")));
    }

    [Fact]
    public void ReadsGnuLongNamesLinksAndHardLinks()
    {
        using var tmp = new TempDir();
        string src = tmp.Sub("src");
        string deep = Path.Combine(src, new string('d', 120), new string('e', 120));
        Directory.CreateDirectory(deep);
        File.WriteAllText(Path.Combine(deep, "f"), "data");
        Sh.Run("ln", Path.Combine(deep, "f"), Path.Combine(src, "hard"));
        File.CreateSymbolicLink(Path.Combine(src, "sym"), "/" + new string('t', 200));
        string tarFile = Path.Combine(tmp.Path, "gnu.tar");
        Sh.Run("tar", "--format=gnu", "-cf", tarFile, "-C", src, ".");
        using var r = new TarReader(new TrickleStream(File.OpenRead(tarFile)));
        var entries = new Dictionary<string, TarEntry>();
        while (r.GetNextEntry() is { } e)
        {
            entries[e.Name] = e;
            if (e.Type == TarEntryType.RegularFile) Assert.Equal("data", new StreamReader(e.DataStream!).ReadToEnd());
        }
        string longName = "./" + new string('d', 120) + "/" + new string('e', 120) + "/f";
        Assert.Contains(longName, entries.Keys);
        Assert.Equal("/" + new string('t', 200), entries["./sym"].LinkName);
        var hard = entries.Values.Single(e => e.Type == TarEntryType.HardLink);
        Assert.True(hard.LinkName == longName || hard.Name == longName);
    }

    [Fact]
    public void ReadsPosixTarXattrsFromGnuTar()
    {
        using var tmp = new TempDir();
        string src = tmp.Sub("src");
        string f = Path.Combine(src, "f");
        File.WriteAllText(f, "x");
        byte[] value = [0, 0xFF, 0x80, 0x0A, 0x20];
        Native.SetXattr(f, "user.bin", value);
        string tarFile = Path.Combine(tmp.Path, "pax.tar");
        Sh.Run("tar", "--format=posix", "--xattrs", "--xattrs-include=user.*", "-cf", tarFile, "-C", src, "f");
        using var r = new TarReader(File.OpenRead(tarFile));
        var e = r.GetNextEntry()!;
        Assert.Equal("f", e.Name);
        Assert.Equal(value, e.Xattrs["user.bin"]);
    }

    [Fact]
    public void CorruptHeaderIsReported()
    {
        byte[] tar = WriteSample();
        tar[10] ^= 0x55;
        using var r = new TarReader(new MemoryStream(tar));
        Assert.Throws<InvalidArchiveException>(() => r.GetNextEntry());
    }

    [Fact]
    public void TruncatedArchiveIsReported()
    {
        byte[] tar = WriteSample();
        using var r = new TarReader(new MemoryStream(tar[..1100]));
        Assert.Throws<InvalidArchiveException>(() => { while (r.GetNextEntry() is { } e) e.DataStream?.CopyTo(Stream.Null); });
    }

    [Theory]
    [InlineData("gzip", CompressionKind.Gzip)]
    [InlineData("zstd", CompressionKind.Zstd)]
    [InlineData("none", CompressionKind.None)]
    public void DetectsCompressionByMagic(string tool, CompressionKind kind)
    {
        using var tmp = new TempDir();
        string file = Path.Combine(tmp.Path, "a.tar");
        File.WriteAllBytes(file, WriteSample());
        string input = file;
        if (tool == "gzip") { Sh.Run("gzip", "-k", file); input = file + ".gz"; }
        if (tool == "zstd") { Sh.Run("zstd", "-q", file, "-o", file + ".zst"); input = file + ".zst"; }
        using var s = Compression.OpenDecompressed(new TrickleStream(File.OpenRead(input)), out var detected);
        Assert.Equal(kind, detected);
        using var r = new TarReader(s);
        int n = 0;
        while (r.GetNextEntry() is not null) n++;
        Assert.Equal(Sample().Count, n);
    }

    [Fact]
    public void GzipOfOurWriterRoundTrips()
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
            gz.Write(WriteSample());
        ms.Position = 0;
        using var s = Compression.OpenDecompressed(ms, out var kind);
        Assert.Equal(CompressionKind.Gzip, kind);
        using var r = new TarReader(s);
        Assert.Equal("etc", r.GetNextEntry()!.Name);
    }
}
