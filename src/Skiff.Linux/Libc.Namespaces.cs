using System.Runtime.InteropServices;

namespace Skiff.Linux;

public static unsafe partial class Libc
{
    public const int CLONE_FS = 0x200, CLONE_NEWNS = 0x20000, CLONE_NEWCGROUP = 0x02000000, CLONE_NEWUTS = 0x04000000,
        CLONE_NEWIPC = 0x08000000, CLONE_NEWUSER = 0x10000000, CLONE_NEWPID = 0x20000000, CLONE_NEWNET = 0x40000000;

    /// <summary>unshare(2): namespaces are per thread, so callers use a dedicated thread (see FACTS).</summary>
    [LibraryImport(Lib, EntryPoint = "unshare", SetLastError = true)]
    public static partial int unshare(int flags);

    [LibraryImport(Lib, EntryPoint = "setns", SetLastError = true)]
    public static partial int setns(int fd, int nstype);

    [LibraryImport(Lib, EntryPoint = "sethostname", SetLastError = true)]
    public static partial int sethostname(byte* name, nuint len);

    [LibraryImport(Lib, EntryPoint = "setdomainname", SetLastError = true)]
    public static partial int setdomainname(byte* name, nuint len);
}
