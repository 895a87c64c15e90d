using System.Globalization;
using System.Text;

namespace Skiff.Cli;

/// <summary>Size, duration and time parsing and formatting with Docker's (go-units, Go time) semantics.</summary>
public static class Units
{
    /// <summary>
    /// go-units RAMInBytes: a number (decimals allowed) with an optional binary suffix
    /// b, k, m, g, t, p (any case, optionally followed by "i"/"b"): "64m" is 64 MiB.
    /// Returns an error text like Docker's ("invalid suffix: 'x'") or null.
    /// </summary>
    public static string? TryParseRamInBytes(string s, out long bytes)
    {
        bytes = 0;
        int i = 0;
        while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
        if (i == 0) return $"invalid size: '{s}'";
        if (!double.TryParse(s.AsSpan(0, i), NumberStyles.Float, CultureInfo.InvariantCulture, out double num))
            return $"invalid size: '{s}'";
        string suffix = s[i..].TrimStart(' ').ToLowerInvariant();
        double mult = 1;
        if (suffix.Length > 0)
        {
            mult = suffix[0] switch
            {
                'b' => 1,
                'k' => 1L << 10,
                'm' => 1L << 20,
                'g' => 1L << 30,
                't' => 1L << 40,
                'p' => 1L << 50,
                _ => 0,
            };
            string tail = suffix[1..];
            if (mult == 0 || (suffix[0] == 'b' ? tail.Length > 0 : tail is not ("" or "b" or "i" or "ib")))
                return $"invalid suffix: '{s[i..]}'";
        }
        bytes = (long)(num * mult);
        return null;
    }

    /// <summary>Parses a size or throws <see cref="FormatException"/>.</summary>
    public static long RamInBytes(string s) => TryParseRamInBytes(s, out long b) is { } err ? throw new FormatException(err) : b;

