using System.Text;
using Skiff.Content;
using Skiff.Distribution;

namespace Skiff.Distribution.Tests;

public sealed class ManifestTests
{
    private const string D1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    private const string D2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    private const string D3 = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

    private static readonly string Index = $$$"""
        {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[
          {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"{{{D1}}}","size":527,"platform":{"architecture":"arm","os":"linux","variant":"v7"}},
          {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"{{{D2}}}","size":527,"platform":{"architecture":"amd64","os":"linux"}},
          {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"{{{D3}}}","size":527,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}
        ]}
        """;

    [Fact]
    public void ParsesDockerManifestListAndSelectsLinuxAmd64()
    {
        var doc = ManifestParser.Parse(Encoding.UTF8.GetBytes(Index), "application/vnd.docker.distribution.manifest.list.v2+json");
        Assert.NotNull(doc.Index);
        Assert.Null(doc.Manifest);
        Assert.Equal(Digest.Compute(Encoding.UTF8.GetBytes(Index)), doc.Digest);
        Assert.Equal(D2, ManifestParser.SelectPlatform(doc.Index!, "linux", "amd64", null).Digest);
        Assert.Equal(D3, ManifestParser.SelectPlatform(doc.Index!, "linux", "arm64", null).Digest);
        Assert.Equal(D1, ManifestParser.SelectPlatform(doc.Index!, "linux", "arm", "v7").Digest);
    }

    [Fact]
    public void MissingPlatformListsWhatThereIs()
    {
        var doc = ManifestParser.Parse(Encoding.UTF8.GetBytes(Index), null);
        var ex = Assert.Throws<DistributionException>(() => ManifestParser.SelectPlatform(doc.Index!, "linux", "s390x", null));
        Assert.Equal(DistributionErrorKind.NotFound, ex.Kind);
        Assert.Contains("linux/s390x", ex.Message);
        Assert.Contains("linux/amd64", ex.Message);
    }

    [Fact]
    public void ParsesOciManifestWithoutMediaTypeField()
    {
        string json = $$$"""{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{{D1}}}","size":10},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":"{{{D2}}}","size":20}]}""";
        var doc = ManifestParser.Parse(Encoding.UTF8.GetBytes(json), "application/vnd.oci.image.manifest.v1+json");
        Assert.Equal(MediaTypes.OciManifest, doc.MediaType);
        Assert.Equal(D1, doc.Manifest!.Config.Digest);
        Assert.Equal(MediaTypes.OciLayerZstd, Assert.Single(doc.Manifest.Layers).MediaType);
        Assert.True(MediaTypes.IsLayer(doc.Manifest.Layers[0].MediaType));
    }

    [Fact]
    public void ShapeDecidesWhenNoTypeIsGiven()
    {
        string json = $$$"""{"schemaVersion":2,"manifests":[{"digest":"{{{D1}}}","size":1,"platform":{"os":"linux","architecture":"amd64"}}]}""";
        Assert.NotNull(ManifestParser.Parse(Encoding.UTF8.GetBytes(json), "application/json").Index);
    }

    [Fact]
    public void RefusesSchema1AndBadDigests()
    {
        Assert.Contains("schema 1", Assert.Throws<DistributionException>(() =>
            ManifestParser.Parse(Encoding.UTF8.GetBytes("""{"schemaVersion":1,"name":"x","tag":"latest","fsLayers":[]}"""), "application/vnd.docker.distribution.manifest.v1+prettyjws")).Message);
        string bad = """{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"digest":"sha256:nothex","size":1},"layers":[]}""";
        Assert.Throws<DistributionException>(() => ManifestParser.Parse(Encoding.UTF8.GetBytes(bad), null));
        Assert.Throws<DistributionException>(() => ManifestParser.Parse(Encoding.UTF8.GetBytes("{not json"), null));
    }
}
