using System.Text;
using Skiff.Client;

namespace Skiff.Cli.Tests;

public class MultiplexedStreamTests
{
    /// <summary>Returns at most <c>chunk</c> bytes per read, to exercise frames split across reads.</summary>
    private sealed class TrickleStream(byte[] data, int chunk) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, chunk));
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => base.ReadAsync(buffer[..Math.Min(buffer.Length, chunk)], cancellationToken);
    }

    private static byte[] Frames(params (StdStream S, string Text)[] frames)
        => frames.SelectMany(f => MultiplexedStreamReader.EncodeFrame(f.S, Encoding.UTF8.GetBytes(f.Text))).ToArray();

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(4096)]
    public async Task DemultiplexesAcrossArbitraryReadSizes(int chunk)
    {
        var data = Frames((StdStream.Stdout, "out1\n"), (StdStream.Stderr, "err1\n"), (StdStream.Stdout, ""), (StdStream.Stdout, "out2\n"));
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        await new MultiplexedStreamReader(new TrickleStream(data, chunk)).CopyToAsync(stdout, stderr);
        Assert.Equal("out1\nout2\n", Encoding.UTF8.GetString(stdout.ToArray()));
        Assert.Equal("err1\n", Encoding.UTF8.GetString(stderr.ToArray()));
    }

    [Fact]
    public void HeaderLayoutIsBigEndianLength()
    {
        var frame = MultiplexedStreamReader.EncodeFrame(StdStream.Stderr, new byte[300]);
        Assert.Equal(new byte[] { 2, 0, 0, 0, 0, 0, 1, 44 }, frame[..8]);
    }

    [Fact]
    public async Task LargeFrameGrowsBuffer()
    {
        string big = new('x', 100_000);
        var stdout = new MemoryStream();
        await new MultiplexedStreamReader(new MemoryStream(Frames((StdStream.Stdout, big)))).CopyToAsync(stdout, Stream.Null);
        Assert.Equal(100_000, stdout.Length);
    }

    [Fact]
    public async Task TruncatedFrameThrows()
    {
        var data = Frames((StdStream.Stdout, "hello"));
        await Assert.ThrowsAsync<EndOfStreamException>(() => new MultiplexedStreamReader(new MemoryStream(data[..10])).CopyToAsync(Stream.Null, Stream.Null));
        await Assert.ThrowsAsync<EndOfStreamException>(() => new MultiplexedStreamReader(new MemoryStream(data[..5])).CopyToAsync(Stream.Null, Stream.Null));
    }

    [Fact]
    public async Task SystemErrorFrameThrowsWithMessage()
    {
        var data = Frames((StdStream.Stdout, "a"), (StdStream.SystemError, "boom"));
        var e = await Assert.ThrowsAsync<EngineStreamException>(() => new MultiplexedStreamReader(new MemoryStream(data)).CopyToAsync(Stream.Null, Stream.Null));
        Assert.Equal("boom", e.Message);
    }
}
