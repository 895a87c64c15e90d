using System.Diagnostics;
using System.Runtime.InteropServices;
using Skiff.Linux;

namespace Skiff.Shim;

/// <summary>
/// Copies a child process's output on the calling thread: one poll(2) loop over its output fds and a
/// pidfd of the process, instead of one thread per pipe plus one blocked in waitpid. Thread stacks are
/// most of a shim's private memory besides the GC heap, and a shim lives as long as its container.
/// </summary>
internal static unsafe class OutputLoop
{
    /// <summary>Room left before the payload in the buffer given to the callback (Docker's frame header).</summary>
    public const int HeaderRoom = 8;

    /// <summary>How long the loop must have been idle before it calls its idle callback.</summary>
    public const int IdleMs = 100;

    /// <summary>Receives output read from fd number <c>index</c>: the payload is <c>buffer[HeaderRoom..HeaderRoom+count]</c>.</summary>
    public delegate void DataHandler(int index, byte[] buffer, int count);

    /// <summary>
    /// Reads every fd of <paramref name="fds"/> until end of file (EIO on a pty master counts as the end)
    /// and hands the data to <paramref name="onData"/>. Once the process <paramref name="pid"/> exits it
    /// is reaped with <paramref name="reap"/>; the fds are drained for at most <paramref name="drain"/>
    /// after that (a process that left children behind may keep a pipe open). The fds are closed at the end.
    /// </summary>
    /// <param name="onIdle">Called once, on this thread, the first time nothing happened for <see cref="IdleMs"/>.</param>
    /// <returns>The exit code <paramref name="reap"/> returned.</returns>
    public static int Run(int[] fds, int pid, Func<int> reap, DataHandler onData, TimeSpan drain, Action? onIdle = null)
    {
        var buffer = new byte[32 * 1024 + HeaderRoom];
        var open = (int[])fds.Clone();
        int pidFd = Libc.pidfd_open(pid, 0);
        int? code = null;
        long deadline = 0;
        var polls = new Libc.PollFd[fds.Length + 1];
        try
        {
            // Without a pidfd (the process is already gone, or an old kernel) reap first, then drain.
            if (pidFd < 0) (code, deadline) = (reap(), Stopwatch.GetTimestamp() + (long)(drain.TotalSeconds * Stopwatch.Frequency));
            while (true)
            {
                int n = 0;
                for (int i = 0; i < open.Length; i++)
                    if (open[i] >= 0) polls[n++] = new Libc.PollFd { Fd = open[i], Events = Libc.POLLIN };
                if (n == 0 && code is not null) break;
                if (code is null) polls[n++] = new Libc.PollFd { Fd = pidFd, Events = Libc.POLLIN };
                int timeout = onIdle is not null ? IdleMs : -1;
                if (code is not null)
                {
                    long left = deadline - Stopwatch.GetTimestamp();
                    if (left <= 0) break;
                    timeout = (int)Math.Max(1, left * 1000 / Stopwatch.Frequency);
                }
                int ready;
                fixed (Libc.PollFd* p = polls) ready = Libc.poll(p, (nuint)n, timeout);
                if (ready < 0)
                {
                    if (Marshal.GetLastPInvokeError() == 4) continue;
                    throw new LinuxException("poll", Marshal.GetLastPInvokeError());
                }
                if (ready == 0 && onIdle is not null && code is null)
                {
                    onIdle();
                    onIdle = null;
                }
                for (int k = 0; k < n; k++)
                {
                    if (polls[k].Revents == 0) continue;
                    if (polls[k].Fd == pidFd && code is null)
                    {
                        code = reap();
                        deadline = Stopwatch.GetTimestamp() + (long)(drain.TotalSeconds * Stopwatch.Frequency);
                        continue;
                    }
                    int i = Array.IndexOf(open, polls[k].Fd);
                    if (i < 0) continue;
                    int count;
                    try { count = Libc.ReadSome(open[i], buffer.AsSpan(HeaderRoom)); }
                    catch (LinuxException) { count = 0; } // EIO on a pty master: the terminal's other side is gone
                    if (count > 0)
                    {
                        onData(i, buffer, count);
                    }
                    else
                    {
                        Libc.close(open[i]);
                        open[i] = -1;
                    }
                }
            }
            return code ?? reap();
        }
        finally
        {
            foreach (var fd in open)
                if (fd >= 0) Libc.close(fd);
            if (pidFd >= 0) Libc.close(pidFd);
        }
    }
}
