using System.Runtime.InteropServices;

namespace Skiff.Linux;

/// <summary>
/// Raw syscalls for the child of a fork-style <c>clone(2)</c> made from managed code (the only way a
/// .NET process, multithreaded from Main, can put a child into a new user namespace). They are bound
/// with <see cref="SuppressGCTransitionAttribute"/>: the child is a copy of one thread of the runtime
/// without the others, so it must never enter the runtime (a GC transition could wait for a GC that
/// no thread of the child will ever run). Callers keep the window free of GCs with a no-GC region.
/// </summary>
public static unsafe partial class Libc
{
    public const long SYS_read = 0, SYS_close = 3, SYS_rt_sigprocmask = 14, SYS_dup2 = 33, SYS_clone = 56, SYS_execve = 59, SYS_exit_group = 231, SYS_setns = 308,
        SYS_setgroups = 116, SYS_setresuid = 117, SYS_setresgid = 119, SYS_unshare = 272;
    /// <summary>clone(2): the child's parent is the caller's parent.</summary>
    public const long CLONE_PARENT = 0x8000;

    public const long SYS_open = 2, SYS_write = 1, SYS_stat = 4, SYS_ioctl = 16, SYS_access = 21, SYS_rt_sigaction = 13, SYS_fcntl = 72,
        SYS_chdir = 80, SYS_umask = 95, SYS_setsid = 112, SYS_capset = 126, SYS_prctl = 157, SYS_mount = 165, SYS_dup3 = 292,
        SYS_prlimit64 = 302, SYS_close_range = 436, SYS_gettid = 186;

    public const int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, MAP_ANONYMOUS = 0x20;

    /// <summary>Memory shared with a fork-style clone child (MAP_SHARED | MAP_ANONYMOUS survives the clone as one mapping).</summary>
    [LibraryImport(Lib, EntryPoint = "mmap", SetLastError = true)]
    public static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport(Lib, EntryPoint = "munmap", SetLastError = true)]
    public static partial int munmap(void* addr, nuint length);

    /// <summary>The calling thread's errno cell; a clone child made from this thread reads its own copy at the same address.</summary>
    [LibraryImport(Lib, EntryPoint = "__errno_location")]
    [SuppressGCTransition]
    public static partial int* ErrnoLocation();

    /// <summary>glibc's <c>syscall(2)</c> without errno handling: returns -1 on failure.</summary>
    [LibraryImport(Lib, EntryPoint = "syscall")]
    [SuppressGCTransition]
    public static partial long RawSyscall(long number, long a1, long a2, long a3, long a4, long a5);
}
