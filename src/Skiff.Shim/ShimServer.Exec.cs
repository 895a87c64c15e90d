using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using Skiff.Linux;

namespace Skiff.Shim;

public sealed partial class ShimServer
{
    /// <summary>The stream id of the frame that ends an exec stream: its 4-byte payload is the exit code.</summary>
    public const byte ExitFrame = 255;

    /// <summary>The pty masters of running exec'd processes with a terminal, by pid, for <c>resize</c>.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, FileStream> _execTerminals = new();

    /// <summary>Exec'd processes whose output loop has not ended yet.</summary>
    private int _execsRunning;

    private void ResizeExec(int pid, int rows, int cols)
    {
        // A process that just ended (or has no terminal) has nothing to resize: a late resize is not an error.
        if (!_execTerminals.TryGetValue(pid, out var terminal)) return;
        Skiff.Runtime.PtyMaster.Resize(terminal.SafeFileHandle, (ushort)rows, (ushort)cols);
    }

    /// <summary>
    /// Runs an exec'd process for one connection: answers <c>{"pid":N}</c>, then streams its output
    /// in Docker's framing (stream 1 for a terminal), forwards the client's bytes to its stdin, and
    /// ends with an <see cref="ExitFrame"/> carrying the exit code.
    /// </summary>
    private async Task<bool> ExecAsync(Socket client, ShimRequest request)
    {
        var task = Running();
        (int Read, int Write) stdin = (-1, -1), stdout = (-1, -1), stderr = (-1, -1);
        int pid;
        Stream? terminal;
        try
        {
            if (!request.Tty)
            {
                if (request.Stdin) stdin = Pipes.Create();
                stdout = Pipes.Create();
                stderr = Pipes.Create();
            }
            (pid, terminal) = task.Exec(request, stdin.Read, stdout.Write, stderr.Write);
        }
        catch
        {
            foreach (var fd in new[] { stdin.Read, stdin.Write, stdout.Read, stdout.Write, stderr.Read, stderr.Write })
                if (fd >= 0) Libc.close(fd);
            throw;
        }
        foreach (var fd in new[] { stdin.Read, stdout.Write, stderr.Write })
            if (fd >= 0) Libc.close(fd);

        var sendLock = new object();
        void Send(ReadOnlySpan<byte> frame)
        {
            lock (sendLock)
            {
                var sent = 0;
                while (sent < frame.Length) sent += client.Send(frame[sent..]);
            }
        }
        if (terminal is FileStream pty) _execTerminals[pid] = pty;
        Send(JsonSerializer.SerializeToUtf8Bytes(new ShimResponse { Pid = pid }, ShimJson.Default.ShimResponse));
        Send("\n"u8);

        // One thread per exec'd process copies its output and waits for its exit (see OutputLoop).
        int[] outputs = terminal is FileStream master
            ? [LinuxException.ThrowIfError(Libc.fcntl((int)master.SafeFileHandle.DangerousGetHandle(), Libc.F_DUPFD_CLOEXEC, 0), "fcntl", "F_DUPFD_CLOEXEC")]
            : [stdout.Read, stderr.Read];
        Stream? input = terminal ?? (stdin.Write >= 0 ? new FileStream(new SafeFileHandle(stdin.Write, ownsHandle: true), FileAccess.Write, 1) : null);
        if (request.Stdin && input is not null) _ = Task.Run(() => CopyInputAsync(client, input, closeAtEnd: terminal is null));

        Interlocked.Increment(ref _execsRunning);
        new Thread(() =>
        {
            var clientGone = false;
            var code = OutputLoop.Run(outputs, pid, () => task.Reap(pid), (i, buffer, n) =>
            {
                if (clientGone) return; // keep draining, so the process never blocks on a full pipe
                buffer[0] = terminal is not null ? (byte)1 : (byte)(i + 1);
                buffer[1] = buffer[2] = buffer[3] = 0;
                BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(4), n);
                try { Send(buffer.AsSpan(0, n + OutputLoop.HeaderRoom)); }
                catch (Exception e) when (e is SocketException or ObjectDisposedException) { clientGone = true; }
            }, TimeSpan.FromSeconds(2));
            _execTerminals.TryRemove(pid, out _);
            var trailer = new byte[12];
            trailer[0] = ExitFrame;
            BinaryPrimitives.WriteInt32BigEndian(trailer.AsSpan(4), 4);
            BinaryPrimitives.WriteInt32BigEndian(trailer.AsSpan(8), code);
            try
            {
                Send(trailer);
                client.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
            client.Dispose();
            terminal?.Dispose();
            // The last exec of a burst gives its garbage back, off the path of the next exec's answer.
            if (Interlocked.Decrement(ref _execsRunning) == 0)
            {
                Thread.Sleep(OutputLoop.IdleMs);
                if (Volatile.Read(ref _execsRunning) == 0) TrimMemory();
            }
        }) { IsBackground = true, Name = "exec" }.Start();
        return await Task.FromResult(true).ConfigureAwait(false);
    }

    private static async Task CopyInputAsync(Socket client, Stream target, bool closeAtEnd)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var n = await client.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false);
                if (n == 0) break;
                await target.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
                await target.FlushAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
        }
        if (closeAtEnd) await target.DisposeAsync().ConfigureAwait(false);
    }
}
