using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Skiff.Content;

/// <summary>
/// A content digest in OCI form, <c>sha256:&lt;64 lowercase hex&gt;</c>. Only sha256 is accepted:
/// it is what Docker image IDs, diff IDs and chain IDs use.
/// </summary>
public readonly record struct Digest
{
    private Digest(string hex) => Hex = hex;

    public const string Algorithm = "sha256";

    /// <summary>The 64 lowercase hex characters.</summary>
    public string Hex { get; }

    public override string ToString() => Algorithm + ":" + Hex;

    /// <summary>Parses <c>sha256:&lt;hex&gt;</c>; throws <see cref="FormatException"/> for anything else.</summary>
    public static Digest Parse(string s) =>
        TryParse(s, out var d) ? d : throw new FormatException($"invalid digest '{s}' (expected sha256:<64 hex digits>)");

    public static bool TryParse([NotNullWhen(true)] string? s, out Digest digest)
    {
        digest = default;
        if (s is null || !s.StartsWith("sha256:", StringComparison.Ordinal)) return false;
        return TryFromHex(s[7..], out digest);
    }

    /// <summary>Accepts exactly 64 lowercase hex digits.</summary>
    public static bool TryFromHex(string? hex, out Digest digest)
    {
        digest = default;
        if (hex is null || hex.Length != 64) return false;
        foreach (char c in hex)
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f')) return false;
        digest = new Digest(hex);
        return true;
    }

    public static Digest FromHex(string hex) =>
        TryFromHex(hex, out var d) ? d : throw new FormatException($"invalid sha256 hex '{hex}'");

    public static Digest FromHash(ReadOnlySpan<byte> sha256) => new(Convert.ToHexStringLower(sha256));

    public static Digest Compute(ReadOnlySpan<byte> data) => FromHash(SHA256.HashData(data));

    public static Digest Compute(Stream data) => FromHash(SHA256.HashData(data));

    public bool IsEmpty => Hex is null;
}
