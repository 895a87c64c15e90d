using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Skiff.Archive.Tests;


public static partial class Native
{
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lstat64(string path, out StatBuf buf);

    [StructLayout(LayoutKind.Sequential)]
    public struct StatBuf
    {
        public ulong Dev;
        public ulong Ino;
        public ulong Nlink;
        public uint Mode;
        public uint Uid;
        public uint Gid;
        public int Pad0;
        public ulong Rdev;
        public long Size;
        public long Blksize;
        public long Blocks;
        public long Atime, AtimeNsec, Mtime, MtimeNsec, Ctime, CtimeNsec;
        public long R0, R1, R2;
    }

    public static StatBuf Lstat(string path)
    {
        if (lstat64(path, out var st) != 0) throw new IOException($"lstat {path}: errno {Marshal.GetLastPInvokeError()}");
        return st;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint lgetxattr(string path, string name, byte* value, nuint size);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int lsetxattr(string path, string name, byte* value, nuint size, int flags);

    public static unsafe byte[]? GetXattr(string path, string name)
    {
        var buf = new byte[65536];
        fixed (byte* p = buf)
        {
            nint n = lgetxattr(path, name, p, (nuint)buf.Length);
            return n < 0 ? null : buf[..(int)n];
        }
    }

    public static unsafe void SetXattr(string path, string name, byte[] value)
    {
        fixed (byte* p = value)
        {
            if (lsetxattr(path, name, p, (nuint)value.Length, 0) != 0) throw new IOException($"lsetxattr errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public static string Utf8(byte[] b) => Encoding.UTF8.GetString(b);
}

/// <summary>Reads in tiny, irregular chunks and refuses seeking, like a network stream.</summary>
public sealed class TrickleStream(Stream inner) : Stream
{
    private int _n;
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) =>
        inner.Read(buffer, offset, Math.Min(count, 1 + (_n++ * 7919) % 700));
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
