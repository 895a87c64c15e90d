using Microsoft.Win32.SafeHandles;
using Skiff.Linux;

namespace Skiff.Runtime;

/// <summary>Operations on a pty master returned in terminal mode.</summary>
public static unsafe class PtyMaster
{
    /// <summary>Sets the window size; the kernel sends SIGWINCH to the pty's foreground process group.</summary>
    public static void Resize(SafeFileHandle master, ushort rows, ushort cols)
    {
        var ws = new Libc.WinSize { Rows = rows, Cols = cols };
        LinuxException.ThrowIfError(Libc.ioctl((int)master.DangerousGetHandle(), Libc.TIOCSWINSZ, &ws), "ioctl(TIOCSWINSZ)");
    }

    /// <summary>The window size of the terminal at <paramref name="fd"/>, or null when it is not a terminal.</summary>
    public static (ushort Rows, ushort Cols)? GetSize(int fd)
    {
        Libc.WinSize ws;
        return Libc.ioctl(fd, Libc.TIOCGWINSZ, &ws) < 0 ? null : (ws.Rows, ws.Cols);
    }
}
