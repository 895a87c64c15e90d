using Skiff.Build.Dockerfile;

namespace Skiff.Build.Tests;

public sealed class ShellWordsTests
{
    private static readonly Dictionary<string, string> Env = new()
    {
        ["A"] = "apple", ["EMPTY"] = "", ["SP"] = "a b", ["F"] = "/home/tux/book.tar.bz2", ["V"] = "v1.2.3",
    };
    private static readonly ShellWords Lex = new('\\', k => Env.TryGetValue(k, out var v) ? v : null);

    [Theory]
    [InlineData("$A", "apple")]
    [InlineData("${A}pie", "applepie")]
    [InlineData("${MISSING:-dflt}", "dflt")]
    [InlineData("${EMPTY:-dflt}", "dflt")]
    [InlineData("${EMPTY-dflt}", "")]
    [InlineData("${MISSING-dflt}", "dflt")]
    [InlineData("${A:+set}", "set")]
    [InlineData("${EMPTY:+set}", "")]
    [InlineData("${EMPTY+set}", "set")]
    [InlineData("${MISSING+set}", "")]
    [InlineData("${MISSING:-${A}}", "apple")]
    [InlineData("'$A'", "$A")]
    [InlineData("\"$A x\"", "apple x")]
    [InlineData("\\$A", "$A")]
    [InlineData("\"\\$A\"", "$A")]
    [InlineData("a\\ b", "a b")]
    [InlineData("$", "$")]
    [InlineData("$MISSING", "")]
    [InlineData("\"a\\nb\"", "a\\nb")]
    [InlineData("${F#*/}", "home/tux/book.tar.bz2")]
    [InlineData("${F##*/}", "book.tar.bz2")]
    [InlineData("${F%.*}", "/home/tux/book.tar")]
    [InlineData("${F%%.*}", "/home/tux/book")]
    [InlineData("${F/tux/wilber}", "/home/wilber/book.tar.bz2")]
    [InlineData("${F//o/0}", "/h0me/tux/b00k.tar.bz2")]
    [InlineData("${V#v}", "1.2.3")]
    [InlineData("${V%.[0-9]}", "v1.2")]
    [InlineData("${V#x}", "v1.2.3")]
    [InlineData("${MISSING##*/}", "")]
    [InlineData("${V/./-}", "v1-2.3")]
    [InlineData("${V//[.]/_}", "v1_2_3")]
    public void Expands(string input, string expected) => Assert.Equal(expected, Lex.Word(input));

    [Fact]
    public void WordsSplitUnquotedExpansions()
    {
        Assert.Equal(["a", "b", "c d"], Lex.Words("$SP \"c d\""));
        Assert.Equal(["8080", "9090/udp"], Lex.Words("8080   9090/udp"));
    }

    [Fact]
    public void RequiredVariableFails()
    {
        var e = Assert.Throws<DockerfileException>(() => Lex.Word("${MISSING:?must be set}"));
        Assert.Contains("must be set", e.Message);
        Assert.Equal("apple", Lex.Word("${A:?x}"));
    }

    [Fact]
    public void BacktickEscape()
    {
        var lex = new ShellWords('`', k => Env.GetValueOrDefault(k));
        Assert.Equal("C:\\dir $A", lex.Word("C:\\dir `$A"));
    }
}
