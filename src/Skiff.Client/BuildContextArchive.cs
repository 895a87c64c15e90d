using System.Buffers;
using System.Net.Sockets;
using System.Text;
using Skiff.Build;

namespace Skiff.Client;

/// <summary>
/// The build context a client sends with <c>POST /build</c>, as the Docker CLI's classic build does: every entry of
/// the context directory not excluded by its <c>.dockerignore</c>, in sorted order, symlinks as links (never
/// followed), owned by 0:0 (as the Docker CLI sends it). The Dockerfile and the .dockerignore are always sent; a
/// Dockerfile outside the context is added under the name the request gives it. The daemon applies .dockerignore
/// again, with the same matcher. Devices, fifos and sockets (which .NET cannot tell from empty files without a
/// syscall this assembly does not make) are sent as empty regular files and never opened.
/// </summary>
/// <remarks>
/// The archive is planned first (every header is built and the exact length is known, so the request needs no chunked
/// encoding), then written: headers and small files are gathered into one large buffer, and big files go from the page
/// cache straight into the socket with <c>sendfile(2)</c> (<see cref="SendTo"/>). A file whose size changed between the
/// plan and the send fails the upload instead of producing a corrupt tar.
/// </remarks>
public sealed class BuildContextArchive
{
    private const int BatchSize = 1 << 20;
    /// <summary>Files at least this big are sent with sendfile instead of being copied into the batch buffer.</summary>
    private const long SendFileThreshold = 128 * 1024;

    private sealed record Entry(byte[] Header, string? File, long Size);

    private readonly List<Entry> _entries = [];

    /// <summary>The exact length of the tar in bytes (headers, contents, padding and the two zero end blocks).</summary>
    public long Length { get; private set; }

    private BuildContextArchive()
    {
    }

    /// <summary>Writes the context of <paramref name="dir"/> as an uncompressed tar to <paramref name="output"/>.</summary>
    public static void Write(string dir, string dockerfile, string? outsideDockerfile, Stream output) =>
        Plan(dir, dockerfile, outsideDockerfile).WriteTo(output);

    /// <summary>Walks <paramref name="dir"/> and builds every tar header (nothing of the file contents is read yet).</summary>
    public static BuildContextArchive Plan(string dir, string dockerfile, string? outsideDockerfile)
    {
        string ignorePath = Path.Combine(dir, ".dockerignore");
        var ignore = File.Exists(ignorePath) ? DockerIgnore.Parse(File.ReadAllText(ignorePath)) : new DockerIgnore([]);
        var plan = new BuildContextArchive();
        void Walk(string path, string rel)
        {
            var infos = new DirectoryInfo(path).GetFileSystemInfos();
            Array.Sort(infos, (a, b) => string.CompareOrdinal(a.Name, b.Name));
            foreach (var info in infos)
            {
                string r = rel.Length == 0 ? info.Name : rel + "/" + info.Name;
                bool keep = r == dockerfile || r == ".dockerignore";
                bool isDir = (info.Attributes & (FileAttributes.Directory | FileAttributes.ReparsePoint)) == FileAttributes.Directory;
                if (!keep && ignore.Excludes(r))
                {
                    // An excluded directory is still walked when a "!" pattern may re-include something in it.
                    if (isDir && ignore.HasExclusions) Walk(info.FullName, r);
                    continue;
                }
                plan.Add(info, r);
                if (isDir) Walk(info.FullName, r);
            }
        }
        Walk(dir, "");
        if (outsideDockerfile is not null) plan.Add(new FileInfo(outsideDockerfile), dockerfile);
        plan.Length += 1024;
        return plan;
    }

    private void Add(FileSystemInfo info, string name)
    {
        long mtime = new DateTimeOffset(info.LastWriteTimeUtc).ToUnixTimeSeconds();
        int mode = (int)info.UnixFileMode;
        // ReparsePoint is how .NET marks a symlink on Unix; reading the target of every file would cost a readlink each.
        if ((info.Attributes & FileAttributes.ReparsePoint) != 0 && info.LinkTarget is { } target)
        {
            AddEntry(TarHeaders.Build(name, '2', mode, 0, mtime, target), null, 0);
        }
        else if ((info.Attributes & FileAttributes.Directory) != 0)
        {
            AddEntry(TarHeaders.Build(name + "/", '5', mode, 0, mtime, ""), null, 0);
        }
        else if (info is FileInfo file)
        {
            AddEntry(TarHeaders.Build(name, '0', mode, file.Length, mtime, ""), file.FullName, file.Length);
        }
    }

