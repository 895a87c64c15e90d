using System.Runtime.InteropServices;

namespace Skiff.Linux;

public static unsafe partial class Libc
{
    public const int SIGKILL = 9, SIGTERM = 15, SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19;
    public const int SIG_SETMASK = 2;

    [LibraryImport(Lib, EntryPoint = "kill", SetLastError = true)]
    public static partial int kill(int pid, int sig);

    [LibraryImport(Lib, EntryPoint = "signal", SetLastError = true)]
    public static partial nint signal(int sig, nint handler);

    /// <summary>Waits for one of the blocked signals in <paramref name="set"/>; returns its number. <paramref name="info"/>: 128 bytes or null.</summary>
    [LibraryImport(Lib, EntryPoint = "sigwaitinfo", SetLastError = true)]
    public static partial int sigwaitinfo(void* set, void* info);

    [LibraryImport(Lib, EntryPoint = "pthread_sigmask")]
    public static partial int pthread_sigmask(int how, void* set, void* oldset);

    /// <summary>
    /// Puts signals 1-31 back to SIG_DFL and unblocks everything on the calling thread. The .NET runtime
    /// ignores SIGPIPE and installs handlers; dispositions that are ignored survive execve, so a
    /// container process would otherwise inherit them.
    /// </summary>
    public static void ResetSignalsForExec()
    {
        for (int sig = 1; sig < 32; sig++)
        {
            if (sig == SIGKILL || sig == SIGSTOP) continue;
            signal(sig, 0);
        }
        byte* empty = stackalloc byte[SigSetSize];
        new Span<byte>(empty, SigSetSize).Clear();
        pthread_sigmask(SIG_SETMASK, empty, null);
    }

    /// <summary>Parses a signal given as a number, "KILL" or "SIGKILL".</summary>
    public static int ParseSignal(string text)
    {
        if (int.TryParse(text, out int n)) return n;
        string name = text.ToUpperInvariant();
        if (name.StartsWith("SIG", StringComparison.Ordinal)) name = name[3..];
        int idx = Array.IndexOf(SignalNames, name);
        if (idx > 0) return idx;
        throw new ArgumentException($"invalid signal: {text}");
    }

    private static readonly string[] SignalNames =
    [
        "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE",
        "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ",
        "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
}
