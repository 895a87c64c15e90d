using System.Buffers;
using System.Globalization;
using System.Text;

namespace Skiff.Archive;

/// <summary>
/// Forward-only tar reader for ustar, PAX (local and global headers, <c>SCHILY.xattr.*</c> and
/// <c>LIBARCHIVE.xattr.*</c>) and GNU (long names and links, base-256 numbers) archives. It never
/// seeks, so it works on pipes, network and decompression streams; the unread data of an entry is
/// skipped by reading when the next entry is requested. Not thread-safe.
/// </summary>
public sealed class TarReader : IDisposable
{
    private const int BlockSize = 512;
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly byte[] _buffer = new byte[128 * 1024];
    private int _bufStart;
    private int _bufEnd;
    private long _remaining;
    private int _padding;
    private EntryStream? _current;
    private readonly Dictionary<string, string> _globalPax = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _globalXattrs = new(StringComparer.Ordinal);
    private bool _ended;

    public TarReader(Stream stream, bool leaveOpen = false)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
    }

    /// <summary>Bytes consumed from the underlying stream that belong to the archive.</summary>
    public long Position { get; private set; }

    /// <summary>
    /// Advances to the next entry, or returns null at the end-of-archive marker (or at a clean end
    /// of stream on a block boundary, which GNU tar also accepts).
    /// </summary>
    /// <exception cref="InvalidArchiveException">Malformed or truncated archive.</exception>
    public TarEntry? GetNextEntry()
    {
        if (_ended) return null;
        SkipCurrent();

        Dictionary<string, string>? pax = null;
        Dictionary<string, byte[]>? xattrs = null;
        string? gnuLongName = null;
        string? gnuLongLink = null;
        Span<byte> header = stackalloc byte[BlockSize];

        while (true)
        {
            int n = ReadFull(header);
            if (n == 0) { _ended = true; return null; }
            if (n < BlockSize) throw new InvalidArchiveException("unexpected end of archive inside a header");
            if (header.IndexOfAnyExcept((byte)0) < 0)
            {
                _ended = true;
                return null;
            }
            VerifyChecksum(header);

            byte flag = header[156];
            long size = ParseNumber(header.Slice(124, 12), "size");
            if (size < 0) throw new InvalidArchiveException("negative entry size");

            switch (flag)
            {
                case (byte)'x':
                case (byte)'g':
                {
                    byte[] data = ReadMeta(size);
                    if (flag == (byte)'x')
                    {
                        pax ??= new Dictionary<string, string>(StringComparer.Ordinal);
                        xattrs ??= new Dictionary<string, byte[]>(StringComparer.Ordinal);
                        ParsePax(data, pax, xattrs);
                    }
                    else
                    {
                        ParsePax(data, _globalPax, _globalXattrs);
                    }
                    continue;
                }
                case (byte)'L':
                    gnuLongName = DecodeCString(ReadMeta(size));
                    continue;
                case (byte)'K':
                    gnuLongLink = DecodeCString(ReadMeta(size));
                    continue;
                case (byte)'V':
                    Skip(size + Pad(size));
                    continue;
                case (byte)'S':
                    throw new InvalidArchiveException("GNU sparse files are not supported");
            }

            var entry = BuildEntry(header, flag, size);
            if (gnuLongName is not null) entry.Name = TrimName(gnuLongName);
            if (gnuLongLink is not null) entry.LinkName = gnuLongLink;
            ApplyPax(entry, _globalPax, _globalXattrs);
            if (pax is not null) ApplyPax(entry, pax, xattrs!);
            if (entry.Type != TarEntryType.RegularFile)
            {
                // Only regular files carry data; a size on anything else is skipped as padding.
                _remaining = entry.Size;
                _padding = Pad(entry.Size);
                entry.Size = 0;
            }
            else
            {
                _remaining = entry.Size;
                _padding = Pad(entry.Size);
                _current = new EntryStream(this);
                entry.DataStream = _current;
            }
            return entry;
        }
    }

    private static int Pad(long size) => (int)((BlockSize - size % BlockSize) % BlockSize);

    private TarEntry BuildEntry(ReadOnlySpan<byte> h, byte flag, long size)
    {
        bool gnu = h.Slice(257, 8).SequenceEqual("ustar  \0"u8);
        bool ustar = h.Slice(257, 5).SequenceEqual("ustar"u8);
        string name = DecodeField(h.Slice(0, 100));
        if (ustar && !gnu)
        {
            string prefix = DecodeField(h.Slice(345, 155));
            if (prefix.Length > 0) name = prefix + "/" + name;
        }
        var type = flag switch
        {
            (byte)'0' or 0 or (byte)'7' => TarEntryType.RegularFile,
            (byte)'1' => TarEntryType.HardLink,
            (byte)'2' => TarEntryType.SymbolicLink,
            (byte)'3' => TarEntryType.CharacterDevice,
            (byte)'4' => TarEntryType.BlockDevice,
            (byte)'5' or (byte)'D' => TarEntryType.Directory,
            (byte)'6' => TarEntryType.Fifo,
            _ => throw new InvalidArchiveException($"unsupported tar entry type '{(char)flag}' for '{name}'"),
        };
        // Pre-POSIX archives mark directories only by a trailing slash.
        if (type == TarEntryType.RegularFile && flag == 0 && name.EndsWith('/')) type = TarEntryType.Directory;
        var e = new TarEntry(TrimName(name), type)
        {
            Mode = (uint)(ParseNumber(h.Slice(100, 8), "mode") & 0xFFF),
            Uid = (int)ParseNumber(h.Slice(108, 8), "uid"),
            Gid = (int)ParseNumber(h.Slice(116, 8), "gid"),
            Size = size,
            ModificationTime = DateTimeOffset.FromUnixTimeSeconds(ParseNumber(h.Slice(136, 12), "mtime")),
            LinkName = DecodeField(h.Slice(157, 100)),
        };
        if (ustar)
        {
            e.UserName = DecodeField(h.Slice(265, 32));
            e.GroupName = DecodeField(h.Slice(297, 32));
            if (type is TarEntryType.CharacterDevice or TarEntryType.BlockDevice)
            {
                e.DevMajor = (uint)ParseNumber(h.Slice(329, 8), "devmajor");
                e.DevMinor = (uint)ParseNumber(h.Slice(337, 8), "devminor");
            }
            if (gnu)
            {
                long atime = ParseNumber(h.Slice(345, 12), "atime");
                if (atime != 0) e.AccessTime = DateTimeOffset.FromUnixTimeSeconds(atime);
            }
        }
        return e;
    }

    private static string TrimName(string name)
    {
        while (name.Length > 1 && name.EndsWith('/')) name = name[..^1];
        return name;
    }

    private static void ApplyPax(TarEntry e, Dictionary<string, string> pax, Dictionary<string, byte[]> xattrs)
    {
        foreach (var (key, value) in pax)
        {
            switch (key)
            {
                case "path": e.Name = TrimName(value); break;
                case "linkpath": e.LinkName = value; break;
                case "size": e.Size = ParsePaxLong(value, key); break;
                case "uid": e.Uid = (int)ParsePaxLong(value, key); break;
                case "gid": e.Gid = (int)ParsePaxLong(value, key); break;
                case "uname": e.UserName = value; break;
                case "gname": e.GroupName = value; break;
                case "mtime": e.ModificationTime = ParsePaxTime(value); break;
                case "atime": e.AccessTime = ParsePaxTime(value); break;
                case "SCHILY.devmajor": e.DevMajor = (uint)ParsePaxLong(value, key); break;
                case "SCHILY.devminor": e.DevMinor = (uint)ParsePaxLong(value, key); break;
                default:
                    if (key.StartsWith("GNU.sparse.", StringComparison.Ordinal))
                        throw new InvalidArchiveException("PAX sparse files are not supported");
                    break;
            }
        }
        foreach (var (name, value) in xattrs) e.Xattrs[name] = value;
    }

    private static long ParsePaxLong(string value, string key) =>
        long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v)
            ? v
            : throw new InvalidArchiveException($"invalid PAX {key} '{value}'");

    private static DateTimeOffset ParsePaxTime(string value)
    {
        int dot = value.IndexOf('.');
        long sec = ParsePaxLong(dot < 0 ? value : value[..dot], "time");
        long ticks = 0;
        if (dot >= 0)
        {
            string frac = value[(dot + 1)..];
            if (frac.Length > 7) frac = frac[..7];
            frac = frac.PadRight(7, '0');
            if (!long.TryParse(frac, NumberStyles.None, CultureInfo.InvariantCulture, out ticks))
                throw new InvalidArchiveException($"invalid PAX time '{value}'");
            if (value.StartsWith('-')) ticks = -ticks;
        }
        return DateTimeOffset.FromUnixTimeSeconds(sec).AddTicks(ticks);
    }

    /// <summary>
    /// Parses "len key=value\n" records. Values stay bytes until classified so that xattr values
    /// are never round-tripped through a text decoder.
    /// </summary>
    private static void ParsePax(byte[] data, Dictionary<string, string> pax, Dictionary<string, byte[]> xattrs)
    {
        int pos = 0;
        while (pos < data.Length)
        {
            if (data[pos] == 0) break;
            int sp = Array.IndexOf(data, (byte)' ', pos);
            if (sp < 0) throw new InvalidArchiveException("malformed PAX record");
            if (!int.TryParse(data.AsSpan(pos, sp - pos), NumberStyles.None, CultureInfo.InvariantCulture, out int len)
                || len <= sp - pos + 1 || pos + len > data.Length || data[pos + len - 1] != (byte)'\n')
                throw new InvalidArchiveException("malformed PAX record length");
            var record = data.AsSpan(sp + 1, pos + len - 1 - (sp + 1));
            int eq = record.IndexOf((byte)'=');
            if (eq <= 0) throw new InvalidArchiveException("malformed PAX record");
            string key = Encoding.UTF8.GetString(record[..eq]);
            var value = record[(eq + 1)..];
            if (key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal))
            {
                xattrs[key["SCHILY.xattr.".Length..]] = value.ToArray();
            }
            else if (key.StartsWith("LIBARCHIVE.xattr.", StringComparison.Ordinal))
            {
                string name = Uri.UnescapeDataString(key["LIBARCHIVE.xattr.".Length..]);
                try
                {
                    string b64 = Encoding.ASCII.GetString(value);
                    b64 = b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '=');
                    xattrs[name] = Convert.FromBase64String(b64);
                }
                catch (FormatException ex)
                {
                    throw new InvalidArchiveException($"invalid base64 in PAX {key}", ex);
                }
            }
            else
            {
                pax[key] = Encoding.UTF8.GetString(value);
            }
            pos += len;
        }
    }

    private byte[] ReadMeta(long size)
    {
        if (size > 16 * 1024 * 1024) throw new InvalidArchiveException("extension header larger than 16 MiB");
        var data = new byte[size];
        if (ReadFull(data) != size) throw new InvalidArchiveException("unexpected end of archive in an extension header");
        Skip(Pad(size));
        return data;
    }

    private static string DecodeCString(byte[] data)
    {
        int end = Array.IndexOf(data, (byte)0);
        return Encoding.UTF8.GetString(data, 0, end < 0 ? data.Length : end);
    }

    private static string DecodeField(ReadOnlySpan<byte> field)
    {
        int end = field.IndexOf((byte)0);
        if (end >= 0) field = field[..end];
        return Encoding.UTF8.GetString(field);
    }

    private static void VerifyChecksum(ReadOnlySpan<byte> h)
    {
        long stored = ParseNumber(h.Slice(148, 8), "checksum");
        long unsigned = 0, signed = 0;
        for (int i = 0; i < BlockSize; i++)
        {
            byte b = i is >= 148 and < 156 ? (byte)' ' : h[i];
            unsigned += b;
            signed += (sbyte)b;
        }
        if (stored != unsigned && stored != signed)
            throw new InvalidArchiveException("tar header checksum mismatch (not a tar archive or corrupt)");
    }

    /// <summary>Octal (NUL/space padded) or GNU base-256 numbers.</summary>
    internal static long ParseNumber(ReadOnlySpan<byte> field, string what)
    {
        if (field.Length > 0 && (field[0] & 0x80) != 0)
        {
            bool negative = (field[0] & 0x40) != 0;
            long v = field[0] & 0x3F;
            if (negative) v |= ~0x3FL;
            for (int i = 1; i < field.Length; i++)
            {
                if (!negative && (v >> 55) != 0) throw new InvalidArchiveException($"{what} out of range");
                v = (v << 8) | field[i];
            }
            return v;
        }
        long r = 0;
        int j = 0;
        while (j < field.Length && (field[j] == ' ' || field[j] == 0)) j++;
        for (; j < field.Length; j++)
        {
            byte c = field[j];
            if (c == 0 || c == ' ') break;
            if (c < '0' || c > '7') throw new InvalidArchiveException($"invalid octal number in header field {what}");
            r = (r << 3) + (c - '0');
        }
        return r;
    }

    private void SkipCurrent()
    {
        if (_current is not null)
        {
            _current.Detached = true;
            _current = null;
        }
        if (_remaining > 0 || _padding > 0)
        {
            Skip(_remaining + _padding);
            _remaining = 0;
            _padding = 0;
        }
    }

    private void Skip(long count)
    {
        while (count > 0)
        {
            if (_bufStart == _bufEnd && !Fill()) throw new InvalidArchiveException("unexpected end of archive");
            int n = (int)Math.Min(count, _bufEnd - _bufStart);
            _bufStart += n;
            Position += n;
            count -= n;
        }
    }

    private bool Fill()
    {
        _bufStart = 0;
        _bufEnd = _stream.Read(_buffer, 0, _buffer.Length);
        return _bufEnd > 0;
    }

    private int ReadFull(Span<byte> dest)
    {
        int total = 0;
        while (total < dest.Length)
        {
            int n = ReadSome(dest[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    private int ReadSome(Span<byte> dest)
    {
        if (_bufStart == _bufEnd)
        {
            // Large reads bypass the buffer to avoid a copy.
            if (dest.Length >= _buffer.Length)
            {
                int d = _stream.Read(dest);
                Position += d;
                return d;
            }
            if (!Fill()) return 0;
        }
        int n = Math.Min(dest.Length, _bufEnd - _bufStart);
        _buffer.AsSpan(_bufStart, n).CopyTo(dest);
        _bufStart += n;
        Position += n;
        return n;
    }

    private int ReadData(Span<byte> dest)
    {
        if (_remaining == 0) return 0;
        if (dest.Length > _remaining) dest = dest[..(int)_remaining];
        int n = ReadSome(dest);
        if (n == 0) throw new InvalidArchiveException("unexpected end of archive inside file data");
        _remaining -= n;
        return n;
    }

    public void Dispose()
    {
        if (!_leaveOpen) _stream.Dispose();
    }

    private sealed class EntryStream(TarReader owner) : Stream
    {
        public bool Detached;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (Detached) throw new InvalidOperationException("the tar reader has moved past this entry");
            return owner.ReadData(buffer);
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
