using Skiff.Cli;

namespace Skiff.Cli.Tests;

public class EscapeDetectorTests
{
    private static (string Forwarded, bool Detached) Feed(EscapeDetector d, params byte[] input)
    {
        var forward = new List<byte>();
        bool hit = d.Feed(input, forward);
        return (string.Concat(forward.Select(b => b < 32 ? $"^{(char)(b + 64)}" : ((char)b).ToString())), hit);
    }

    [Fact]
    public void DefaultSequenceDetachesAndIsNotForwarded()
    {
        var d = new EscapeDetector(EscapeDetector.DefaultKeys);
        Assert.Equal(("ab", true), Feed(d, (byte)'a', (byte)'b', 16, 17));
    }

    [Fact]
    public void SequenceSplitAcrossReads()
    {
        var d = new EscapeDetector(EscapeDetector.DefaultKeys);
        Assert.Equal(("x", false), Feed(d, (byte)'x', 16));
        Assert.Equal(("", true), Feed(d, 17));
    }

    [Fact]
    public void BrokenSequenceIsForwarded()
    {
        var d = new EscapeDetector(EscapeDetector.DefaultKeys);
        Assert.Equal(("^Py", false), Feed(d, 16, (byte)'y'));
        Assert.Equal(("^P", false), Feed(d, 16, 16));
        Assert.Equal(("", true), Feed(d, 17));
    }

    [Theory]
    [InlineData("ctrl-p,ctrl-q", new byte[] { 16, 17 })]
    [InlineData("ctrl-a,x", new byte[] { 1, (byte)'x' })]
    [InlineData("ctrl-@,ctrl-[", new byte[] { 0, 27 })]
    public void ParsesDockerKeySyntax(string spec, byte[] keys) => Assert.Equal(keys, EscapeDetector.ParseKeys(spec));

    [Fact]
    public void RejectsBadKeys() => Assert.Throws<FormatException>(() => EscapeDetector.ParseKeys("ctrl-1"));
}
