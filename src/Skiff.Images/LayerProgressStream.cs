using System.Diagnostics;

namespace Skiff.Images;

/// <summary>
/// Progress of one stream being read (<c>docker load</c>'s "Loading layer", <c>docker import</c>'s "Importing"): the
/// layer's short ID (empty for an import), bytes read, total bytes (0 when unknown).
/// </summary>
public delegate void LayerProgress(string id, long current, long total);

/// <summary>
/// A read-only pass-through that reports how much of a known-size stream was read, as dockerd's progress reader does:
/// after every 1% (at most every 512 KiB), no more than once per 100 ms, and always when the whole size was read or the
/// stream ended.
/// </summary>
public sealed class LayerProgressStream(Stream inner, string id, long total, LayerProgress report) : Stream
{
    private readonly long _every = total > 0 ? Math.Clamp(total / 100, 1, 512 * 1024) : 512 * 1024;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _current;
    private long _lastUpdate;
    private long _lastReportMs = -1000;
    private bool _ended;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => total;
    public override long Position { get => _current; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        _current += n;
        if (n == 0)
        {
            if (!_ended) Report(force: true);
            _ended = true;
        }
        else if (_current - _lastUpdate > _every || _current == total)
        {
            _lastUpdate = _current;
            Report(force: _current == total);
        }
        return n;
    }

    /// <summary>Reads whatever is left (e.g. a tar's end padding), so the final report covers the whole stream.</summary>
    public void DrainToEnd()
    {
        var buf = new byte[64 * 1024];
        while (Read(buf) > 0) { }
    }

    private void Report(bool force)
    {
        long now = _clock.ElapsedMilliseconds;
        if (!force && now - _lastReportMs < 100) return;
        _lastReportMs = now;
        report(id, _current, total);
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}
