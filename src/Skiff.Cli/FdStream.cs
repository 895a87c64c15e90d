using System.Runtime.InteropServices;

namespace Skiff.Cli;

/// <summary>
/// A blocking stream over an inherited file descriptor (0, 1, 2) using read/write directly.
/// Used instead of Console streams because .NET's console layer line-edits and echoes terminal
/// input itself and writes terminal init sequences (keypad mode), both wrong for a container's TTY.
/// </summary>
public sealed partial class FdStream(int fd, bool writable) : Stream
{
    private const int EINTR = 4;
    private const int EPIPE = 32;

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint read(int fd, byte* buf, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint write(int fd, byte* buf, nint count);

    /// <summary>Standard input.</summary>
    public static FdStream Stdin() => new(0, false);
    /// <summary>Standard output.</summary>
    public static FdStream Stdout() => new(1, true);
    /// <summary>Standard error.</summary>
    public static FdStream Stderr() => new(2, true);

    /// <inheritdoc/>
    public override unsafe int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty) return 0;
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = read(fd, p, buffer.Length);
                if (n >= 0) return (int)n;
                int err = Marshal.GetLastPInvokeError();
                if (err != EINTR) throw new IOException($"read fd {fd}: errno {err}");
            }
        }
    }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override unsafe void Write(ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            int done = 0;
            while (done < buffer.Length)
            {
                nint n = write(fd, p + done, buffer.Length - done);
                if (n < 0)
                {
                    int err = Marshal.GetLastPInvokeError();
                    if (err == EINTR) continue;
                    if (err == EPIPE) throw new BrokenPipeException();
                    throw new IOException($"write fd {fd}: errno {err}");
                }
                done += (int)n;
            }
        }
    }

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public override void Flush() { }
    /// <inheritdoc/>
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    /// <inheritdoc/>
    public override bool CanRead => !writable;
    /// <inheritdoc/>
    public override bool CanSeek => false;
    /// <inheritdoc/>
    public override bool CanWrite => writable;
    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException();
    /// <inheritdoc/>
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>The reader of stdout went away (e.g. <c>skiff ps | head -1</c>); the CLI exits quietly.</summary>
public sealed class BrokenPipeException() : IOException("broken pipe");
