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
        SYS_setgroups = 116, SYS_setresuid = 117, SYS_setresgid = 119, SYS_write = 1, SYS_unshare = 272;
    /// <summary>clone(2): the child's parent is the caller's parent.</summary>
    public const long CLONE_PARENT = 0x8000;

    /// <summary>glibc's <c>syscall(2)</c> without errno handling: returns -1 on failure.</summary>
    [LibraryImport(Lib, EntryPoint = "syscall")]
    [SuppressGCTransition]
    public static partial long RawSyscall(long number, long a1, long a2, long a3, long a4, long a5);
}
