using System.Runtime.InteropServices;

namespace Skiff.Linux;

public static unsafe partial class Libc
{
    private const int SYS_bpf = 321, BPF_PROG_LOAD = 5, BPF_PROG_ATTACH = 8;
    public const uint BPF_PROG_TYPE_CGROUP_DEVICE = 15, BPF_CGROUP_DEVICE = 6, BPF_F_ALLOW_MULTI = 2;

    /// <summary>Loads an eBPF program (8-byte instructions); returns its fd. The verifier log is in the exception on failure.</summary>
    public static int BpfProgLoad(uint progType, ReadOnlySpan<ulong> instructions, string license)
    {
        byte[] lic = Utf8Z(license);
        byte[] log = new byte[4096];
        byte* attr = stackalloc byte[128];
        new Span<byte>(attr, 128).Clear();
        fixed (ulong* insns = instructions)
        fixed (byte* l = lic)
        fixed (byte* lg = log)
        {
            *(uint*)(attr + 0) = progType;
            *(uint*)(attr + 4) = (uint)instructions.Length;
            *(ulong*)(attr + 8) = (ulong)insns;
            *(ulong*)(attr + 16) = (ulong)l;
            *(uint*)(attr + 24) = 1;            // log_level
            *(uint*)(attr + 28) = (uint)log.Length;
            *(ulong*)(attr + 32) = (ulong)lg;
            long fd = syscall(SYS_bpf, BPF_PROG_LOAD, (long)attr, 128, 0, 0, 0);
            if (fd < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                string verifier = System.Text.Encoding.UTF8.GetString(log).TrimEnd('\0').Trim();
                throw new LinuxException("bpf(BPF_PROG_LOAD)", errno, verifier.Length > 0 ? verifier : null);
            }
            return (int)fd;
        }
    }

    /// <summary>Attaches <paramref name="progFd"/> to the cgroup directory <paramref name="targetFd"/>.</summary>
    public static void BpfProgAttach(int targetFd, int progFd, uint attachType, uint flags)
    {
        byte* attr = stackalloc byte[128];
        new Span<byte>(attr, 128).Clear();
        *(uint*)(attr + 0) = (uint)targetFd;
        *(uint*)(attr + 4) = (uint)progFd;
        *(uint*)(attr + 8) = attachType;
        *(uint*)(attr + 12) = flags;
        LinuxException.ThrowIfError(syscall(SYS_bpf, BPF_PROG_ATTACH, (long)attr, 128, 0, 0, 0), "bpf(BPF_PROG_ATTACH)");
    }
}
