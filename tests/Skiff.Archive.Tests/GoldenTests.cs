using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;

namespace Skiff.Archive.Tests;

/// <summary>
/// Golden files: archives made once by GNU tar 1.34 (read side) and by our writer (write side), with the expected
/// listing next to them. Set SKIFF_UPDATE_GOLDEN=1 to rewrite the expectations after an intended change.
/// </summary>
public class GoldenTests
{
    private static string GoldenDir([CallerFilePath] string source = "") => Path.Combine(Path.GetDirectoryName(source)!, "golden");

    private static void Check(string name, string actual)
    {
        string path = Path.Combine(GoldenDir(), name);
        if (Environment.GetEnvironmentVariable("SKIFF_UPDATE_GOLDEN") == "1") File.WriteAllText(path, actual);
        Assert.Equal(File.ReadAllText(path), actual);
    }

    private static void Check(string name, byte[] actual)
    {
        string path = Path.Combine(GoldenDir(), name);
        if (Environment.GetEnvironmentVariable("SKIFF_UPDATE_GOLDEN") == "1") File.WriteAllBytes(path, actual);
        Assert.Equal(File.ReadAllBytes(path), actual);
    }

    internal static string Listing(Stream tar)
    {
        var sb = new StringBuilder();
        using var r = new TarReader(tar);
        while (r.GetNextEntry() is { } e)
        {
            string data = "";
            if (e.DataStream is { } d)
            {
                var ms = new MemoryStream();
                d.CopyTo(ms);
                data = Convert.ToHexStringLower(SHA256.HashData(ms.ToArray()))[..16];
            }
            string xattrs = string.Join(",", e.Xattrs.OrderBy(x => x.Key, StringComparer.Ordinal).Select(x => x.Key + "=" + Convert.ToHexStringLower(x.Value)));
            sb.Append(CultureInfo.InvariantCulture, $"{e.Type} {e.Name} -> {e.LinkName} mode={Convert.ToString(e.Mode, 8)} {e.Uid}:{e.Gid} {e.UserName}:{e.GroupName} size={e.Size} mtime={e.ModificationTime.ToUnixTimeMilliseconds()} dev={e.DevMajor},{e.DevMinor} xattrs=[{xattrs}] data={data}\n");
        }
        return sb.ToString();
    }

    [Theory]
    [InlineData("gnu.tar")]
    [InlineData("posix.tar")]
    public void ReadsGnuTarGoldenArchives(string file)
    {
        using var f = new TrickleStream(File.OpenRead(Path.Combine(GoldenDir(), file)));
        Check(file + ".txt", Listing(f));
    }

    [Theory]
    [InlineData(TarFormat.Pax, "writer-pax.tar")]
    [InlineData(TarFormat.Gnu, "writer-gnu.tar")]
    public void WriterOutputIsStable(TarFormat format, string file)
    {
        byte[] tar = TarFormatTests.WriteSample(format);
        Check(file, tar);
        Check(file + ".txt", Listing(new MemoryStream(tar)));
    }
}
