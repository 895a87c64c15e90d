namespace Skiff.Linux;

/// <summary>
/// Raw libc entry points. One partial file per area (mounts, namespaces, files, processes...);
/// every import uses <c>LibraryImport</c> with <c>SetLastError = true</c> and returns the raw
/// result, leaving errno handling to <see cref="LinuxException.ThrowIfError(int,string,string?)"/>.
/// </summary>
public static unsafe partial class Libc
{
    internal const string Lib = "libc";
}
