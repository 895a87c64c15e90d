using System.Runtime.InteropServices;
using System.Text;
using Skiff.Linux;

namespace Skiff.Archive;

/// <summary>Thin managed helpers over the raw calls in <see cref="Libc"/>.</summary>
internal static unsafe class FsNative
{
    public static int Errno => Marshal.GetLastPInvokeError();

    /// <summary>lstat-like statx of <paramref name="name"/> in <paramref name="dirfd"/>; false when it does not exist.</summary>
    public static bool TryStat(int dirfd, string name, out Libc.Statx st)
    {
        Libc.Statx s;
        int flags = Libc.AT_SYMLINK_NOFOLLOW | (name.Length == 0 ? Libc.AT_EMPTY_PATH : 0);
        if (Libc.statx(dirfd, name, flags, Libc.STATX_BASIC_STATS, &s) < 0)
        {
            int e = Errno;
            if (e is Libc.ENOENT or Libc.ENOTDIR) { st = default; return false; }
            throw new LinuxException("statx", e, name);
        }
        st = s;
        return true;
    }

    public static uint FileType(in Libc.Statx st) => st.Mode & Libc.S_IFMT;

    public static string ReadLink(int dirfd, string name)
    {
        var buf = new byte[4096];
        fixed (byte* p = buf)
        {
            nint n = Libc.readlinkat(dirfd, name, p, (nuint)buf.Length);
            if (n < 0) throw new LinuxException("readlinkat", Errno, name);
            return Encoding.UTF8.GetString(buf, 0, (int)n);
        }
    }

    /// <summary>Lists the xattr names of a path without following a final symlink.</summary>
    public static List<string> ListXattrs(string path)
    {
        var result = new List<string>();
        nint size = Libc.llistxattr(path, null, 0);
        if (size < 0)
        {
            int e = Errno;
            if (e is Libc.EOPNOTSUPP) return result;
            throw new LinuxException("llistxattr", e, path);
        }
        if (size == 0) return result;
        var buf = new byte[size + 256];
        fixed (byte* p = buf)
        {
            size = Libc.llistxattr(path, p, (nuint)buf.Length);
            if (size < 0) throw new LinuxException("llistxattr", Errno, path);
        }
        int start = 0;
        for (int i = 0; i < size; i++)
        {
            if (buf[i] != 0) continue;
            if (i > start) result.Add(Encoding.UTF8.GetString(buf, start, i - start));
            start = i + 1;
        }
        return result;
    }

    public static byte[]? GetXattr(string path, string name)
    {
        while (true)
        {
            nint size = Libc.lgetxattr(path, name, null, 0);
            if (size < 0)
            {
                int e = Errno;
                if (e is Libc.ENODATA or Libc.EOPNOTSUPP) return null;
                throw new LinuxException("lgetxattr", e, $"{path} {name}");
            }
            var buf = new byte[size];
            fixed (byte* p = buf)
            {
                nint got = Libc.lgetxattr(path, name, p, (nuint)buf.Length);
                if (got < 0)
                {
                    if (Errno == Libc.ERANGE) continue;
                    throw new LinuxException("lgetxattr", Errno, $"{path} {name}");
                }
                return got == size ? buf : buf[..(int)got];
            }
        }
    }

    /// <summary>Sets an xattr without following a final symlink; returns the errno (0 on success).</summary>
    public static int SetXattr(string path, string name, byte[] value)
    {
        fixed (byte* p = value)
        {
            return Libc.lsetxattr(path, name, p, (nuint)value.Length, 0) < 0 ? Errno : 0;
        }
    }

    public static Libc.Timespec ToTimespec(DateTimeOffset t)
    {
        long ticks = t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        long sec = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rem);
        if (rem < 0) { sec--; rem += TimeSpan.TicksPerSecond; }
        return new Libc.Timespec { Sec = sec, Nsec = rem * 100 };
    }

    public static DateTimeOffset FromStatx(Libc.StatxTimestamp t) =>
        DateTimeOffset.FromUnixTimeSeconds(t.Sec).AddTicks(t.Nsec / 100);
}
