using System.Runtime.InteropServices;

namespace Skiff.Cli;

/// <summary>
/// The local terminal: tty detection, raw mode (termios through libc) and window size.
/// Raw mode is process-global; <see cref="RestoreIfRaw"/> is safe to call more than once and is
/// called on every exit path so a crash never leaves the user's shell raw.
/// </summary>
public static partial class Terminal
{
    private const int TIOCGWINSZ = 0x5413;
    private const int TCSANOW = 0;
    // struct termios on Linux is 60 bytes; 64 leaves room without depending on the exact layout.
    private const int TermiosSize = 64;

    private static byte[]? _saved;
    private static readonly Lock Gate = new();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int isatty(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int tcgetattr(int fd, byte[] termios);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int tcsetattr(int fd, int action, byte[] termios);

    [LibraryImport("libc")]
    private static partial void cfmakeraw(byte[] termios);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int ioctl(int fd, nuint request, void* arg);

    /// <summary>True when the file descriptor is a terminal.</summary>
    public static bool IsTerminal(int fd) => isatty(fd) == 1;

    /// <summary>Puts fd 0 into raw mode, remembering the previous settings. Returns false if not a tty.</summary>
    public static bool MakeRaw()
    {
        lock (Gate)
        {
            var t = new byte[TermiosSize];
            if (tcgetattr(0, t) != 0) return false;
            _saved ??= (byte[])t.Clone();
            cfmakeraw(t);
            return tcsetattr(0, TCSANOW, t) == 0;
        }
    }

    /// <summary>Restores the settings saved by <see cref="MakeRaw"/>, if any.</summary>
    public static void RestoreIfRaw()
    {
        lock (Gate)
        {
            if (_saved is null) return;
            tcsetattr(0, TCSANOW, _saved);
            _saved = null;
        }
    }

    /// <summary>Turns terminal echo on fd 0 on or off (for password prompts). c_lflag is the fourth 32-bit field.</summary>
    public static void SetEcho(bool on)
    {
        const uint ECHO = 0x8;
        var t = new byte[TermiosSize];
        if (tcgetattr(0, t) != 0) return;
        uint lflag = BitConverter.ToUInt32(t, 12);
        lflag = on ? lflag | ECHO : lflag & ~ECHO;
        BitConverter.TryWriteBytes(t.AsSpan(12), lflag);
        tcsetattr(0, TCSANOW, t);
    }

    /// <summary>The window size (rows, columns) of fd, or null when it is not a terminal.</summary>
    public static unsafe (int Rows, int Cols)? GetSize(int fd)
    {
        ushort* ws = stackalloc ushort[4];
        if (ioctl(fd, TIOCGWINSZ, ws) != 0) return null;
        return (ws[0], ws[1]);
    }
}
