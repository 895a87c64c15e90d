using Microsoft.AspNetCore.Http;

namespace Skiff.Api;

/// <summary>
/// Gives the daemon's garbage back to the kernel once the API has been idle for a second: an aggressive
/// full GC after the last request of a burst (an image import, a compose up) finished, so an idle skiffd
/// does not keep the pages a burst dirtied. Requests that never end (attach, events, logs -f) count as
/// busy; the collection runs on a timer thread, never on a request's path.
/// </summary>
internal static class IdleTrim
{
    private static readonly TimeSpan Delay = TimeSpan.FromSeconds(1);
    private static readonly Timer Timer = new(_ => Trim(), null, Timeout.Infinite, Timeout.Infinite);
    private static int _inFlight;

    public static async Task Middleware(HttpContext ctx, RequestDelegate next)
    {
        Interlocked.Increment(ref _inFlight);
        try
        {
            await next(ctx).ConfigureAwait(false);
        }
        finally
        {
            if (Interlocked.Decrement(ref _inFlight) == 0) Timer.Change(Delay, Timeout.InfiniteTimeSpan);
        }
    }

    private static void Trim()
    {
        if (Volatile.Read(ref _inFlight) != 0) return;
        LargeBlockMemoryPoolFactory.ReleaseRetained();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }
}
