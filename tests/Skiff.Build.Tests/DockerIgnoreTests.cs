namespace Skiff.Build.Tests;

public sealed class DockerIgnoreTests
{
    [Theory]
    [InlineData("*.log", "a.log", true)]
    [InlineData("*.log", "dir/a.log", false)]
    [InlineData("**/*.log", "dir/sub/a.log", true)]
    [InlineData("**/*.log", "a.log", true)]
    [InlineData("dir", "dir/file", true)]
    [InlineData("/dir/", "dir/file", true)]
    [InlineData("./dir", "dir", true)]
    [InlineData("d?r", "dir", true)]
    [InlineData("d?r", "d/r", false)]
    [InlineData("[a-c]x", "bx", true)]
    [InlineData("[!a-c]x", "dx", true)]
    [InlineData("[!a-c]x", "bx", false)]
    [InlineData("a/**/b", "a/b", true)]
    [InlineData("a/**/b", "a/x/y/b", true)]
    [InlineData("a/**", "a/x/y", true)]
    [InlineData("node_modules", "src/node_modules", false)]
    [InlineData("\\*x", "*x", true)]
    public void Matches(string pattern, string path, bool excluded) =>
        Assert.Equal(excluded, new DockerIgnore([pattern]).Excludes(path));

    [Fact]
    public void LastMatchWinsWithExceptions()
    {
        var ignore = DockerIgnore.Parse("# comment\n*.md\n!README.md\nbuild/\n!build/keep\n\n");
        Assert.True(ignore.Excludes("CHANGES.md"));
        Assert.False(ignore.Excludes("README.md"));
        Assert.True(ignore.Excludes("build/out.o"));
        Assert.False(ignore.Excludes("build/keep"));
        Assert.False(ignore.Excludes("src/main.c"));
        Assert.True(ignore.HasExclusions);
    }
}
