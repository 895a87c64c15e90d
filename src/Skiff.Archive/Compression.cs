using System.IO.Compression;

namespace Skiff.Archive;

public enum CompressionKind
{
    None,
    Gzip,
    Zstd,
}

/// <summary>
/// Detects a layer's compression by its magic bytes and returns a decompressing stream, without
/// seeking (the peeked bytes are replayed), so it works on request bodies and pipes.
/// </summary>
public static class Compression
{
    /// <summary>Classifies the first bytes of a stream; fewer than 4 bytes mean plain data.</summary>
    public static CompressionKind Detect(ReadOnlySpan<byte> head)
    {
        if (head.Length >= 2 && head[0] == 0x1F && head[1] == 0x8B) return CompressionKind.Gzip;
        if (head.Length >= 4 && head[0] == 0x28 && head[1] == 0xB5 && head[2] == 0x2F && head[3] == 0xFD) return CompressionKind.Zstd;
        if (head.Length >= 3 && head[0] == (byte)'B' && head[1] == (byte)'Z' && head[2] == (byte)'h')
            throw new InvalidArchiveException("bzip2-compressed archives are not supported");
        if (head.Length >= 6 && head[0] == 0xFD && head[1] == (byte)'7' && head[2] == (byte)'z' && head[3] == (byte)'X' && head[4] == (byte)'Z')
            throw new InvalidArchiveException("xz-compressed archives are not supported");
        return CompressionKind.None;
    }

    /// <summary>
    /// Wraps <paramref name="input"/> in a decompressor chosen by its magic bytes. Disposing the
    /// result disposes <paramref name="input"/> unless <paramref name="leaveOpen"/>.
    /// </summary>
    public static Stream OpenDecompressed(Stream input, out CompressionKind kind, bool leaveOpen = false)
    {
        var head = new byte[6];
        int n = 0;
        while (n < head.Length)
        {
            int r = input.Read(head, n, head.Length - n);
            if (r == 0) break;
            n += r;
        }
        kind = Detect(head.AsSpan(0, n));
        Stream replay = new PrefixStream(head.AsMemory(0, n), input, leaveOpen);
        return kind switch
        {
            CompressionKind.Gzip => new GZipStream(replay, CompressionMode.Decompress, leaveOpen: false),
            CompressionKind.Zstd => new ZstdSharp.DecompressionStream(replay, leaveOpen: false),
            _ => replay,
        };
    }

    /// <summary>Serves already-read bytes before continuing with the inner stream.</summary>
    private sealed class PrefixStream(ReadOnlyMemory<byte> prefix, Stream inner, bool leaveOpen) : Stream
    {
        private ReadOnlyMemory<byte> _prefix = prefix;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (!_prefix.IsEmpty)
            {
                int n = Math.Min(buffer.Length, _prefix.Length);
                _prefix.Span[..n].CopyTo(buffer);
                _prefix = _prefix[n..];
                return n;
            }
            return inner.Read(buffer);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!_prefix.IsEmpty) return Read(buffer.Span);
            return await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing && !leaveOpen) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
