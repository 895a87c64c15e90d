using System.Globalization;
using System.Text;

namespace Skiff.Archive;

/// <summary>Header flavour of <see cref="TarWriter"/>.</summary>
public enum TarFormat
{
    /// <summary>ustar headers plus PAX extended headers when needed (what Docker writes; the default).</summary>
    Pax,
    /// <summary>GNU headers: long names and link targets as <c>././@LongLink</c> 'L'/'K' records; PAX records only for xattrs and out-of-range values.</summary>
    Gnu,
}

/// <summary>
/// Streaming tar writer. Each entry is written as a ustar header, preceded by a PAX extended
/// header when something does not fit ustar (long or non-ASCII names, large ids or sizes,
/// sub-second times, xattrs, which are written as <c>SCHILY.xattr.*</c> with their raw bytes).
/// Never seeks. <see cref="Finish"/> (or Dispose) writes the two zero blocks that end the archive.
/// </summary>
public sealed class TarWriter : IDisposable
{
    private const int BlockSize = 512;
    private static readonly byte[] Zeros = new byte[BlockSize * 2];
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly byte[] _copyBuffer = new byte[128 * 1024];
    private readonly TarFormat _format;
    private bool _finished;

    public TarWriter(Stream stream, bool leaveOpen = false, TarFormat format = TarFormat.Pax)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
        _format = format;
    }

    /// <summary>
    /// Writes one entry. For a regular file exactly <see cref="TarEntry.Size"/> bytes are taken from
    /// <paramref name="data"/>; if it ends early the rest is zero-filled (a file that shrank while
    /// being archived), and bytes beyond the size are not read.
    /// </summary>
    public void WriteEntry(TarEntry entry, Stream? data = null)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        string name = entry.Name;
        if (entry.Type == TarEntryType.Directory && !name.EndsWith('/')) name += "/";
        long size = entry.Type == TarEntryType.RegularFile ? entry.Size : 0;

        bool gnu = _format == TarFormat.Gnu;
        var pax = new List<KeyValuePair<string, byte[]>>();
        byte[] nameBytes = Encoding.UTF8.GetBytes(name);
        string? ustarPrefix = null, ustarName = name, gnuLongName = null, gnuLongLink = null;
        if (gnu)
        {
            if (nameBytes.Length > 100) { gnuLongName = name; ustarName = Truncate(name, 100); }
        }
        else if (!IsAscii(nameBytes) || nameBytes.Length > 100)
        {
            if (IsAscii(nameBytes) && TrySplit(name, out var p, out var n)) { ustarPrefix = p; ustarName = n; }
            else { pax.Add(Record("path", name)); ustarName = Truncate(name, 100); }
        }
        byte[] linkBytes = Encoding.UTF8.GetBytes(entry.LinkName);
        if (gnu && linkBytes.Length > 100) gnuLongLink = entry.LinkName;
        else if (!gnu && (!IsAscii(linkBytes) || linkBytes.Length > 100)) pax.Add(Record("linkpath", entry.LinkName));
        if (entry.Uid is < 0 or > 0x1FFFFF) pax.Add(Record("uid", entry.Uid.ToString(CultureInfo.InvariantCulture)));
        if (entry.Gid is < 0 or > 0x1FFFFF) pax.Add(Record("gid", entry.Gid.ToString(CultureInfo.InvariantCulture)));
        if (size > 0x1FFFFFFFFL) pax.Add(Record("size", size.ToString(CultureInfo.InvariantCulture)));
        if (!IsAscii(Encoding.UTF8.GetBytes(entry.UserName)) || entry.UserName.Length > 31) pax.Add(Record("uname", entry.UserName));
        if (!IsAscii(Encoding.UTF8.GetBytes(entry.GroupName)) || entry.GroupName.Length > 31) pax.Add(Record("gname", entry.GroupName));
        long mtimeSec = entry.ModificationTime.ToUnixTimeSeconds();
        long mtimeTicks = entry.ModificationTime.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks - mtimeSec * TimeSpan.TicksPerSecond;
        if (mtimeTicks != 0 || mtimeSec is < 0 or > 0x1FFFFFFFFL) pax.Add(Record("mtime", FormatTime(entry.ModificationTime)));
        if (entry.AccessTime is { } at) pax.Add(Record("atime", FormatTime(at)));
        if (entry.DevMajor > 0x1FFFFF) pax.Add(Record("SCHILY.devmajor", entry.DevMajor.ToString(CultureInfo.InvariantCulture)));
        if (entry.DevMinor > 0x1FFFFF) pax.Add(Record("SCHILY.devminor", entry.DevMinor.ToString(CultureInfo.InvariantCulture)));
        foreach (var (k, v) in entry.Xattrs.OrderBy(x => x.Key, StringComparer.Ordinal))
            pax.Add(new("SCHILY.xattr." + k, v));

        if (gnuLongName is not null) WriteGnuLong((byte)'L', gnuLongName);
        if (gnuLongLink is not null) WriteGnuLong((byte)'K', gnuLongLink);
        if (pax.Count > 0)
        {
            byte[] body = EncodePax(pax);
            string paxName = Truncate("PaxHeaders.0/" + Path.GetFileName(name.TrimEnd('/')), 100);
            Span<byte> ph = stackalloc byte[BlockSize];
            FillHeader(ph, paxName, null, (byte)'x', 0x1A4, 0, 0, body.Length, Math.Clamp(mtimeSec, 0, 0x1FFFFFFFFL), "", "", "", 0, 0, gnu);
            _stream.Write(ph);
            _stream.Write(body);
            WritePadding(body.Length);
        }

        byte flag = entry.Type switch
        {
            TarEntryType.RegularFile => (byte)'0',
            TarEntryType.HardLink => (byte)'1',
            TarEntryType.SymbolicLink => (byte)'2',
            TarEntryType.CharacterDevice => (byte)'3',
            TarEntryType.BlockDevice => (byte)'4',
            TarEntryType.Directory => (byte)'5',
            TarEntryType.Fifo => (byte)'6',
            _ => throw new ArgumentOutOfRangeException(nameof(entry)),
        };
        Span<byte> h = stackalloc byte[BlockSize];
        FillHeader(h, ustarName, ustarPrefix, flag, entry.Mode & 0xFFF,
            Math.Clamp(entry.Uid, 0, 0x1FFFFF), Math.Clamp(entry.Gid, 0, 0x1FFFFF),
            size > 0x1FFFFFFFFL ? 0 : size, Math.Clamp(mtimeSec, 0, 0x1FFFFFFFFL),
            Truncate(entry.LinkName, 100), Truncate(entry.UserName, 31), Truncate(entry.GroupName, 31),
            Math.Min(entry.DevMajor, 0x1FFFFFu), Math.Min(entry.DevMinor, 0x1FFFFFu), gnu);
        _stream.Write(h);

        if (size > 0)
        {
            long left = size;
            if (data is not null)
            {
                while (left > 0)
                {
                    int n = data.Read(_copyBuffer, 0, (int)Math.Min(_copyBuffer.Length, left));
                    if (n == 0) break;
                    _stream.Write(_copyBuffer, 0, n);
                    left -= n;
                }
            }
            while (left > 0)
            {
                int n = (int)Math.Min(Zeros.Length, left);
                _stream.Write(Zeros, 0, n);
                left -= n;
            }
            WritePadding(size);
        }
    }

    /// <summary>Writes the end-of-archive marker; further writes are refused.</summary>
    public void Finish()
    {
        if (_finished) return;
        _stream.Write(Zeros, 0, BlockSize * 2);
        _stream.Flush();
        _finished = true;
    }

    public void Dispose()
    {
        Finish();
        if (!_leaveOpen) _stream.Dispose();
    }

    private void WritePadding(long size)
    {
        int pad = (int)((BlockSize - size % BlockSize) % BlockSize);
        if (pad > 0) _stream.Write(Zeros, 0, pad);
    }

    private static bool IsAscii(byte[] b) => Array.TrueForAll(b, x => x is > 0 and < 0x80);

    private static string Truncate(string s, int maxBytes)
    {
        if (Encoding.UTF8.GetByteCount(s) <= maxBytes) return s;
        var sb = new StringBuilder();
        foreach (char c in s)
        {
            if (c >= 0x80 || Encoding.UTF8.GetByteCount(sb.ToString()) + 1 > maxBytes) break;
            sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>Splits a long ASCII name at a '/' into a ustar prefix (&lt;=155) and name (&lt;=100).</summary>
    private static bool TrySplit(string name, out string prefix, out string rest)
    {
        prefix = rest = "";
        if (name.Length > 256) return false;
        for (int i = Math.Min(name.Length - 1, 155); i > 0; i--)
        {
            if (name[i] != '/') continue;
            if (name.Length - i - 1 > 100) return false;
            if (name.Length - i - 1 == 0) continue;
            prefix = name[..i];
            rest = name[(i + 1)..];
            return true;
        }
        return false;
    }

    private static KeyValuePair<string, byte[]> Record(string key, string value) => new(key, Encoding.UTF8.GetBytes(value));

    private static string FormatTime(DateTimeOffset t)
    {
        long ticks = t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        long sec = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long frac);
        if (frac < 0) { sec--; frac += TimeSpan.TicksPerSecond; }
        if (frac == 0) return sec.ToString(CultureInfo.InvariantCulture);
        return sec.ToString(CultureInfo.InvariantCulture) + "." + frac.ToString("D7", CultureInfo.InvariantCulture).TrimEnd('0');
    }

    /// <summary>Encodes PAX records; the length prefix counts itself, hence the fixed-point loop.</summary>
    private static byte[] EncodePax(List<KeyValuePair<string, byte[]>> records)
    {
        var ms = new MemoryStream();
        foreach (var (key, value) in records)
        {
            byte[] k = Encoding.UTF8.GetBytes(key);
            int body = 1 + k.Length + 1 + value.Length + 1;
            int len = body + 1;
            while (len.ToString(CultureInfo.InvariantCulture).Length + body != len)
                len = len.ToString(CultureInfo.InvariantCulture).Length + body;
            ms.Write(Encoding.ASCII.GetBytes(len.ToString(CultureInfo.InvariantCulture)));
            ms.WriteByte((byte)' ');
            ms.Write(k);
            ms.WriteByte((byte)'=');
            ms.Write(value);
            ms.WriteByte((byte)'\n');
        }
        return ms.ToArray();
    }

    private void WriteGnuLong(byte flag, string value)
    {
        byte[] body = new byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, body);
        Span<byte> h = stackalloc byte[BlockSize];
        FillHeader(h, "././@LongLink", null, flag, 0x1A4, 0, 0, body.Length, 0, "", "root", "root", 0, 0, gnu: true);
        _stream.Write(h);
        _stream.Write(body);
        WritePadding(body.Length);
    }

    private static void FillHeader(Span<byte> h, string name, string? prefix, byte flag, uint mode, int uid, int gid,
        long size, long mtime, string link, string uname, string gname, uint devMajor, uint devMinor, bool gnu)
    {
        h.Clear();
        Encoding.UTF8.GetBytes(name, h.Slice(0, 100));
        Octal(h.Slice(100, 8), mode);
        Octal(h.Slice(108, 8), uid);
        Octal(h.Slice(116, 8), gid);
        Octal(h.Slice(124, 12), size);
        Octal(h.Slice(136, 12), mtime);
        h[156] = flag;
        Encoding.UTF8.GetBytes(link, h.Slice(157, 100));
        if (gnu) "ustar  \0"u8.CopyTo(h.Slice(257, 8));
        else
        {
            "ustar\0"u8.CopyTo(h.Slice(257, 6));
            "00"u8.CopyTo(h.Slice(263, 2));
        }
        Encoding.UTF8.GetBytes(uname, h.Slice(265, 32));
        Encoding.UTF8.GetBytes(gname, h.Slice(297, 32));
        Octal(h.Slice(329, 8), devMajor);
        Octal(h.Slice(337, 8), devMinor);
        if (prefix is not null) Encoding.UTF8.GetBytes(prefix, h.Slice(345, 155));
        h.Slice(148, 8).Fill((byte)' ');
        int sum = 0;
        foreach (byte b in h) sum += b;
        Octal(h.Slice(148, 7), sum);
    }

    /// <summary>Zero-padded octal filling the field but its last byte, which is NUL.</summary>
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
