using System.Runtime.InteropServices;

namespace Skiff.Linux;

public static unsafe partial class Libc
{
    public const int AF_NETLINK = 16, SOCK_RAW = 3, NETLINK_ROUTE = 0, MSG_TRUNC = 0x20;

    [LibraryImport(Lib, EntryPoint = "bind", SetLastError = true)]
    public static partial int bind(int fd, void* addr, uint len);

    [LibraryImport(Lib, EntryPoint = "send", SetLastError = true)]
    public static partial nint send(int fd, byte* buf, nuint len, int flags);

    [LibraryImport(Lib, EntryPoint = "recv", SetLastError = true)]
    public static partial nint recv(int fd, byte* buf, nuint len, int flags);

    [LibraryImport(Lib, EntryPoint = "if_nametoindex", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint if_nametoindex(string name);

    /// <summary>
    /// Opens a NETLINK_ROUTE socket bound to a kernel-chosen port. The socket belongs to the network
    /// namespace of the calling thread at this moment, whichever thread uses it afterwards.
    /// </summary>
    public static int OpenRtnetlink()
    {
        int fd = LinuxException.ThrowIfError(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), "socket", "AF_NETLINK");
        byte* sa = stackalloc byte[12];
        new Span<byte>(sa, 12).Clear();
        *(ushort*)sa = AF_NETLINK;
        if (bind(fd, sa, 12) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            close(fd);
            throw new LinuxException("bind", errno, "AF_NETLINK");
        }
        return fd;
    }

    /// <summary>Sends one whole datagram (retrying on EINTR).</summary>
    public static void SendAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            while (true)
            {
                nint n = send(fd, p, (nuint)data.Length, 0);
                if (n >= 0) return;
                int errno = Marshal.GetLastPInvokeError();
                if (errno != 4) throw new LinuxException("send", errno);
            }
        }
    }

    /// <summary>Receives one datagram into <paramref name="buffer"/> (retrying on EINTR); returns its length.</summary>
    public static int Receive(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = recv(fd, p, (nuint)buffer.Length, 0);
                if (n >= 0) return (int)n;
                int errno = Marshal.GetLastPInvokeError();
                if (errno != 4) throw new LinuxException("recv", errno);
            }
        }
    }
}
