using System.Runtime.InteropServices;

namespace Skiff.Linux;

public static unsafe partial class Libc
{
    public const uint _LINUX_CAPABILITY_VERSION_3 = 0x20080522;

    [StructLayout(LayoutKind.Sequential)]
    public struct CapHeader { public uint Version; public int Pid; }

    [StructLayout(LayoutKind.Sequential)]
    public struct CapData { public uint Effective; public uint Permitted; public uint Inheritable; }

    /// <summary>capset(2) for the calling thread with 64-bit sets (version 3 ABI: two 32-bit halves).</summary>
    public static int capset(ulong effective, ulong permitted, ulong inheritable)
    {
        CapHeader h = new() { Version = _LINUX_CAPABILITY_VERSION_3, Pid = 0 };
        CapData* d = stackalloc CapData[2];
        d[0] = new CapData { Effective = (uint)effective, Permitted = (uint)permitted, Inheritable = (uint)inheritable };
        d[1] = new CapData { Effective = (uint)(effective >> 32), Permitted = (uint)(permitted >> 32), Inheritable = (uint)(inheritable >> 32) };
        return (int)syscall(126, (long)&h, (long)d, 0, 0, 0, 0);
    }

    /// <summary>The highest capability number the running kernel knows (from /proc/sys/kernel/cap_last_cap).</summary>
    public static int CapLastCap()
    {
        try { return int.Parse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim()); }
        catch (IOException) { return 40; }
    }
}
