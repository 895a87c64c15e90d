using System.Runtime.InteropServices;
using Skiff.Linux;

namespace Skiff.Runtime.Init;

/// <summary>
/// <c>docker run --init</c> built in: instead of execve, the container's init stays PID 1 and
/// posix_spawns the container's command, then forwards the signals it receives to that child, reaps
/// every process that is reparented to it, and exits with the child's status (128+N when a signal
/// killed it), as tini (Docker's <c>/sbin/docker-init</c>) does.
/// <para>The init runs on the host's binary and libraries, which it mapped before pivot_root, so nothing
/// is bind-mounted into the container and a static image (busybox) needs no libc for it. The spawner starts
/// the init with <see cref="FillForwarded"/> blocked, so every thread the .NET runtime creates inherits
/// the mask: the signals stay pending until <c>sigwaitinfo</c> takes them. That matters for PID 1 of a pid
/// namespace: the kernel drops signals it has no handler for, but never drops blocked ones.</para>
/// <para>The reaper thread carries the container's identity, capabilities and seccomp filter (the child
/// inherits them from it); the runtime's other threads run no code of the container's.</para>
/// </summary>
internal static unsafe class Reaper
{
    /// <summary>argv[0] of the init in this mode, as Docker's: <c>ps</c> in the container shows <c>/sbin/docker-init -- CMD</c>.</summary>
    public const string Argv0 = "/sbin/docker-init";

    /// <summary>Signals a reaper forwards: all of 1-31 but the uncatchable and the synchronous/terminal ones tini also keeps.</summary>
    private static bool Forwarded(int sig) => sig is not (4 or 5 or 6 or 7 or 8 or 9 or 11 or 19 or 21 or 22 or 31);

    /// <summary>Fills a sigset (at least 8 bytes) with the forwarded signals and SIGCHLD.</summary>
    public static void FillForwarded(byte* set)
    {
        ulong bits = 0;
        for (int sig = 1; sig < 32; sig++)
            if (Forwarded(sig)) bits |= 1UL << (sig - 1);
        *(ulong*)set = bits;
    }

    /// <summary>
    /// Spawns the command, tells the parent it started (fd <paramref name="syncFd"/> closes, as an execve
    /// would close it), and runs the reaping loop. Never returns on success; throws when the spawn failed.
    /// </summary>
    public static void Run(byte[] executableZ, byte** argv, byte** envp, int syncFd, bool terminal, string displayName)
    {
        // Before the spawn, so the command never sees the old name. The thread name is the process's comm, which ps shows next to argv.
        fixed (byte* name = "docker-init\0"u8) Libc.prctl(Libc.PR_SET_NAME, (ulong)name, 0, 0, 0);
        void* attr = NativeMemory.AllocZeroed(Libc.PosixSpawnAttrSize);
        byte* all = stackalloc byte[Libc.SigSetSize];
        byte* none = stackalloc byte[Libc.SigSetSize];
        new Span<byte>(all, Libc.SigSetSize).Fill(0xff);
        new Span<byte>(none, Libc.SigSetSize).Clear();
        Libc.posix_spawnattr_init(attr);
        Libc.posix_spawnattr_setsigdefault(attr, all);
        Libc.posix_spawnattr_setsigmask(attr, none);
        short flags = Libc.POSIX_SPAWN_SETSIGDEF | Libc.POSIX_SPAWN_SETSIGMASK;
        // With a terminal the child gets its own process group, made the terminal's foreground group
        // below, so ^C from the terminal reaches the command and not the reaper.
        if (terminal)
        {
            flags |= Libc.POSIX_SPAWN_SETPGROUP;
            Libc.posix_spawnattr_setpgroup(attr, 0);
        }
        Libc.posix_spawnattr_setflags(attr, flags);
        int child;
        int rc;
        fixed (byte* p = executableZ) rc = Libc.posix_spawn(&child, p, null, attr, argv, envp);
        Libc.posix_spawnattr_destroy(attr);
        NativeMemory.Free(attr);
        if (rc != 0)
        {
            string reason = rc switch
            {
                13 => "permission denied", 2 => "no such file or directory", 8 => "exec format error",
                _ => Marshal.GetPInvokeErrorMessage(rc).ToLowerInvariant(),
            };
            throw new ExecFailedException($"exec: \"{displayName}\": {reason}", rc == 13 ? 126 : rc == 2 ? 127 : 1);
        }
        // SIGTTOU is blocked, so a background process group may set the foreground one.
        if (terminal) Libc.ioctl(0, Libc.TIOCSPGRP, &child);
        Libc.close(syncFd);
        Libc._exit(Loop(child));
    }

    private static int Loop(int child)
    {
        byte* set = stackalloc byte[Libc.SigSetSize];
        new Span<byte>(set, Libc.SigSetSize).Clear();
        FillForwarded(set);
        int status;
        while (true)
        {
            int sig = Libc.sigwaitinfo(set, null);
            if (sig < 0) continue;
            if (sig != Libc.SIGCHLD)
            {
                Libc.kill(child, sig);
                continue;
            }
            int pid;
            while ((pid = Libc.waitpid(-1, &status, Libc.WNOHANG)) > 0)
                if (pid == child) return Libc.ExitCodeFromWaitStatus(status);
        }
    }
}

/// <summary>An exec failure with the exit status engines expect (127 not found, 126 not executable).</summary>
internal sealed class ExecFailedException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
