using System.IO.Pipes;
using System.Text;
using Skiff.Archive;
using Skiff.Linux;

namespace Skiff.Volumes;

/// <summary>
/// Docker's copy-up: the first time an empty volume is mounted over a directory of the container's
/// image, that directory's content (ownership, modes, xattrs, hard links, times) is copied into the
/// volume. The source is read from the container's layer directories as overlayfs would present them
/// (whiteouts and opaque directories honoured), without mounting anything. Symlinks on the way to the
/// target are resolved inside the root, never on the host; symlinks inside the copied tree are copied
/// as symlinks.
/// </summary>
public static class CopyUp
{
    private const int MaxSymlinks = 40;

    /// <summary>
    /// Copies the merged content of <paramref name="containerPath"/> in <paramref name="layersTopFirst"/>
    /// (e.g. the container's upper dir, then its image's layers) into <paramref name="destination"/>, and gives
    /// <paramref name="destination"/> the source directory's owner and mode. Returns false (and copies nothing)
    /// when the path does not exist or is not a directory.
    /// </summary>
    public static bool Copy(IReadOnlyList<string> layersTopFirst, string containerPath, string destination)
    {
        var sources = ResolveDirectory(layersTopFirst, containerPath);
        if (sources is null) return false;
        using var server = new AnonymousPipeServerStream(PipeDirection.Out);
        using var client = new AnonymousPipeClientStream(PipeDirection.In, server.ClientSafePipeHandle);
        Exception? writeError = null;
        var writer = Task.Run(() =>
        {
            try { OverlayTree.WriteMerged(sources, server); }
            catch (Exception e) { writeError = e; }
            finally { server.Dispose(); }
        });
        try
        {
            LayerExtractor.Extract(client, destination, new ExtractOptions { Whiteouts = WhiteoutMode.None });
        }
        finally
        {
            client.Dispose();
            writer.Wait();
        }
        if (writeError is not null) throw new IOException($"copying {containerPath} into the volume failed: {writeError.Message}", writeError);
        CopyOwnerAndMode(sources[0], destination);
        return true;
    }

    /// <summary>
    /// The layer directories (topmost first) that make up the merged directory at <paramref name="containerPath"/>,
    /// or null when it does not exist or is not a directory. The list stops at the first opaque directory.
    /// </summary>
    internal static List<string>? ResolveDirectory(IReadOnlyList<string> layersTopFirst, string containerPath)
    {
        var rootLayers = new List<string>();
        foreach (var layer in layersTopFirst)
        {
            if (!TryLstat(layer, out var st)) continue;
            if ((st.Mode & Libc.S_IFMT) != Libc.S_IFDIR) break;
            rootLayers.Add(layer);
            if (IsOpaque(layer)) break;
        }
        if (rootLayers.Count == 0) return null;

        // `stack` holds, per resolved component, the layer directories of that directory.
        var stack = new List<List<string>> { rootLayers };
        var pending = new LinkedList<string>(Split(containerPath));
        int links = 0;
        while (pending.First is { } node)
        {
            string part = node.Value;
            pending.RemoveFirst();
            if (part is "" or ".") continue;
            if (part == "..")
            {
                if (stack.Count > 1) stack.RemoveAt(stack.Count - 1);
                continue;
            }
            var current = stack[^1];
            List<string>? next = null;
            for (int i = 0; i < current.Count; i++)
            {
                string candidate = Path.Combine(current[i], part);
                if (!TryLstat(candidate, out var st)) continue;
                uint type = st.Mode & Libc.S_IFMT;
                if (IsWhiteout(st)) return null;
                if (type == Libc.S_IFLNK)
                {
                    if (++links > MaxSymlinks) return null;
                    string target = ReadLink(candidate);
                    if (target.StartsWith('/')) stack.RemoveRange(1, stack.Count - 1);
                    var parts = Split(target);
                    for (int k = parts.Count - 1; k >= 0; k--) pending.AddFirst(parts[k]);
                    next = null;
                    goto resolved;
                }
                if (type != Libc.S_IFDIR) return null;
                next = [candidate];
                if (IsOpaque(candidate)) break;
                for (int j = i + 1; j < current.Count; j++)
                {
                    string below = Path.Combine(current[j], part);
                    if (!TryLstat(below, out var bst)) continue;
                    if ((bst.Mode & Libc.S_IFMT) != Libc.S_IFDIR) break;
                    next.Add(below);
                    if (IsOpaque(below)) break;
                }
                break;
            }
            if (next is null) return null;
            stack.Add(next);
        resolved:;
        }
        return stack[^1];
    }

    private static List<string> Split(string path) => [.. path.Split('/', StringSplitOptions.RemoveEmptyEntries)];

    private static void CopyOwnerAndMode(string source, string destination)
    {
        if (!TryLstat(source, out var st)) return;
        LinuxException.ThrowIfError(Libc.fchownat(Libc.AT_FDCWD, destination, st.Uid, st.Gid, Libc.AT_SYMLINK_NOFOLLOW), "chown", destination);
        LinuxException.ThrowIfError(Libc.chmod(destination, st.Mode & 0xFFFu), "chmod", destination);
    }

    private static unsafe bool TryLstat(string path, out Libc.Statx st)
    {
        Libc.Statx s;
        if (Libc.statx(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, &s) < 0)
        {
            st = default;
            return false;
        }
        st = s;
        return true;
    }

    private static bool IsWhiteout(in Libc.Statx st) =>
        (st.Mode & Libc.S_IFMT) == Libc.S_IFCHR && st.RdevMajor == 0 && st.RdevMinor == 0;

    private static unsafe bool IsOpaque(string dir)
    {
        byte* buf = stackalloc byte[4];
        nint n = Libc.lgetxattr(dir, "trusted.overlay.opaque", buf, 4);
        return n == 1 && buf[0] == (byte)'y';
    }

    private static unsafe string ReadLink(string path)
    {
        var buf = new byte[4096];
        fixed (byte* p = buf)
        {
            nint n = Libc.readlinkat(Libc.AT_FDCWD, path, p, (nuint)buf.Length);
            if (n < 0) throw new LinuxException("readlink", System.Runtime.InteropServices.Marshal.GetLastPInvokeError(), path);
            return Encoding.UTF8.GetString(buf, 0, (int)n);
        }
    }
}