    /// <summary>
    /// Go's time.ParseDuration: a sequence of decimal numbers with units ns, us (µs), ms, s, m, h,
    /// e.g. "10m", "1h30m", "1.5s", "-2s". A bare "0" is accepted. Returns nanoseconds.
    /// </summary>
    public static bool TryParseGoDuration(string s, out long nanoseconds)
    {
        nanoseconds = 0;
        if (s.Length == 0) return false;
        int i = 0;
        bool neg = false;
        if (s[0] is '-' or '+') { neg = s[0] == '-'; i++; }
        if (s[i..] == "0") return true;
        if (i == s.Length) return false;
        double total = 0;
        while (i < s.Length)
        {
            int start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
            if (i == start) return false;
            if (!double.TryParse(s.AsSpan(start, i - start), NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) return false;
            int us = i;
            while (i < s.Length && !char.IsAsciiDigit(s[i]) && s[i] != '.') i++;
            double unit = s[us..i] switch
            {
                "ns" => 1,
                "us" or "µs" or "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => 0,
            };
            if (unit == 0) return false;
            total += v * unit;
        }
        nanoseconds = (long)(neg ? -total : total);
        return true;
    }

    /// <summary>
    /// Docker's GetTimestamp for --since/--until: a Go duration is relative to <paramref name="now"/>
    /// ("10m" means ten minutes ago); RFC 3339 and date forms are converted; anything else (Unix
    /// seconds, possibly with fraction) is passed through. Output is "seconds.nanoseconds".
    /// </summary>
    public static string GetTimestamp(string value, DateTimeOffset now)
    {
        if (TryParseGoDuration(value, out long ns))
        {
            long t = now.ToUnixTimeMilliseconds() * 1_000_000 - ns;
            return FormatUnixNanos(t);
        }
        if (value.Contains('-') || value.Contains('T'))
        {
            string[] formats = ["yyyy-MM-dd'T'HH:mm:ss.FFFFFFFFFK", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFFF", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH", "yyyy-MM-dd"];
            var style = value.EndsWith('Z') || value.LastIndexOfAny(['+']) > 10 || (value.Length > 19 && value.LastIndexOf('-') > 10)
                ? DateTimeStyles.AdjustToUniversal
                : DateTimeStyles.AssumeLocal | DateTimeStyles.AdjustToUniversal;
            if (DateTimeOffset.TryParseExact(value, formats, CultureInfo.InvariantCulture, style, out var dto))
                return FormatUnixNanos((dto.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100);
        }
        return value;
    }

    private static string FormatUnixNanos(long ns)
    {
        long sec = Math.DivRem(ns, 1_000_000_000, out long rem);
        if (rem < 0) { sec--; rem += 1_000_000_000; }
        return sec.ToString(CultureInfo.InvariantCulture) + "." + rem.ToString("D9", CultureInfo.InvariantCulture);
    }

    /// <summary>go-units HumanDuration: "Less than a second", "About a minute", "3 hours", "2 weeks"...</summary>
    public static string HumanDuration(TimeSpan d)
    {
        long seconds = (long)d.TotalSeconds;
        if (seconds < 1) return "Less than a second";
        if (seconds == 1) return "1 second";
        if (seconds < 60) return $"{seconds} seconds";
        long minutes = (long)d.TotalMinutes;
        if (minutes == 1) return "About a minute";
        if (minutes < 60) return $"{minutes} minutes";
        long hours = (long)(d.TotalHours + 0.5);
        if (hours == 1) return "About an hour";
        if (hours < 48) return $"{hours} hours";
        if (hours < 24 * 7 * 2) return $"{hours / 24} days";
        if (hours < 24 * 30 * 2) return $"{hours / 24 / 7} weeks";
        if (hours < 24 * 365 * 2) return $"{hours / 24 / 30} months";
        return $"{(long)d.TotalHours / 24 / 365} years";
    }

    private static readonly string[] DecimalUnits = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    private static readonly string[] BinaryUnits = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

    /// <summary>go-units HumanSizeWithPrecision: decimal units, Go's %.{precision}g ("1.23MB", "512B").</summary>
    public static string HumanSize(double size, int precision = 4) => Scaled(size, 1000, DecimalUnits, precision);

    /// <summary>go-units BytesSize: binary units with %.4g ("1.5GiB").</summary>
    public static string BytesSize(double size) => Scaled(size, 1024, BinaryUnits, 4);

    private static string Scaled(double size, double baseUnit, string[] units, int precision)
    {
        int i = 0;
        while (size >= baseUnit && i < units.Length - 1)
        {
            size /= baseUnit;
            i++;
        }
        return FormatG(size, precision) + units[i];
    }

    /// <summary>Go's fmt %.{p}g: p significant digits, trailing zeros dropped, exponent form when exp &lt; -4 or &gt;= p.</summary>
    public static string FormatG(double v, int precision)
    {
        if (v == 0) return "0";
        string e = v.ToString("E" + (precision - 1).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        int ePos = e.IndexOf('E');
        int exp = int.Parse(e.AsSpan(ePos + 1), CultureInfo.InvariantCulture);
        if (exp < -4 || exp >= precision)
        {
            string mant = e[..ePos];
            if (mant.Contains('.')) mant = mant.TrimEnd('0').TrimEnd('.');
            var sb = new StringBuilder(mant).Append('e').Append(exp < 0 ? '-' : '+');
            sb.Append(Math.Abs(exp).ToString("D2", CultureInfo.InvariantCulture));
            return sb.ToString();
        }
        int decimals = Math.Max(0, precision - 1 - exp);
        string f = v.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        if (f.Contains('.')) f = f.TrimEnd('0').TrimEnd('.');
        return f;
    }

    /// <summary>Formats nanoseconds like Go's time.Duration.String for whole seconds and up ("1m30s", "10s").</summary>
    public static string GoDurationString(long ns)
    {
        if (ns == 0) return "0s";
        var sb = new StringBuilder();
        long totalSec = ns / 1_000_000_000;
        long h = totalSec / 3600, m = totalSec / 60 % 60, s = totalSec % 60;
        if (h > 0) sb.Append(h).Append('h');
        if (h > 0 || m > 0) sb.Append(m).Append('m');
        sb.Append(s).Append('s');
        return sb.ToString();
    }
}
