using System.Runtime.InteropServices;

namespace Skiff.Linux;

public static unsafe partial class Libc
{
    public const ulong TIOCSCTTY = 0x540E, TIOCSPGRP = 0x5410, TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414, TIOCGPTN = 0x80045430, TIOCSPTLCK = 0x40045431;

    [StructLayout(LayoutKind.Sequential)]
    public struct WinSize { public ushort Rows, Cols, XPixel, YPixel; }

    /// <summary>
    /// Opens a new pty pair on the devpts instance behind <paramref name="ptmxPath"/>, returning the
    /// master and the slave path. Both fds are CLOEXEC.
    /// </summary>
    public static (int Master, string SlavePath) OpenPty(string ptmxPath, string ptsDir)
    {
        int master = LinuxException.ThrowIfError(open(ptmxPath, O_RDWR | O_NOCTTY | O_CLOEXEC, 0), "open", ptmxPath);
        int unlock = 0;
        if (ioctl(master, TIOCSPTLCK, &unlock) < 0) { int e = Marshal.GetLastPInvokeError(); close(master); throw new LinuxException("ioctl(TIOCSPTLCK)", e); }
        uint n;
        if (ioctl(master, TIOCGPTN, &n) < 0) { int e = Marshal.GetLastPInvokeError(); close(master); throw new LinuxException("ioctl(TIOCGPTN)", e); }
        return (master, $"{ptsDir}/{n}");
    }
}

public static unsafe partial class Libc
{
    private const int TermiosSize = 60;

    [LibraryImport(Lib, EntryPoint = "tcgetattr", SetLastError = true)]
    private static partial int tcgetattr(int fd, byte* termios);

    [LibraryImport(Lib, EntryPoint = "tcsetattr", SetLastError = true)]
    private static partial int tcsetattr(int fd, int action, byte* termios);

    [LibraryImport(Lib, EntryPoint = "cfmakeraw")]
    private static partial void cfmakeraw(byte* termios);

    /// <summary>Puts the tty at <paramref name="fd"/> in raw mode; returns the previous settings, or null when it is not a tty.</summary>
    public static byte[]? MakeRaw(int fd)
    {
        byte[] saved = new byte[TermiosSize];
        fixed (byte* s = saved)
        {
            if (tcgetattr(fd, s) < 0) return null;
            byte* raw = stackalloc byte[TermiosSize];
            new Span<byte>(s, TermiosSize).CopyTo(new Span<byte>(raw, TermiosSize));
            cfmakeraw(raw);
            tcsetattr(fd, 0, raw);
        }
        return saved;
    }

    public static void RestoreTermios(int fd, byte[] saved)
    {
        fixed (byte* s = saved) tcsetattr(fd, 0, s);
    }
}