    private void AddEntry(byte[] header, string? file, long size)
    {
        _entries.Add(new Entry(header, file, size));
        Length += header.Length + size + Padding(size);
    }

    private static int Padding(long size) => (int)((512 - size % 512) % 512);

    /// <summary>Writes the tar to <paramref name="output"/> (file contents are copied through a buffer).</summary>
    public void WriteTo(Stream output)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BatchSize);
        try
        {
            int used = 0;
            foreach (var e in _entries)
            {
                Append(output.Write, buffer, ref used, e.Header);
                if (e.File is not null)
                {
                    if (used > 0) { output.Write(buffer, 0, used); used = 0; }
                    CopyFile(e.File, e.Size, buffer, chunk => output.Write(chunk));
                    Append(output.Write, buffer, ref used, new byte[Padding(e.Size)]);
                }
            }
            Append(output.Write, buffer, ref used, new byte[1024]);
            if (used > 0) output.Write(buffer, 0, used);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Sends the tar on <paramref name="socket"/> (blocking): headers and small files in batches of up to 1 MiB,
    /// big files with sendfile.
    /// </summary>
    /// <exception cref="IOException">A file changed size or vanished while the context was being sent.</exception>
    public void SendTo(Socket socket)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BatchSize);
        try
        {
            int used = 0;
            void Send(byte[] b, int o, int n) => SendAll(socket, b.AsSpan(o, n));
            foreach (var e in _entries)
            {
                if (e.File is null)
                {
                    Append(Send, buffer, ref used, e.Header);
                    continue;
                }
                if (e.Size >= SendFileThreshold)
                {
                    // The header goes out with the batch in front of the file; the padding starts the next batch.
                    Append(Send, buffer, ref used, e.Header);
                    var info = new FileInfo(e.File);
                    if (!info.Exists || info.Length != e.Size) throw Changed(e.File);
                    socket.SendFile(e.File, buffer.AsSpan(0, used), ReadOnlySpan<byte>.Empty, TransmitFileOptions.UseDefaultWorkerThread);
                    used = 0;
                    if (new FileInfo(e.File).Length != e.Size) throw Changed(e.File);
                }
                else
                {
                    Append(Send, buffer, ref used, e.Header);
                    if (used + e.Size > buffer.Length) { Send(buffer, 0, used); used = 0; }
                    if (e.Size > buffer.Length)
                    {
                        CopyFile(e.File, e.Size, buffer, chunk => SendAll(socket, chunk));
                    }
                    else
                    {
                        ReadFile(e.File, buffer.AsSpan(used, (int)e.Size));
                        used += (int)e.Size;
                    }
                }
                Append(Send, buffer, ref used, new byte[Padding(e.Size)]);
            }
            Append(Send, buffer, ref used, new byte[1024]);
            if (used > 0) Send(buffer, 0, used);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void SendAll(Socket socket, ReadOnlySpan<byte> data)
    {
        while (data.Length > 0) data = data[socket.Send(data)..];
    }

    private static void Append(Action<byte[], int, int> flush, byte[] buffer, ref int used, byte[] data)
    {
        if (used + data.Length > buffer.Length) { flush(buffer, 0, used); used = 0; }
        data.CopyTo(buffer, used);
        used += data.Length;
    }

    private static void ReadFile(string path, Span<byte> into)
    {
        if (into.Length == 0) return;
        using var handle = File.OpenHandle(path);
        long offset = 0;
        while (offset < into.Length)
        {
            int n = RandomAccess.Read(handle, into[(int)offset..], offset);
            if (n == 0) throw Changed(path);
            offset += n;
        }
    }

    private static void CopyFile(string path, long size, byte[] buffer, Action<ReadOnlySpan<byte>> write)
    {
        if (size == 0) return;
        using var handle = File.OpenHandle(path);
        long offset = 0;
        while (offset < size)
        {
            int n = RandomAccess.Read(handle, buffer.AsSpan(0, (int)Math.Min(buffer.Length, size - offset)), offset);
            if (n == 0) throw Changed(path);
            write(buffer.AsSpan(0, n));
            offset += n;
        }
    }

    private static IOException Changed(string path) => new($"{path}: the file changed while the build context was being sent");
}

