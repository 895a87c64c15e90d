using Skiff.Images;

namespace Skiff.Distribution.Tests;

/// <summary>How pull and push see references: registry host (reference domain) and repository path.</summary>
public sealed class ReferenceTests
{
    [Theory]
    [InlineData("busybox", "docker.io", "library/busybox", "latest")]
    [InlineData("user/app:1.0", "docker.io", "user/app", "1.0")]
    [InlineData("127.0.0.1:5000/x/y", "127.0.0.1:5000", "x/y", "latest")]
    [InlineData("localhost/app:dev", "localhost", "app", "dev")]
    [InlineData("index.docker.io/library/debian:12", "docker.io", "library/debian", "12")]
    [InlineData("quay.io/org/img:v2", "quay.io", "org/img", "v2")]
    public void Normalises(string s, string domain, string path, string tag)
    {
        var r = ImageReference.Parse(s).WithDefaultTag();
        Assert.Equal(domain, r.Domain);
        Assert.Equal(path, r.Path);
        Assert.Equal(tag, r.Tag);
    }

    [Fact]
    public void DigestReferencesKeepTheirDigest()
    {
        var r = ImageReference.Parse("127.0.0.1:5000/x@sha256:" + new string('a', 64));
        Assert.Null(r.Tag);
        Assert.Equal("sha256:" + new string('a', 64), r.Digest);
        Assert.Same(r, r.WithDefaultTag());
    }
}
