using System.Runtime.InteropServices;
using System.Text;
using Skiff.Client;

namespace Skiff.Cli;

/// <summary>
/// Detects Docker's detach key sequence (default ctrl-p,ctrl-q) in terminal input. Bytes that
/// could start the sequence are held back; if the sequence breaks they are forwarded after all,
/// as Docker's escape proxy does.
/// </summary>
public sealed class EscapeDetector(byte[] keys)
{
    private int _matched;

    /// <summary>The default sequence: ctrl-p, ctrl-q.</summary>
    public static readonly byte[] DefaultKeys = [16, 17];

    /// <summary>
    /// Parses Docker's --detach-keys syntax: comma-separated "ctrl-X" (X in a-z, @, [, \, ], ^, _)
    /// or single characters. Throws <see cref="FormatException"/> for anything else.
    /// </summary>
    public static byte[] ParseKeys(string spec)
    {
        var result = new List<byte>();
        foreach (string key in spec.Split(','))
        {
            if (key.Length > 1 && key.StartsWith("ctrl-", StringComparison.Ordinal) && key.Length == 6)
            {
                char c = key[5];
                if (c is >= 'a' and <= 'z') result.Add((byte)(c - 'a' + 1));
                else if (c is '@' or '[' or '\\' or ']' or '^' or '_') result.Add((byte)(c - '@'));
                else throw new FormatException($"Invalid escape keys ({spec}) provided");
            }
            else if (key.Length == 1) result.Add((byte)key[0]);
            else throw new FormatException($"Invalid escape keys ({spec}) provided");
        }
        return result.ToArray();
    }

    /// <summary>
    /// Feeds input; appends the bytes to forward to <paramref name="forward"/>. Returns true when
    /// the full sequence was seen (the sequence itself is never forwarded).
    /// </summary>
    public bool Feed(ReadOnlySpan<byte> input, List<byte> forward)
    {
        foreach (byte b in input)
        {
            if (b == keys[_matched])
            {
                _matched++;
                if (_matched == keys.Length) return true;
                continue;
            }
            for (int i = 0; i < _matched; i++) forward.Add(keys[i]);
            _matched = 0;
            if (b == keys[0]) { _matched = 1; if (keys.Length == 1) return true; }
            else forward.Add(b);
        }
        return false;
    }
}