/// <summary>ustar headers, with a PAX extended header in front when a name, link target or size does not fit.</summary>
internal static class TarHeaders
{
    public static byte[] Build(string name, char type, int mode, long size, long mtime, string linkName)
    {
        var pax = new StringBuilder();
        string ustarName = name, prefix = "";
        if (!FitsUstar(name, out ustarName, out prefix)) { AddPax(pax, "path", name); ustarName = Ascii(name, 100); prefix = ""; }
        if (Encoding.UTF8.GetByteCount(linkName) > 100 || !IsAscii(linkName)) { AddPax(pax, "linkpath", linkName); linkName = Ascii(linkName, 100); }
        if (size > 0x1FFFFFFFF) { AddPax(pax, "size", size.ToString(System.Globalization.CultureInfo.InvariantCulture)); }
        var block = Header(ustarName, prefix, type, mode, size > 0x1FFFFFFFF ? 0 : size, mtime, linkName);
        if (pax.Length == 0) return block;
        byte[] records = Encoding.UTF8.GetBytes(pax.ToString());
        var paxHeader = Header(Ascii("PaxHeaders.0/" + ustarName, 100), "", 'x', 0x1A4, records.Length, mtime, "");
        int padded = (records.Length + 511) / 512 * 512;
        var result = new byte[512 + padded + 512];
        paxHeader.CopyTo(result, 0);
        records.CopyTo(result, 512);
        block.CopyTo(result, 512 + padded);
        return result;
    }

    private static bool IsAscii(string s)
    {
        foreach (char c in s) if (c == 0 || c > 127) return false;
        return true;
    }

    private static string Ascii(string s, int max)
    {
        var sb = new StringBuilder();
        foreach (char c in s) { if (sb.Length == max) break; sb.Append(c is > (char)0 and < (char)128 ? c : '_'); }
        return sb.ToString();
    }

    private static bool FitsUstar(string name, out string ustarName, out string prefix)
    {
        ustarName = name;
        prefix = "";
        if (!IsAscii(name)) return false;
        if (name.Length <= 100) return true;
        // Split at a slash so that the prefix fits 155 bytes and the rest 100.
        for (int i = name.Length - 1; i > 0; i--)
        {
            if (name[i] != '/') continue;
            if (i > 155) continue;
            if (name.Length - i - 1 > 100 || name.Length - i - 1 == 0) return false;
            prefix = name[..i];
            ustarName = name[(i + 1)..];
            return true;
        }
        return false;
    }

    private static void AddPax(StringBuilder sb, string key, string value)
    {
        // "<len> <key>=<value>\n", where len counts itself.
        int rest = Encoding.UTF8.GetByteCount(key) + Encoding.UTF8.GetByteCount(value) + 3;
        int len = rest + 1;
        while (len.ToString(System.Globalization.CultureInfo.InvariantCulture).Length + rest != len) len++;
        sb.Append(len).Append(' ').Append(key).Append('=').Append(value).Append('\n');
    }

    private static byte[] Header(string name, string prefix, char type, int mode, long size, long mtime, string linkName)
    {
        var h = new byte[512];
        Encoding.ASCII.GetBytes(name, h.AsSpan(0, 100));
        Octal(h.AsSpan(100, 8), mode & 0xFFF);
        Octal(h.AsSpan(108, 8), 0);
        Octal(h.AsSpan(116, 8), 0);
        Octal(h.AsSpan(124, 12), size);
        Octal(h.AsSpan(136, 12), Math.Max(0, mtime));
        h.AsSpan(148, 8).Fill((byte)' ');
        h[156] = (byte)type;
        Encoding.ASCII.GetBytes(linkName, h.AsSpan(157, 100));
        "ustar\u000000"u8.CopyTo(h.AsSpan(257));
        Encoding.ASCII.GetBytes(prefix, h.AsSpan(345, 155));
        int sum = 0;
        foreach (byte b in h) sum += b;
        Octal(h.AsSpan(148, 7), sum);
        return h;
    }

    /// <summary>Zero-padded octal digits filling all but the last byte, which stays NUL.</summary>
    private static void Octal(Span<byte> field, long value)
    {
        int digits = field.Length - 1;
        for (int i = digits - 1; i >= 0; i--)
        {
            field[i] = (byte)('0' + (value & 7));
            value >>= 3;
        }
        field[digits] = 0;
    }
}
