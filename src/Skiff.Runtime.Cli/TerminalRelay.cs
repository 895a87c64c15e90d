using Microsoft.Win32.SafeHandles;
using Skiff.Linux;
using Skiff.Runtime;

namespace Skiff.Runtime.Cli;

/// <summary>
/// Copies this process's stdin to a pty master and the master to stdout, for foreground <c>run</c>/<c>exec</c>
/// with a terminal. When stdin is a tty it is put in raw mode for the duration, so keys reach the container as typed.
/// </summary>
internal sealed unsafe class TerminalRelay(SafeFileHandle master) : IDisposable
{
    private Thread? _output;
    private byte[]? _savedTermios;

    public void Begin()
    {
        if (PtyMaster.GetSize(0) is { } size) PtyMaster.Resize(master, size.Rows, size.Cols);
        _savedTermios = Libc.MakeRaw(0);
        int fd = (int)master.DangerousGetHandle();
        _output = new Thread(() => Copy(fd, 1)) { IsBackground = true };
        _output.Start();
        new Thread(() => Copy(0, fd)) { IsBackground = true }.Start();
    }

    /// <summary>Waits until the container side closed the pty (all output drained).</summary>
    public void Finish() => _output?.Join(TimeSpan.FromSeconds(2));

    private static void Copy(int from, int to)
    {
        byte[] buf = new byte[16384];
        try
        {
            while (true)
            {
                int n = Libc.ReadSome(from, buf);
                if (n <= 0) return;
                Libc.WriteAll(to, buf.AsSpan(0, n));
            }
        }
        catch (LinuxException) { }
    }

    public void Dispose()
    {
        if (_savedTermios is not null) Libc.RestoreTermios(0, _savedTermios);
        master.Dispose();
    }
}
