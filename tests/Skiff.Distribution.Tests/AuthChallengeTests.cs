using Skiff.Distribution;

namespace Skiff.Distribution.Tests;

public sealed class AuthChallengeTests
{
    [Fact]
    public void ParsesDockerHubBearerChallenge()
    {
        var c = Assert.Single(AuthChallenge.Parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/busybox:pull\""));
        Assert.Equal("Bearer", c.Scheme);
        Assert.Equal("https://auth.docker.io/token", c["realm"]);
        Assert.Equal("registry.docker.io", c["service"]);
        Assert.Equal("repository:library/busybox:pull", c["scope"]);
    }

    [Fact]
    public void ParsesSeveralChallengesAndQuotedCommas()
    {
        var list = AuthChallenge.Parse("Basic realm=\"a, b\", Bearer realm=\"https://t/x\",scope=\"repository:a:pull,push\" , error=\"insufficient_scope\"");
        Assert.Equal(2, list.Count);
        Assert.Equal("Basic", list[0].Scheme);
        Assert.Equal("a, b", list[0]["realm"]);
        Assert.Equal("repository:a:pull,push", list[1]["scope"]);
        Assert.Equal("insufficient_scope", list[1]["ERROR"]);
    }

    [Fact]
    public void UnquotedValuesAndEscapes()
    {
        var c = Assert.Single(AuthChallenge.Parse("Basic realm=registry, x=\"say \\\"hi\\\"\""));
        Assert.Equal("registry", c["realm"]);
        Assert.Equal("say \"hi\"", c["x"]);
    }

    [Fact]
    public void EmptyOrGarbageGivesNoChallenge()
    {
        Assert.Empty(AuthChallenge.Parse(""));
        Assert.Empty(AuthChallenge.Parse(" , ,"));
    }
}
