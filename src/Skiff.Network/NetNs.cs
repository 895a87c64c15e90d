using Skiff.Linux;

namespace Skiff.Network;

/// <summary>
/// Network namespaces pinned by a bind mount on a file (like <c>ip netns add</c>), so they outlive
/// the processes in them and the daemon itself. Namespaces belong to threads: every operation runs
/// on a short-lived thread of its own, and what it opens there (netlink and DNS sockets) stays in
/// that namespace for good.
/// </summary>
public static class NetNs
{
    /// <summary>
    /// Creates a namespace pinned at <paramref name="path"/> with lo up, then runs <paramref name="inside"/>
    /// in it. On failure nothing is left behind.
    /// </summary>
    public static T Create<T>(string path, Func<T> inside)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (File.Create(path)) { }
        try
        {
            return OnThread(() =>
            {
                LinuxException.ThrowIfError(Libc.unshare(Libc.CLONE_NEWNET), "unshare", "CLONE_NEWNET");
                LinuxException.ThrowIfError(Libc.mount("/proc/thread-self/ns/net", path, null, Libc.MS_BIND, null), "mount", path);
                Libc.SetInterfaceUp("lo");
                return inside();
            });
        }
        catch
        {
            Delete(path);
            throw;
        }
    }

    /// <summary>Runs <paramref name="inside"/> in the namespace pinned at (or referred to by) <paramref name="path"/>.</summary>
    public static T Enter<T>(string path, Func<T> inside)
    {
        int fd = LinuxException.ThrowIfError(Libc.open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open", path);
        try
        {
            return OnThread(() =>
            {
                LinuxException.ThrowIfError(Libc.setns(fd, Libc.CLONE_NEWNET), "setns", path);
                return inside();
            });
        }
        finally
        {
            Libc.close(fd);
        }
    }

    /// <summary>Unpins and removes a namespace file; the kernel frees the namespace (and its links) once unused.</summary>
    public static void Delete(string path)
    {
        Libc.umount2(path, Libc.MNT_DETACH);
        try { File.Delete(path); } catch (IOException) { }
    }

    /// <summary>Opens the namespace file (for IFLA_NET_NS_FD); the caller closes it.</summary>
    public static int Open(string path) => LinuxException.ThrowIfError(Libc.open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open", path);

    private static T OnThread<T>(Func<T> work)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try { result = work(); }
            catch (Exception e) { failure = e; }
        }, 256 * 1024);
        thread.Start();
        thread.Join();
        if (failure is not null) throw failure;
        return result;
    }
}
