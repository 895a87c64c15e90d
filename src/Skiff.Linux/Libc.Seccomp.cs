using System.Runtime.InteropServices;

namespace Skiff.Linux;

public static unsafe partial class Libc
{
    public const int SECCOMP_MODE_FILTER = 2;

    [StructLayout(LayoutKind.Sequential)]
    public struct SockFilter { public ushort Code; public byte Jt; public byte Jf; public uint K; }

    [StructLayout(LayoutKind.Sequential)]
    public struct SockFprog { public ushort Len; public SockFilter* Filter; }

    /// <summary>Installs a classic BPF seccomp filter on the calling thread (needs no_new_privs or CAP_SYS_ADMIN).</summary>
    public static int InstallSeccompFilter(ReadOnlySpan<SockFilter> program)
    {
        fixed (SockFilter* f = program)
        {
            SockFprog prog = new() { Len = (ushort)program.Length, Filter = f };
            return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, (ulong)&prog, 0, 0);
        }
    }
}
