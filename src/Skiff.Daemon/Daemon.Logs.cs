using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Skiff.Daemon;

/// <summary>One line (or partial line) of container output with its stream and time.</summary>
public readonly record struct LogEntry(bool Stderr, DateTimeOffset Time, byte[] Line);

/// <summary>What `docker logs` asks for.</summary>
public sealed class LogsOptions
{
    public bool Stdout { get; init; } = true;
    public bool Stderr { get; init; } = true;
    public bool Follow { get; init; }
    /// <summary>Only the last N entries; negative for all.</summary>
    public int Tail { get; init; } = -1;
    public DateTimeOffset? Since { get; init; }
    public DateTimeOffset? Until { get; init; }
}

public sealed partial class Daemon
{
    /// <summary>
    /// Reads the container's json-file log (rotated files oldest first), then, with Follow, keeps
    /// reading new entries until the container stops or <paramref name="ct"/> fires. A tail reads
    /// only the end of the file, so its cost is proportional to what is asked.
    /// </summary>
    public async IAsyncEnumerable<LogEntry> LogsAsync(string idOrName, LogsOptions options, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var c = Containers.Get(idOrName);
        if (c.Record.HostConfig.LogType is "none")
            throw DaemonException.Invalid("configured logging driver does not support reading");
        var path = c.Record.LogPath;
        var exited = c.Record.State.Running ? c.NextExit() : Task.FromResult(default(WaitResult));

        var files = RotatedPaths(path).Where(File.Exists).ToList();
        files.Add(path);

        IEnumerable<LogEntry> initial;
        long position = 0;
        if (options.Tail >= 0)
        {
            initial = TailEntries(files, options.Tail, out position);
        }
        else
        {
            var list = new List<LogEntry>();
            foreach (var f in files)
            {
                var p = ReadEntries(f, 0, list.Add);
                if (f == path) position = p;
            }
            initial = list;
        }
        foreach (var e in initial)
            if (Wanted(e, options)) yield return e;
        if (!options.Follow || !c.Record.State.Running) yield break;

        // Follow by file handle, not by path: a rotated file keeps being read through its handle to
        // its end, then the files that followed it (found by inode among the rotated ones, oldest
        // first), then the live file. Files the writer deletes while open here stay readable.
        var buffered = new List<LogEntry>();
        var current = OpenLog(path);
        var currentIno = current is null ? 0 : Inode(current);
        if (current is not null && position > current.Length) position = 0;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var finished = exited.IsCompleted;
                var rotatedNow = false;
                buffered.Clear();
                if (current is null)
                {
                    current = OpenLog(path);
                    currentIno = current is null ? 0 : Inode(current);
                    position = 0;
                }
                if (current is not null)
                {
                    position = ReadEntries(current, position, buffered.Add);
                    var liveIno = PathInode(path);
                    if (liveIno != 0 && liveIno != currentIno)
                    {
                        // Rotated: what the writer added before moving on, then the successors.
                        position = ReadEntries(current, position, buffered.Add);
                        current.Dispose();
                        current = null;
                        rotatedNow = true;
                        var rotated = new List<(string Path, ulong Ino)>();
                        foreach (var r in RotatedPaths(path))
                            if (PathInode(r) is var ino and not 0) rotated.Add((r, ino));
                        var at = rotated.FindIndex(r => r.Ino == currentIno);
                        foreach (var (file, _) in rotated.Skip(at + 1))
                            if (OpenLog(file) is { } older) using (older) ReadEntries(older, 0, buffered.Add);
                    }
                }
                foreach (var e in buffered)
                {
                    if (options.Until is { } u && e.Time > u) yield break;
                    if (Wanted(e, options)) yield return e;
                }
                if (rotatedNow) continue;
                if (finished) yield break;
                try
                {
                    await Task.WhenAny(exited, Task.Delay(20, ct)).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    yield break;
                }
            }
        }
        finally
        {
            current?.Dispose();
        }
    }

    /// <summary>The rotated files of a json-file log, oldest first (<c>path.9</c> .. <c>path.1</c>; they may not exist).</summary>
    private static IEnumerable<string> RotatedPaths(string path)
    {
        for (var i = 9; i >= 1; i--) yield return $"{path}.{i}";
    }

    private static FileStream? OpenLog(string path)
    {
        try { return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1); }
        catch (FileNotFoundException) { return null; }
    }

    private static unsafe ulong Inode(FileStream f)
    {
        Linux.Libc.Statx st;
        return Linux.Libc.statx((int)f.SafeFileHandle.DangerousGetHandle(), "", Linux.Libc.AT_EMPTY_PATH, Linux.Libc.STATX_BASIC_STATS, &st) == 0 ? st.Ino : 0;
    }

    private static ulong PathInode(string path) => TryLstat(path, out var st) ? st.Ino : 0;

    /// <summary>Reads complete lines of an open log from <paramref name="offset"/>; returns the offset after the last complete line.</summary>
    private static long ReadEntries(FileStream f, long offset, Action<LogEntry> sink)
    {
        var length = f.Length;
        if (offset >= length) return offset;
        f.Position = offset;
        var data = new byte[length - offset];
        var read = 0;
        while (read < data.Length)
        {
            var n = f.Read(data, read, data.Length - read);
            if (n == 0) break;
            read += n;
        }
        var span = data.AsSpan(0, read);
        var consumed = 0;
        while (true)
        {
            var nl = span[consumed..].IndexOf((byte)'\n');
            if (nl < 0) break;
            if (TryParse(span.Slice(consumed, nl), out var e)) sink(e);
            consumed += nl + 1;
        }
        return offset + consumed;
    }

    private static bool Wanted(in LogEntry e, LogsOptions o) =>
        (e.Stderr ? o.Stderr : o.Stdout) &&
        (o.Since is null || e.Time >= o.Since) &&
        (o.Until is null || e.Time <= o.Until);

    /// <summary>
    /// Reads complete lines of the file at <paramref name="path"/> from <paramref name="offset"/> (from the start if
    /// the file is now shorter); returns the offset after the last complete line, 0 if the file is gone.
    /// </summary>
    private static long ReadEntries(string path, long offset, Action<LogEntry> sink)
    {
        using var f = OpenLog(path);
        if (f is null) return 0;
        return ReadEntries(f, offset > f.Length ? 0 : offset, sink);
    }

    /// <summary>The last <paramref name="n"/> entries, reading backwards in blocks from the end of the files.</summary>
    private static List<LogEntry> TailEntries(List<string> files, int n, out long livePosition)
    {
        var result = new List<LogEntry>();
        livePosition = 0;
        for (var fi = files.Count - 1; fi >= 0 && result.Count < n; fi--)
        {
            using var f = OpenLog(files[fi]);
            if (f is null) continue;
            var end = f.Length;
            if (fi == files.Count - 1) livePosition = end;
            var lines = new List<LogEntry>();
            var pos = end;
            var carry = Array.Empty<byte>();
            var first = true;
            while (pos > 0 && result.Count + lines.Count < n)
            {
                var size = (int)Math.Min(64 * 1024, pos);
                pos -= size;
                var block = new byte[size + carry.Length];
                f.Position = pos;
                f.ReadExactly(block, 0, size);
                carry.CopyTo(block, size);
                var span = block.AsSpan();
                var lastNl = span.LastIndexOf((byte)'\n');
                if (first)
                {
                    // A partly written last line is left for the follower to pick up.
                    if (lastNl < 0) { carry = block; continue; }
                    if (fi == files.Count - 1) livePosition = pos + lastNl + 1;
                    span = span[..lastNl];
                    first = false;
                }
                while (result.Count + lines.Count < n)
                {
                    var nl = span.LastIndexOf((byte)'\n');
                    if (nl < 0) break;
                    if (TryParse(span[(nl + 1)..], out var e)) lines.Add(e);
                    span = span[..nl];
                }
                carry = span.ToArray();
                if (pos == 0 && carry.Length > 0 && result.Count + lines.Count < n && TryParse(carry, out var e0))
                    lines.Add(e0);
            }
            lines.Reverse();
            result.InsertRange(0, lines);
        }
        if (result.Count > n) result.RemoveRange(0, result.Count - n);
        return result;
    }

    private static bool TryParse(ReadOnlySpan<byte> json, out LogEntry entry)
    {
        entry = default;
        if (json.IsEmpty) return false;
        try
        {
            var reader = new Utf8JsonReader(json);
            byte[]? log = null;
            var stderr = false;
            DateTimeOffset time = default;
            while (reader.Read())
            {
                if (reader.TokenType != JsonTokenType.PropertyName) continue;
                if (reader.ValueTextEquals("log"u8)) { reader.Read(); log = System.Text.Encoding.UTF8.GetBytes(reader.GetString() ?? ""); }
                else if (reader.ValueTextEquals("stream"u8)) { reader.Read(); stderr = reader.ValueTextEquals("stderr"u8); }
                else if (reader.ValueTextEquals("time"u8)) { reader.Read(); time = reader.GetDateTimeOffset(); }
                else reader.Skip();
            }
            if (log is null) return false;
            entry = new LogEntry(stderr, time, log);
            return true;
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            return false;
        }
    }
}
