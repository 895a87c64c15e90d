using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Skiff.Network;

/// <summary>The question of a DNS query: lower-cased name without the trailing dot, type and class.</summary>
public readonly record struct DnsQuestion(string Name, ushort Type, ushort Class);

/// <summary>
/// The parts of the DNS wire format (RFC 1035) the embedded server needs: the header and first
/// question of a query, and responses with A and AAAA records. Anything it cannot read is forwarded or
/// answered FORMERR by the caller, never guessed at.
/// </summary>
public static class DnsMessage
{
    public const ushort TypeA = 1, TypeAAAA = 28, TypePTR = 12, ClassIN = 1;
    public const int RcodeNoError = 0, RcodeFormErr = 1, RcodeServFail = 2, RcodeNxDomain = 3;

    /// <summary>Reads the first question; false when the message is not a standard query with one.</summary>
    public static bool TryParseQuery(ReadOnlySpan<byte> msg, out DnsQuestion question, out int questionEnd)
    {
        question = default;
        questionEnd = 0;
        if (msg.Length < 12) return false;
        var flags = BinaryPrimitives.ReadUInt16BigEndian(msg[2..]);
        if ((flags & 0x8000) != 0) return false;            // a response
        if (((flags >> 11) & 0xF) != 0) return false;       // not QUERY
        if (BinaryPrimitives.ReadUInt16BigEndian(msg[4..]) < 1) return false;
        var name = new StringBuilder();
        var pos = 12;
        while (true)
        {
            if (pos >= msg.Length) return false;
            int len = msg[pos];
            if (len == 0) { pos++; break; }
            if ((len & 0xC0) != 0) return false;            // no compression in a question we accept
            if (pos + 1 + len > msg.Length || name.Length + len > 253) return false;
            if (name.Length > 0) name.Append('.');
            name.Append(Encoding.ASCII.GetString(msg.Slice(pos + 1, len)));
            pos += 1 + len;
        }
        if (pos + 4 > msg.Length) return false;
        question = new DnsQuestion(name.ToString().ToLowerInvariant(), BinaryPrimitives.ReadUInt16BigEndian(msg[pos..]), BinaryPrimitives.ReadUInt16BigEndian(msg[(pos + 2)..]));
        questionEnd = pos + 4;
        return true;
    }

    /// <summary>Whether an address answers a question of type <paramref name="type"/> (A: IPv4, AAAA: IPv6).</summary>
    public static bool Answers(ushort type, IPAddress a) =>
        (type == TypeA && a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) ||
        (type == TypeAAAA && a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6);

    /// <summary>
    /// An authoritative response to <paramref name="query"/>: its ID, RD bit and first question,
    /// <paramref name="rcode"/>, and one record per address, A for IPv4 and AAAA for IPv6 (TTL 600,
    /// name by pointer to the question).
    /// </summary>
    public static byte[] Response(ReadOnlySpan<byte> query, int questionEnd, int rcode, IReadOnlyList<IPAddress> addresses)
    {
        var size = questionEnd + addresses.Sum(a => 12 + (a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 4 : 16));
        var result = new byte[size];
        query[..questionEnd].CopyTo(result);
        var qflags = BinaryPrimitives.ReadUInt16BigEndian(query[2..]);
        ushort flags = (ushort)(0x8000 | 0x0400 | (qflags & 0x0100) | 0x0080 | (rcode & 0xF)); // QR, AA, RD copied, RA
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(2), flags);
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(6), (ushort)addresses.Count);
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(8), 0);
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(10), 0);
        var pos = questionEnd;
        foreach (var a in addresses)
        {
            var bytes = a.GetAddressBytes();
            var s = result.AsSpan(pos);
            BinaryPrimitives.WriteUInt16BigEndian(s, 0xC00C);
            BinaryPrimitives.WriteUInt16BigEndian(s[2..], bytes.Length == 4 ? TypeA : TypeAAAA);
            BinaryPrimitives.WriteUInt16BigEndian(s[4..], ClassIN);
            BinaryPrimitives.WriteUInt32BigEndian(s[6..], 600);
            BinaryPrimitives.WriteUInt16BigEndian(s[10..], (ushort)bytes.Length);
            bytes.CopyTo(s[12..]);
            pos += 12 + bytes.Length;
        }
        return result;
    }

    /// <summary>An error response carrying only the header (for messages whose question cannot be read).</summary>
    public static byte[] HeaderOnlyError(ReadOnlySpan<byte> query, int rcode)
    {
        var result = new byte[12];
        if (query.Length >= 2) query[..2].CopyTo(result);
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(2), (ushort)(0x8000 | 0x0080 | (rcode & 0xF)));
        return result;
    }

    /// <summary>A query for <paramref name="name"/> (used by tests and clients of the server).</summary>
    public static byte[] Query(ushort id, string name, ushort type)
    {
        var labels = name.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries);
        var result = new byte[12 + labels.Sum(l => l.Length + 1) + 1 + 4];
        BinaryPrimitives.WriteUInt16BigEndian(result, id);
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(2), 0x0100);
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(4), 1);
        var pos = 12;
        foreach (var l in labels)
        {
            result[pos++] = (byte)l.Length;
            pos += Encoding.ASCII.GetBytes(l, result.AsSpan(pos));
        }
        result[pos++] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(pos), type);
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(pos + 2), ClassIN);
        return result;
    }

    /// <summary>The A and AAAA records of a response (for tests and diagnostics): rcode and addresses.</summary>
    public static (int Rcode, List<IPAddress> Addresses) ReadAnswers(ReadOnlySpan<byte> msg)
    {
        var rcode = BinaryPrimitives.ReadUInt16BigEndian(msg[2..]) & 0xF;
        var qd = BinaryPrimitives.ReadUInt16BigEndian(msg[4..]);
        var an = BinaryPrimitives.ReadUInt16BigEndian(msg[6..]);
        var pos = 12;
        for (var i = 0; i < qd; i++) pos = SkipName(msg, pos) + 4;
        var list = new List<IPAddress>();
        for (var i = 0; i < an; i++)
        {
            pos = SkipName(msg, pos);
            var type = BinaryPrimitives.ReadUInt16BigEndian(msg[pos..]);
            var rdlen = BinaryPrimitives.ReadUInt16BigEndian(msg[(pos + 8)..]);
            if ((type == TypeA && rdlen == 4) || (type == TypeAAAA && rdlen == 16)) list.Add(new IPAddress(msg.Slice(pos + 10, rdlen)));
            pos += 10 + rdlen;
        }
        return (rcode, list);
    }

    private static int SkipName(ReadOnlySpan<byte> msg, int pos)
    {
        while (true)
        {
            int len = msg[pos];
            if (len == 0) return pos + 1;
            if ((len & 0xC0) == 0xC0) return pos + 2;
            pos += 1 + len;
        }
    }
}
