using System.Runtime.InteropServices;

namespace Skiff.Linux;

public static unsafe partial class Libc
{
    public const int WNOHANG = 1;
    public const short POSIX_SPAWN_SETPGROUP = 0x02, POSIX_SPAWN_SETSIGDEF = 0x04, POSIX_SPAWN_SETSIGMASK = 0x08, POSIX_SPAWN_SETSID = 0x80;

    /// <summary>Sizes generous enough for glibc's opaque posix_spawn types on x86_64 (80 and 336 bytes).</summary>
    public const int PosixSpawnFileActionsSize = 256, PosixSpawnAttrSize = 512, SigSetSize = 128;

    [LibraryImport(Lib, EntryPoint = "posix_spawn", SetLastError = true)]
    public static partial int posix_spawn(int* pid, byte* path, void* fileActions, void* attr, byte** argv, byte** envp);

    [LibraryImport(Lib, EntryPoint = "posix_spawn_file_actions_init")]
    public static partial int posix_spawn_file_actions_init(void* fa);

    [LibraryImport(Lib, EntryPoint = "posix_spawn_file_actions_destroy")]
    public static partial int posix_spawn_file_actions_destroy(void* fa);

    [LibraryImport(Lib, EntryPoint = "posix_spawn_file_actions_adddup2")]
    public static partial int posix_spawn_file_actions_adddup2(void* fa, int fd, int newfd);

    [LibraryImport(Lib, EntryPoint = "posix_spawn_file_actions_addclose")]
    public static partial int posix_spawn_file_actions_addclose(void* fa, int fd);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_init")]
    public static partial int posix_spawnattr_init(void* attr);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_destroy")]
    public static partial int posix_spawnattr_destroy(void* attr);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_setflags")]
    public static partial int posix_spawnattr_setflags(void* attr, short flags);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_setsigdefault")]
    public static partial int posix_spawnattr_setsigdefault(void* attr, void* sigset);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_setpgroup")]
    public static partial int posix_spawnattr_setpgroup(void* attr, int pgroup);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_setsigmask")]
    public static partial int posix_spawnattr_setsigmask(void* attr, void* sigset);

    public const int M_ARENA_MAX = -8;

    /// <summary>glibc malloc tuning (<c>M_ARENA_MAX</c>...); returns 1 on success.</summary>
    [LibraryImport(Lib, EntryPoint = "mallopt")]
    public static partial int mallopt(int param, int value);

    /// <summary>A file descriptor that polls readable once the process <paramref name="pid"/> has exited (glibc 2.36, Linux 5.3).</summary>
    [LibraryImport(Lib, EntryPoint = "pidfd_open", SetLastError = true)]
    public static partial int pidfd_open(int pid, uint flags);

    [LibraryImport(Lib, EntryPoint = "waitpid", SetLastError = true)]
    public static partial int waitpid(int pid, int* status, int options);

    [LibraryImport(Lib, EntryPoint = "execve", SetLastError = true)]
    public static partial int execve(byte* path, byte** argv, byte** envp);

    [LibraryImport(Lib, EntryPoint = "_exit")]
    public static partial void _exit(int status);

    [LibraryImport(Lib, EntryPoint = "getpid")]
    public static partial int getpid();

    [LibraryImport(Lib, EntryPoint = "setsid", SetLastError = true)]
    public static partial int setsid();

    [LibraryImport(Lib, EntryPoint = "setresuid", SetLastError = true)]
    public static partial int setresuid(uint r, uint e, uint s);

    [LibraryImport(Lib, EntryPoint = "setresgid", SetLastError = true)]
    public static partial int setresgid(uint r, uint e, uint s);

    [LibraryImport(Lib, EntryPoint = "setgroups", SetLastError = true)]
    public static partial int setgroups(nuint size, uint* list);

    [LibraryImport(Lib, EntryPoint = "getrlimit", SetLastError = true)]
    public static partial int getrlimit(int resource, ulong* rlim);

    [LibraryImport(Lib, EntryPoint = "setrlimit", SetLastError = true)]
    public static partial int setrlimit(int resource, ulong* rlim);

    [LibraryImport(Lib, EntryPoint = "prctl", SetLastError = true)]
    public static partial int prctl(int option, ulong a2, ulong a3, ulong a4, ulong a5);

    public const int PR_SET_PDEATHSIG = 1, PR_SET_NAME = 15, PR_SET_KEEPCAPS = 8, PR_SET_SECCOMP = 22, PR_CAPBSET_READ = 23,
        PR_CAPBSET_DROP = 24, PR_SET_NO_NEW_PRIVS = 38, PR_SET_CHILD_SUBREAPER = 36, PR_CAP_AMBIENT = 47,
        PR_CAP_AMBIENT_RAISE = 2, PR_CAP_AMBIENT_CLEAR_ALL = 4;

    /// <summary>Decodes a waitpid status the way shells do: the exit code, or 128 + signal.</summary>
    public static int ExitCodeFromWaitStatus(int status)
    {
        int sig = status & 0x7f;
        return sig == 0 ? (status >> 8) & 0xff : 128 + sig;
    }

    /// <summary>A NULL-terminated array of NUL-terminated strings in unmanaged memory, for execve/posix_spawn.</summary>
    public sealed class NativeStringArray : IDisposable
    {
        public byte** Pointer { get; private set; }
        private readonly int _count;

        public NativeStringArray(IReadOnlyList<string> items)
        {
            _count = items.Count;
            Pointer = (byte**)NativeMemory.AllocZeroed((nuint)(items.Count + 1), (nuint)sizeof(nint));
            for (int i = 0; i < items.Count; i++)
            {
                byte[] z = Utf8Z(items[i]);
                byte* p = (byte*)NativeMemory.Alloc((nuint)z.Length);
                z.AsSpan().CopyTo(new Span<byte>(p, z.Length));
                Pointer[i] = p;
            }
        }

        public void Dispose()
        {
            if (Pointer == null) return;
            for (int i = 0; i < _count; i++) NativeMemory.Free(Pointer[i]);
            NativeMemory.Free(Pointer);
            Pointer = null;
        }
    }
}
