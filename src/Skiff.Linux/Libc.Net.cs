using System.Runtime.InteropServices;

namespace Skiff.Linux;

public static unsafe partial class Libc
{
    private const ulong SIOCGIFFLAGS = 0x8913, SIOCSIFFLAGS = 0x8914;
    private const short IFF_UP = 0x1;

    /// <summary>Sets IFF_UP on the interface <paramref name="name"/> of the calling thread's network namespace.</summary>
    public static void SetInterfaceUp(string name)
    {
        int fd = LinuxException.ThrowIfError(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "socket");
        try
        {
            byte* ifr = stackalloc byte[40];
            new Span<byte>(ifr, 40).Clear();
            System.Text.Encoding.ASCII.GetBytes(name, new Span<byte>(ifr, 15));
            LinuxException.ThrowIfError(ioctl(fd, SIOCGIFFLAGS, ifr), "ioctl(SIOCGIFFLAGS)", name);
            *(short*)(ifr + 16) |= IFF_UP;
            LinuxException.ThrowIfError(ioctl(fd, SIOCSIFFLAGS, ifr), "ioctl(SIOCSIFFLAGS)", name);
        }
        finally { close(fd); }
    }
}
