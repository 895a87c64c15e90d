using System.Runtime.InteropServices;

namespace Skiff.Linux;

/// <summary>
/// A failed system call: carries the errno and the name of the call so that callers can classify
/// failures (ENOENT, EEXIST, EPERM...) without parsing messages.
/// </summary>
public sealed class LinuxException : Exception
{
    public LinuxException(string operation, int errno, string? detail = null)
        : base($"{operation}{(detail is null ? "" : " " + detail)}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
    {
        Operation = operation;
        Errno = errno;
    }

    public string Operation { get; }
    public int Errno { get; }

    /// <summary>Throws for the last P/Invoke error when <paramref name="result"/> is negative.</summary>
    public static int ThrowIfError(int result, string operation, string? detail = null)
    {
        if (result < 0) throw new LinuxException(operation, Marshal.GetLastPInvokeError(), detail);
        return result;
    }

    /// <summary>Throws for the last P/Invoke error when <paramref name="result"/> is negative.</summary>
    public static long ThrowIfError(long result, string operation, string? detail = null)
    {
        if (result < 0) throw new LinuxException(operation, Marshal.GetLastPInvokeError(), detail);
        return result;
    }
}
