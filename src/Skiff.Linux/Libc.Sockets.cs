using System.Runtime.InteropServices;

namespace Skiff.Linux;

public static unsafe partial class Libc
{
    public const int AF_UNIX = 1, AF_INET = 2, SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1, SCM_RIGHTS = 1, MSG_CMSG_CLOEXEC = 0x40000000;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec { public void* Base; public nuint Len; }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name; public uint NameLen; public IoVec* Iov; public nuint IovLen;
        public void* Control; public nuint ControlLen; public int Flags;
    }

    [LibraryImport(Lib, EntryPoint = "socketpair", SetLastError = true)]
    public static partial int socketpair(int domain, int type, int protocol, int* sv);

    [LibraryImport(Lib, EntryPoint = "socket", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Lib, EntryPoint = "connect", SetLastError = true)]
    public static partial int connect(int fd, void* addr, uint len);

    [LibraryImport(Lib, EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint sendmsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport(Lib, EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint recvmsg(int fd, MsgHdr* msg, int flags);

    /// <summary>Connects a new CLOEXEC stream socket to the unix socket at <paramref name="path"/>.</summary>
    public static int ConnectUnix(string path)
    {
        int fd = LinuxException.ThrowIfError(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
        byte* addr = stackalloc byte[110];
        new Span<byte>(addr, 110).Clear();
        *(ushort*)addr = AF_UNIX;
        byte[] p = System.Text.Encoding.UTF8.GetBytes(path);
        if (p.Length > 107) { close(fd); throw new ArgumentException($"socket path too long: {path}"); }
        p.CopyTo(new Span<byte>(addr + 2, 108));
        if (connect(fd, addr, (uint)(2 + p.Length + 1)) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            close(fd);
            throw new LinuxException("connect", errno, path);
        }
        return fd;
    }

    /// <summary>Sends <paramref name="data"/> (at least one byte) with <paramref name="fdToSend"/> attached as SCM_RIGHTS.</summary>
    public static void SendFd(int socketFd, ReadOnlySpan<byte> data, int fdToSend)
    {
        if (data.IsEmpty) throw new ArgumentException("SCM_RIGHTS needs at least one byte of payload", nameof(data));
        byte* control = stackalloc byte[24];
        new Span<byte>(control, 24).Clear();
        *(ulong*)control = 20;                 // cmsg_len = CMSG_LEN(sizeof(int))
        *(int*)(control + 8) = SOL_SOCKET;
        *(int*)(control + 12) = SCM_RIGHTS;
        *(int*)(control + 16) = fdToSend;
        fixed (byte* d = data)
        {
            IoVec iov = new() { Base = d, Len = (nuint)data.Length };
            MsgHdr msg = new() { Iov = &iov, IovLen = 1, Control = control, ControlLen = 24 };
            while (true)
            {
                nint n = sendmsg(socketFd, &msg, 0);
                if (n >= 0) return;
                int errno = Marshal.GetLastPInvokeError();
                if (errno != 4) throw new LinuxException("sendmsg", errno);
            }
        }
    }

    /// <summary>
    /// Receives into <paramref name="buffer"/>; a file descriptor passed with SCM_RIGHTS is returned in
    /// <paramref name="receivedFd"/> (CLOEXEC), otherwise -1. Returns the byte count, 0 at end of stream.
    /// </summary>
    public static int RecvWithFd(int socketFd, Span<byte> buffer, out int receivedFd)
    {
        receivedFd = -1;
        byte* control = stackalloc byte[64];
        fixed (byte* b = buffer)
        {
            IoVec iov = new() { Base = b, Len = (nuint)buffer.Length };
            MsgHdr msg = new() { Iov = &iov, IovLen = 1, Control = control, ControlLen = 64 };
            nint n;
            while (true)
            {
                n = recvmsg(socketFd, &msg, MSG_CMSG_CLOEXEC);
                if (n >= 0) break;
                int errno = Marshal.GetLastPInvokeError();
                if (errno != 4) throw new LinuxException("recvmsg", errno);
            }
            byte* c = control;
            byte* end = control + msg.ControlLen;
            while (c + 16 <= end)
            {
                ulong len = *(ulong*)c;
                if (len < 16) break;
                if (*(int*)(c + 8) == SOL_SOCKET && *(int*)(c + 12) == SCM_RIGHTS && len >= 20)
                {
                    int count = (int)((len - 16) / 4);
                    for (int i = 0; i < count; i++)
                    {
                        int fd = *(int*)(c + 16 + 4 * i);
                        if (receivedFd < 0) receivedFd = fd; else close(fd);
                    }
                }
                c += (len + 7) & ~7UL;
            }
            return (int)n;
        }
    }
}
