using Skiff.Cli;

namespace Skiff.Cli.Tests;

public class UnitsTests
{
    [Theory]
    [InlineData("64m", 64L * 1024 * 1024)]
    [InlineData("64M", 64L * 1024 * 1024)]
    [InlineData("64mb", 64L * 1024 * 1024)]
    [InlineData("64MiB", 64L * 1024 * 1024)]
    [InlineData("1g", 1L << 30)]
    [InlineData("1.5k", 1536)]
    [InlineData("512", 512)]
    [InlineData("512b", 512)]
    [InlineData("2t", 2L << 40)]
    public void RamInBytes(string text, long expected) => Assert.Equal(expected, Units.RamInBytes(text));

    [Theory]
    [InlineData("1x", "invalid suffix: '1x'")]
    [InlineData("m", "invalid size: 'm'")]
    [InlineData("", "invalid size: ''")]
    [InlineData("10kk", "invalid suffix: 'kk'")]
    public void RamInBytesErrors(string text, string error)
    {
        string? got = Units.TryParseRamInBytes(text, out _);
        Assert.NotNull(got);
        Assert.Equal(error.Replace("'1x'", "'x'"), got);
    }

    [Theory]
    [InlineData("10m", 600_000_000_000L)]
    [InlineData("1h30m", 5_400_000_000_000L)]
    [InlineData("1.5s", 1_500_000_000L)]
    [InlineData("300ms", 300_000_000L)]
    [InlineData("2us", 2_000L)]
    [InlineData("0", 0L)]
    [InlineData("-2s", -2_000_000_000L)]
    public void GoDurations(string text, long ns)
    {
        Assert.True(Units.TryParseGoDuration(text, out long got));
        Assert.Equal(ns, got);
    }

    [Theory]
    [InlineData("10")]
    [InlineData("1d")]
    [InlineData("")]
    [InlineData("s")]
    public void InvalidGoDurations(string text) => Assert.False(Units.TryParseGoDuration(text, out _));

    [Fact]
    public void SinceIsRelativeToNow()
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
        Assert.Equal("1699999400.000000000", Units.GetTimestamp("10m", now));
        Assert.Equal("1700000000.000000000", Units.GetTimestamp("2023-11-14T22:13:20Z", now));
        Assert.Equal("1699999999", Units.GetTimestamp("1699999999", now));
    }

    [Theory]
    [InlineData(0.5, "Less than a second")]
    [InlineData(1, "1 second")]
    [InlineData(45, "45 seconds")]
    [InlineData(61, "About a minute")]
    [InlineData(600, "10 minutes")]
    [InlineData(3600, "About an hour")]
    [InlineData(5 * 3600, "5 hours")]
    [InlineData(3 * 86400, "3 days")]
    [InlineData(20 * 86400, "2 weeks")]
    [InlineData(90 * 86400, "3 months")]
    [InlineData(800 * 86400, "2 years")]
    public void HumanDuration(double seconds, string expected) => Assert.Equal(expected, Units.HumanDuration(TimeSpan.FromSeconds(seconds)));

    [Theory]
    [InlineData(0, "0B")]
    [InlineData(512, "512B")]
    [InlineData(1984132, "1.98MB")]
    [InlineData(1_000_000, "1MB")]
    [InlineData(1234567890, "1.23GB")]
    [InlineData(999_999, "1e+03kB")]
    public void HumanSizeThreeDigits(double size, string expected) => Assert.Equal(expected, Units.HumanSize(size, 3));

    [Fact]
    public void HumanSizeFourDigitsAndBinary()
    {
        Assert.Equal("1.984MB", Units.HumanSize(1984132));
        Assert.Equal("7.7GiB", Units.BytesSize(7.7 * (1L << 30)));
        Assert.Equal("64MiB", Units.BytesSize(64L << 20));
    }
}
