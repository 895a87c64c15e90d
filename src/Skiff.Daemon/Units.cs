using System.Globalization;

namespace Skiff.Daemon;

/// <summary>Docker's human sizes ("10m", "1.5g", "512k", "100"), in bytes with binary multiples.</summary>
public static class Units
{
    public static long ParseSize(string text)
    {
        var s = text.Trim().ToLowerInvariant();
        if (s.EndsWith('b')) s = s[..^1];
        long mult = 1;
        if (s.Length > 0 && "kmgtp".Contains(s[^1], StringComparison.Ordinal))
        {
            mult = s[^1] switch { 'k' => 1L << 10, 'm' => 1L << 20, 'g' => 1L << 30, 't' => 1L << 40, _ => 1L << 50 };
            s = s[..^1];
        }
        if (!double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var v) || v < 0)
            throw DaemonException.Invalid($"invalid size: '{text}'");
        return (long)(v * mult);
    }
}