/// <summary>
/// Pumps a hijacked connection to the local terminal or pipes: output demultiplexed (or raw with a
/// TTY), stdin forwarded from a background thread with stdin EOF half-closing the connection,
/// raw mode and SIGWINCH resizing when the local side is a terminal.
/// </summary>
public static class AttachPump
{
    /// <summary>
    /// Runs until the daemon ends the output. Returns true if the user detached with the escape
    /// sequence. <paramref name="resize"/> is called with (rows, cols) initially and on SIGWINCH.
    /// </summary>
    public static async Task<bool> RunAsync(CliContext ctx, HijackedConnection conn, bool tty, bool sendStdin, string? detachKeys, Func<int, int, Task>? resize)
    {
        ctx.Out.Flush();
        Stream stdout = ctx.RawOut;
        Stream stderr = ctx.RawErr;
        bool localTty = tty && sendStdin && Terminal.IsTerminal(0);
        if (localTty) Terminal.MakeRaw();
        PosixSignalRegistration? winch = null;
        try
        {
            if (tty && resize is not null && Terminal.GetSize(Terminal.IsTerminal(1) ? 1 : 0) is { } size)
            {
                await SafeResize(resize, size.Rows, size.Cols).ConfigureAwait(false);
                winch = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, c =>
                {
                    c.Cancel = true;
                    if (Terminal.GetSize(Terminal.IsTerminal(1) ? 1 : 0) is { } s) _ = SafeResize(resize, s.Rows, s.Cols);
                });
            }
            var detached = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (sendStdin)
            {
                byte[] keys = detachKeys is null ? EscapeDetector.DefaultKeys : EscapeDetector.ParseKeys(detachKeys);
                var thread = new Thread(() => PumpStdin(conn, tty ? new EscapeDetector(keys) : null, detached)) { IsBackground = true, Name = "stdin" };
                thread.Start();
            }
            Task output = tty ? CopyRawAsync(conn, stdout) : new MultiplexedStreamReader(conn).CopyToAsync(stdout, stderr);
            Task done = await Task.WhenAny(output, detached.Task).ConfigureAwait(false);
            if (done == detached.Task && detached.Task.Result)
            {
                conn.Dispose();
                return true;
            }
            await output.ConfigureAwait(false);
            return false;
        }
        finally
        {
            winch?.Dispose();
            if (localTty) Terminal.RestoreIfRaw();
        }
    }

    private static async Task SafeResize(Func<int, int, Task> resize, int rows, int cols)
    {
        try { await resize(rows, cols).ConfigureAwait(false); }
        catch (EngineApiException) { }
        catch (IOException) { }
        catch (HttpRequestException) { }
    }

    private static async Task CopyRawAsync(Stream from, Stream to)
    {
        var buf = new byte[32 * 1024];
        int n;
        while ((n = await from.ReadAsync(buf).ConfigureAwait(false)) > 0)
        {
            await to.WriteAsync(buf.AsMemory(0, n)).ConfigureAwait(false);
            await to.FlushAsync().ConfigureAwait(false);
        }
    }

    private static void PumpStdin(HijackedConnection conn, EscapeDetector? escape, TaskCompletionSource<bool> detached)
    {
        try
        {
            using Stream stdin = FdStream.Stdin();
            var buf = new byte[4096];
            var forward = new List<byte>(4096);
            int n;
            while ((n = stdin.Read(buf, 0, buf.Length)) > 0)
            {
                if (escape is null)
                {
                    conn.Write(buf, 0, n);
                    continue;
                }
                forward.Clear();
                bool hit = escape.Feed(buf.AsSpan(0, n), forward);
                if (forward.Count > 0) conn.Write(CollectionsMarshal.AsSpan(forward).ToArray(), 0, forward.Count);
                if (hit)
                {
                    detached.TrySetResult(true);
                    return;
                }
            }
            conn.CloseWrite();
        }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
        catch (System.Net.Sockets.SocketException) { }
        detached.TrySetResult(false);
    }
}

/// <summary>Prints Docker JSON progress streams (pull, push, import, load) line by line.</summary>
public static class ProgressPrinter
{
    /// <summary>
    /// Reads newline-delimited JSON messages; prints "id: status" (or status, or stream text).
    /// Progress-bar updates are skipped (as Docker does when the output is not a terminal). An error message throws
    /// <see cref="EngineStreamException"/>. Returns the last Aux.ID or status seen.
    /// </summary>
    public static async Task<string?> PrintAsync(Stream body, TextWriter w, bool quiet = false)
    {
        using var reader = new StreamReader(body, Encoding.UTF8);
        string? last = null;
        string? line;
        while ((line = await reader.ReadLineAsync().ConfigureAwait(false)) is not null)
        {
            if (line.Trim().Length == 0) continue;
            Client.Models.JsonMessage? m;
            try { m = System.Text.Json.JsonSerializer.Deserialize(line, Client.Models.ApiJson.Default.JsonMessage); }
            catch (System.Text.Json.JsonException) { continue; }
            if (m is null) continue;
            if (m.ErrorDetail?.Message is { } em) throw new EngineStreamException(em);
            if (m.Error is { } e) throw new EngineStreamException(e);
            if (m.Aux?.ID is { } auxId) last = auxId;
            if (quiet) { if (m.Status is { } s0) last ??= s0; continue; }
            if (m.Stream is { } text) { w.Write(text); continue; }
            if (m.Status is null) continue;
            // Without a terminal Docker drops progress-bar updates and prints every other status.
            if (!string.IsNullOrEmpty(m.Progress)) continue;
            w.WriteLine(m.Id is { Length: > 0 } ? $"{m.Id}: {m.Status}" : m.Status);
            last = m.Status;
        }
        w.Flush();
        return last;
    }
}
