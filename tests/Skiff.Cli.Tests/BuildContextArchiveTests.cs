using System.Formats.Tar;
using System.Net.Sockets;
using Skiff.Client;

namespace Skiff.Cli.Tests;

/// <summary>
/// The build context tar <c>skiff build</c> sends: read back with System.Formats.Tar, written to a stream and sent on a
/// socket (batches + sendfile) it is the same bytes, of exactly the planned length.
/// </summary>
public sealed class BuildContextArchiveTests
{
    private static string MakeContext(string root)
    {
        string dir = Path.Combine(root, "ctx");
        Directory.CreateDirectory(Path.Combine(dir, "sub", new string('d', 120)));
        File.WriteAllText(Path.Combine(dir, "Dockerfile"), "FROM scratch\n");
        File.WriteAllText(Path.Combine(dir, ".dockerignore"), "ignored*\n");
        File.WriteAllText(Path.Combine(dir, "ignored.txt"), "no");
        File.WriteAllBytes(Path.Combine(dir, "empty"), []);
        var big = new byte[300_000];
        new Random(7).NextBytes(big);
        File.WriteAllBytes(Path.Combine(dir, "big.bin"), big);
        File.WriteAllText(Path.Combine(dir, "sub", new string('d', 120), new string('f', 90) + "-ünï.txt"), "long name");
        File.CreateSymbolicLink(Path.Combine(dir, "link"), "sub/" + new string('x', 150));
        return dir;
    }

    [Fact]
    public async Task StreamAndSocketFormsAreTheSameTarOfThePlannedLength()
    {
        string root = Directory.CreateTempSubdirectory("skiff-ctx-").FullName;
        try
        {
            string dir = MakeContext(root);
            var plan = BuildContextArchive.Plan(dir, "Dockerfile", null);
            var written = new MemoryStream();
            plan.WriteTo(written);
            Assert.Equal(plan.Length, written.Length);

            using var pair0 = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            string sock = Path.Combine(root, "s.sock");
            pair0.Bind(new UnixDomainSocketEndPoint(sock));
            pair0.Listen(1);
            using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            client.Connect(new UnixDomainSocketEndPoint(sock));
            using var server = pair0.Accept();
            var received = new MemoryStream();
            var reader = Task.Run(() =>
            {
                var buf = new byte[65536];
                int n;
                while ((n = server.Receive(buf)) > 0) received.Write(buf, 0, n);
            });
            plan.SendTo(client);
            client.Shutdown(SocketShutdown.Send);
            await reader.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(written.ToArray(), received.ToArray());

            written.Position = 0;
            using var tar = new TarReader(written);
            var entries = new Dictionary<string, TarEntry>();
            while (tar.GetNextEntry(copyData: true) is { } e) entries[e.Name] = e;
            Assert.DoesNotContain("ignored.txt", entries.Keys);
            Assert.Equal(TarEntryType.Directory, entries["sub/"].EntryType);
            Assert.Equal(0, entries["empty"].Length);
            Assert.Equal(0, entries["big.bin"].Uid);
            var bigData = new MemoryStream();
            entries["big.bin"].DataStream!.CopyTo(bigData);
            Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "big.bin")), bigData.ToArray());
            string longName = "sub/" + new string('d', 120) + "/" + new string('f', 90) + "-ünï.txt";
            Assert.Contains(longName, entries.Keys);
            Assert.Equal(TarEntryType.SymbolicLink, entries["link"].EntryType);
            Assert.Equal("sub/" + new string('x', 150), entries["link"].LinkName);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
