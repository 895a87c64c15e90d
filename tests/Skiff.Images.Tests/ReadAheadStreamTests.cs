using System.IO.Compression;
using System.Security.Cryptography;
using Skiff.Content;

namespace Skiff.Images.Tests;

public class ReadAheadStreamTests
{
    /// <summary>A source that returns at most <c>step</c> bytes per read and can fail after <c>failAfter</c> bytes.</summary>
    private sealed class TrickleStream(byte[] data, int step, long failAfter = long.MaxValue) : Stream
    {
        private int _pos;
        public bool Disposed { get; private set; }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => data.Length;
        public override long Position { get => _pos; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            if (_pos >= failAfter) throw new InvalidDataException("source broke");
            int n = Math.Min(Math.Min(step, buffer.Length), data.Length - _pos);
            data.AsSpan(_pos, n).CopyTo(buffer);
            _pos += n;
            return n;
        }
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            await Task.Yield();
            ct.ThrowIfCancellationRequested();
            return Read(buffer.Span);
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        protected override void Dispose(bool disposing) { Disposed = true; base.Dispose(disposing); }
    }

    [Theory]
    [InlineData(0, 1 << 20, false)]
    [InlineData(1, 7, false)]
    [InlineData(3_000_001, 65536, false)]
    [InlineData(3_000_001, 1 << 20, false)]
    [InlineData(0, 1 << 20, true)]
    [InlineData(3_000_001, 65536, true)]
    public void ConsumerAndHandlerSeeEveryByteInOrder(int size, int chunkSize, bool synchronous)
    {
        byte[] data = RandomNumberGenerator.GetBytes(size);
        using var seen = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long handled = 0;
        var source = new TrickleStream(data, 100_003);
        using (var ahead = new ReadAheadStream(source, c => { seen.AppendData(c); handled += c.Length; }, chunkSize, depth: 2, ownsSource: true, synchronous))
        {
            var copy = new MemoryStream();
            var buf = new byte[8191];
            int n;
            while ((n = ahead.Read(buf)) > 0) copy.Write(buf, 0, n);
            Assert.Equal(data, copy.ToArray());
            Assert.Equal(0, ahead.Read(buf));
        }
        Assert.Equal(size, handled);
        Assert.Equal(SHA256.HashData(data), seen.GetCurrentHash());
        Assert.True(source.Disposed);
    }

    [Fact]
    public async Task AsynchronousConsumerReadsTheSameBytes()
    {
        byte[] data = RandomNumberGenerator.GetBytes(2_500_000);
        using var ahead = new ReadAheadStream(new TrickleStream(data, 300_000), chunkSize: 256 << 10);
        var copy = new MemoryStream();
        await ahead.CopyToAsync(copy);
        Assert.Equal(data, copy.ToArray());
    }

    [Fact]
    public void StagesChainThroughADecompressor()
    {
        // As a pull: a synchronous stage reads a synchronous stage through the decompressor.
        byte[] data = RandomNumberGenerator.GetBytes(1_000_000);
        var gz = new MemoryStream();
        using (var z = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true)) { z.Write(data); z.Write(data); }
        gz.Position = 0;
        using var stage1 = new ReadAheadStream(new TrickleStream(gz.ToArray(), 50_000), chunkSize: 1 << 16, synchronous: true);
        using var plain = new GZipStream(stage1, CompressionMode.Decompress);
        long total = 0;
        using var stage2 = new ReadAheadStream(plain, c => total += c.Length, chunkSize: 1 << 18, synchronous: true);
        var copy = new MemoryStream();
        stage2.CopyTo(copy);
        Assert.Equal(2 * data.Length, total);
        Assert.Equal(data.Concat(data).ToArray(), copy.ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FailureOfTheSourceReachesTheConsumerUnchanged(bool synchronous)
    {
        byte[] data = RandomNumberGenerator.GetBytes(3_000_000);
        using var ahead = new ReadAheadStream(new TrickleStream(data, 500_000, failAfter: 2_000_000), chunkSize: 1 << 20, synchronous: synchronous);
        var buf = new byte[1 << 20];
        Assert.Equal(1 << 20, ahead.Read(buf));
        var ex = Assert.Throws<InvalidDataException>(() => { while (ahead.Read(buf) > 0) { } });
        Assert.Equal("source broke", ex.Message);
    }

    [Fact]
    public void FailureOfTheHandlerReachesTheConsumerUnchanged()
    {
        byte[] data = RandomNumberGenerator.GetBytes(1_000_000);
        long seen = 0;
        using var ahead = new ReadAheadStream(new TrickleStream(data, 1 << 20), c =>
        {
            seen += c.Length;
            if (seen > 300_000) throw new ArgumentException("too long");
        }, chunkSize: 200_000);
        var ex = Assert.Throws<ArgumentException>(() => ahead.DrainToEnd());
        Assert.Equal("too long", ex.Message);
    }

    [Fact]
    public void CancellingTheCallersTokenFailsTheRead()
    {
        using var cts = new CancellationTokenSource();
        byte[] data = RandomNumberGenerator.GetBytes(10_000_000);
        using var ahead = new ReadAheadStream(new TrickleStream(data, 1000), chunkSize: 1 << 20, cancel: cts.Token);
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => ahead.DrainToEnd());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DisposingAnUnreadStreamStopsTheReader(bool synchronous)
    {
        byte[] data = RandomNumberGenerator.GetBytes(20_000_000);
        var source = new TrickleStream(data, 1 << 16);
        var ahead = new ReadAheadStream(source, chunkSize: 1 << 16, depth: 1, ownsSource: true, synchronous: synchronous);
        Assert.True(ahead.ReadByte() >= 0);
        await Task.Run(ahead.Dispose).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(source.Disposed);
        Assert.True(source.Position < data.Length);
    }
}
