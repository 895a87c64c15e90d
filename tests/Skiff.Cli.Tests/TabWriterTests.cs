using Skiff.Cli;

namespace Skiff.Cli.Tests;

public class TabWriterTests
{
    [Fact]
    public void MinWidthTenAndPaddingThree()
    {
        var tw = new TabWriter();
        tw.Write("A\tB\tC\nlonger-cell\tx\tlast\n");
        Assert.Equal("A             B         C\nlonger-cell   x         last\n", tw.Flush());
    }

    [Fact]
    public void LastCellIsNotPaddedAndRunesCount()
    {
        var tw = new TabWriter();
        tw.Write("\"sh -c 'echo a very …\"\tx\n\"short\"\ty\n");
        Assert.Equal("\"sh -c 'echo a very …\"   x\n\"short\"                  y\n", tw.Flush());
    }

    [Fact]
    public void ColumnBlocksBreakOnShorterLines()
    {
        var tw = new TabWriter(0, 1);
        tw.Write("aaaa\tb\nc\nd\te\n");
        Assert.Equal("aaaa b\nc\nd e\n", tw.Flush());
    }
}
