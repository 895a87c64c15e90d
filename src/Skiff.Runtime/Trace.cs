using System.Diagnostics;

namespace Skiff.Runtime;

/// <summary>
/// Phase timings on stderr when <c>SKIFF_TRACE=1</c> (also passed to the init stage), for finding where
/// container start time goes. Costs one environment lookup when off.
/// </summary>
public static class Trace
{
    public static readonly bool Enabled = Environment.GetEnvironmentVariable("SKIFF_TRACE") == "1";
    private static readonly long Start = Stopwatch.GetTimestamp();

    public static void Mark(string phase)
    {
        if (!Enabled) return;
        Console.Error.WriteLine($"[{Environment.ProcessId} {Stopwatch.GetElapsedTime(Start).TotalMilliseconds,7:F2} ms {Stopwatch.GetTimestamp() / 1e6 % 100000:F2}] {phase}");
    }
}
