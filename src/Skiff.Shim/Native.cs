using System.Runtime.InteropServices;

namespace Skiff.Shim;

internal static partial class Native
{
    [LibraryImport("libc", SetLastError = true)]
    internal static partial int setsid();

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int prctl(int option, nint arg2, nint arg3, nint arg4, nint arg5);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int dup2(int oldfd, int newfd);

    [LibraryImport("libc", SetLastError = true)]
    internal static unsafe partial int pipe2(int* fds, int flags);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int close(int fd);

    internal const int PR_SET_CHILD_SUBREAPER = 36;
    internal const int O_CLOEXEC = 0x80000;

    internal static unsafe (int Read, int Write) Pipe()
    {
        int* fds = stackalloc int[2];
        if (pipe2(fds, O_CLOEXEC) < 0) throw new IOException($"pipe2: errno {Marshal.GetLastPInvokeError()}");
        return (fds[0], fds[1]);
    }
}
