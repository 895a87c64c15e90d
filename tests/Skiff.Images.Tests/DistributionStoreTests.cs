using System.IO.Compression;
using System.Text;
using Skiff.Content;

namespace Skiff.Images.Tests;

/// <summary>The image store's side of pull and push: layers added one by one, repo digests, layer sources, the check.</summary>
public sealed class DistributionStoreTests
{
    private static byte[] GzipTar(TempDir tmp, string name, string content)
    {
        string dir = tmp.Sub("src-" + name);
        File.WriteAllText(Path.Combine(dir, name), content);
        string tar = Path.Combine(tmp.Path, name + ".tar");
        Sh.Run("tar", "--numeric-owner", "-cf", tar, "-C", dir, name);
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(File.ReadAllBytes(tar));
        return ms.ToArray();
    }

    private static string DiffId(byte[] gz)
    {
        using var plain = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress);
        return Digest.Compute(plain).ToString();
    }

    private static byte[] Config(params string[] diffIds) => Encoding.UTF8.GetBytes(
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[" + string.Join(",", diffIds.Select(d => "\"" + d + "\"")) + "]}}");

    [Fact]
    public async Task PulledLayersRegisterWithTagAndRepoDigestAndPassTheCheck()
    {
        using var tmp = new TempDir();
        string data = Path.Combine(tmp.Path, "data");
        var store = new ImageStore(data);
        var l1 = GzipTar(tmp, "one", "1");
        var l2 = GzipTar(tmp, "two", "2");
        string d1 = DiffId(l1), d2 = DiffId(l2);
        var chains = ImageStore.ChainIds([d1, d2]);
        using (store.BeginTransfer())
        {
            // The top layer finishes first; its commit waits for the parent (as concurrent downloads do).
            var parent = new TaskCompletionSource();
            var top = Task.Run(() => store.AddLayer(new MemoryStream(l2), chains[0], d2, Digest.Compute(l2), () =>
            {
                store.Content.Ingest(l2);
                parent.Task.GetAwaiter().GetResult();
            }));
            store.AddLayer(new MemoryStream(l1), null, d1, Digest.Compute(l1), () => store.Content.Ingest(l1));
            parent.SetResult();
            await top;
            Assert.True(store.HasLayer(chains[1], d2));
            store.AddLayerSource(d1, new LayerSource { Digest = Digest.Compute(l1).ToString(), MediaType = "application/vnd.oci.image.layer.v1.tar+gzip", Size = l1.Length, Registry = "127.0.0.1:5000", Repository = "x/y" });
        }
        string manifestDigest = "sha256:" + new string('e', 64);
        var (image, upToDate) = store.RegisterPulled(Config(d1, d2), ImageReference.Parse("127.0.0.1:5000/x/y:1"), ImageReference.Parse("127.0.0.1:5000/x/y@" + manifestDigest));
        Assert.False(upToDate);
        Assert.Equal(["127.0.0.1:5000/x/y:1"], image.RepoTags);
        Assert.Equal(["127.0.0.1:5000/x/y@" + manifestDigest], image.RepoDigests);
        Assert.Equal(image.Id, store.Find("127.0.0.1:5000/x/y@" + manifestDigest).Id);
        Assert.True(store.RegisterPulled(Config(d1, d2), ImageReference.Parse("127.0.0.1:5000/x/y:1"), null).UpToDate);
        Assert.Equal("x/y", Assert.Single(store.LayerSources(d1)).Repository);
        Assert.Empty(ImageStore.Check(data));
        // The cached compressed blob survives garbage collection (reopening collects) while its layer is kept.
        store = new ImageStore(data);
        Assert.True(store.Content.Exists(Digest.Compute(l1)));

        // Untagging the last tag deletes the image with its digest reference, its layers and their sources.
        var removed = store.Remove("127.0.0.1:5000/x/y:1", force: false, _ => null);
        Assert.Contains(removed, e => e.Deleted == image.Id);
        Assert.Empty(store.LayerSources(d1));
        Assert.False(store.HasLayer(chains[0], d1));
        Assert.False(store.Content.Exists(Digest.Compute(l1)));
        Assert.Empty(ImageStore.Check(data));
    }

    [Fact]
    public void LayerWithWrongCompressedDigestOrAbsolutePathIsNotCommitted()
    {
        using var tmp = new TempDir();
        var store = new ImageStore(Path.Combine(tmp.Path, "data"));
        var l1 = GzipTar(tmp, "one", "1");
        string d1 = DiffId(l1);
        using (store.BeginTransfer())
            Assert.Throws<InvalidOperationException>(() => store.AddLayer(new MemoryStream(l1), null, d1, Digest.Compute(l1), () => throw new InvalidOperationException("digest mismatch")));
        Assert.False(store.HasLayer(d1, d1));
        Assert.Empty(store.Snapshots.List());
        Assert.Empty(Directory.EnumerateDirectories(store.Snapshots.LayersDirectory, ".tmp-*"));
    }

    [Fact]
    public void PulledLayersKeepOnlyTheCompressedBlobAndSaveReproducesTheDiffIds()
    {
        using var tmp = new TempDir();
        string data = Path.Combine(tmp.Path, "data");
        var store = new ImageStore(data);
        var l1 = GzipTar(tmp, "one", "1");
        var l2 = GzipTar(tmp, "two", "2");
        string d1 = DiffId(l1), d2 = DiffId(l2);
        var chains = ImageStore.ChainIds([d1, d2]);
        using (store.BeginTransfer())
        {
            store.AddLayer(new MemoryStream(l1), null, d1, Digest.Compute(l1), () => store.Content.Ingest(l1));
            store.AddLayer(new MemoryStream(l2), chains[0], d2, Digest.Compute(l2), () => store.Content.Ingest(l2));
        }
        var (image, _) = store.RegisterPulled(Config(d1, d2), ImageReference.Parse("127.0.0.1:5000/x/y:1"), null);
        // No uncompressed tar is stored: the compressed blobs are the layers' tars.
        Assert.False(store.Content.Exists(Digest.Parse(d1)));
        Assert.False(store.Content.Exists(Digest.Parse(d2)));
        Assert.Empty(ImageStore.Check(data));
        store = new ImageStore(data);
        Assert.True(store.Content.Exists(Digest.Compute(l2)));
        var plain = new MemoryStream();
        using (var gz = new GZipStream(new MemoryStream(l2), CompressionMode.Decompress)) gz.CopyTo(plain);
        Assert.Equal(plain.Length, store.LayerTarSize(chains[1]));

        string tarPath = Path.Combine(tmp.Path, "saved.tar");
        using (var fs = File.Create(tarPath)) store.Save(["127.0.0.1:5000/x/y:1"], fs);
        string unpacked = tmp.Sub("saved");
        Sh.Run("tar", "-xf", tarPath, "-C", unpacked);
        foreach (var d in new[] { d1, d2 })
        {
            using var layer = File.OpenRead(Path.Combine(unpacked, "blobs", "sha256", Digest.Parse(d).Hex));
            Assert.Equal(d, Digest.Compute(layer).ToString());
        }

        // Loading the archive into another store gives the same image, its layers then stored uncompressed.
        var other = new ImageStore(Path.Combine(tmp.Path, "other"));
        using (var fs = File.OpenRead(tarPath)) Assert.Equal(["Loaded image: 127.0.0.1:5000/x/y:1"], other.Load(fs));
        Assert.Equal(image.Id, other.Find("127.0.0.1:5000/x/y:1").Id);
        Assert.True(other.Content.Exists(Digest.Parse(d2)));

        // A damaged compressed blob is not saved as if it were the layer.
        string blob = store.Content.BlobPath(Digest.Compute(l2));
        File.SetUnixFileMode(blob, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllBytes(blob, GzipTar(tmp, "two", "3"));
        Assert.ThrowsAny<InvalidDataException>(() => store.Save(["127.0.0.1:5000/x/y:1"], Stream.Null));
        Assert.Contains(ImageStore.Check(data), p => p.Contains("has content"));
    }

    [Fact]
    public void CheckReportsCorruptBlobsAndDanglingReferences()
    {
        using var tmp = new TempDir();
        string data = Path.Combine(tmp.Path, "data");
        var store = new ImageStore(data);
        var image = store.Import(new MemoryStream(GzipTar(tmp, "f", "x")), new ImportOptions { Reference = "chk:1" });
        Assert.Empty(ImageStore.Check(data));
        string blob = store.Content.BlobPath(Digest.Parse(image.DiffIds[0]));
        File.SetUnixFileMode(blob, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.AppendAllText(blob, "corrupt");
        File.Delete(Path.Combine(data, "images", image.Id[7..] + ".json"));
        var problems = ImageStore.Check(data);
        Assert.Contains(problems, p => p.Contains("has content"));
        Assert.Contains(problems, p => p.Contains("points at missing image"));
    }
}
