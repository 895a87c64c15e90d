using Skiff.Linux;

namespace Skiff.Shim;

internal static class Pipes
{
    /// <summary>A close-on-exec pipe; the runtime makes the container's ends its stdio explicitly.</summary>
    public static unsafe (int Read, int Write) Create()
    {
        int* fds = stackalloc int[2];
        LinuxException.ThrowIfError(Libc.pipe2(fds, Libc.O_CLOEXEC), "pipe2");
        return (fds[0], fds[1]);
    }
}
