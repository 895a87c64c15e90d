using Skiff.Linux;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace Skiff.Shim;

/// <summary>Options of one shim, from its command line.</summary>
public sealed class ShimOptions
{
    public required string Id { get; init; }
    public required string Bundle { get; init; }
    public required string LogPath { get; init; }
    public long LogMaxSize { get; init; } = 20 * 1024 * 1024;
    public int LogMaxFiles { get; init; } = 5;
    public bool Terminal { get; init; }
    public bool OpenStdin { get; init; }
    /// <summary>Close the container's stdin once the first attached client closes its side (Docker's StdinOnce).</summary>
    public bool StdinOnce { get; init; }
    /// <summary>
    /// Removes the shim's socket path (while it is still this shim's). Called once the container has exited (or failed to
    /// start) and before anyone can learn of it: the daemon only starts the container again, binding a new shim at the
    /// same path, after it has that answer, so the old shim can never remove the new one's socket.
    /// </summary>
    public Action? ReleaseSocket { get; init; }
}

/// <summary>
/// The per-container shim: owns the container's init process (its exit code) and its output (log
/// file and attached clients), and answers the daemon on <c>shim.sock</c>. It outlives the daemon.
/// </summary>
public sealed partial class ShimServer
{
    private readonly ShimOptions _options;
    private readonly Func<LaunchRequest, IContainerTask> _launch;
    private readonly List<Socket> _attached = [];
    private readonly object _lock = new();
    private readonly TaskCompletionSource<ShimResponse> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly (int Read, int Write) _stdinPipe = (-1, -1);
    /// <summary>Set by a start request, a failed start, or the end: wakes <see cref="Run"/>.</summary>
    private readonly ManualResetEventSlim _wake = new();
    private IContainerTask? _task;
    /// <summary>The fds the container's output arrives on (stdout and stderr pipes, or a dup of the pty master).</summary>
    private int[]? _output;
    private FileStream? _stdin;
    private JsonFileLog? _log;
    private DateTimeOffset _startedAt;
    private bool _startRequested;

    public ShimServer(ShimOptions options, Func<LaunchRequest, IContainerTask> launch)
    {
        _options = options;
        _launch = launch;
        // The stdin pipe exists from the start: a client attached before the container starts
        // (docker run -i) may send input at once, and the pipe holds it until the process reads.
        if (options.OpenStdin && !options.Terminal)
        {
            _stdinPipe = Pipes.Create();
            _stdin = new FileStream(new SafeFileHandle(_stdinPipe.Write, ownsHandle: true), FileAccess.Write, 1);
        }
    }

    /// <summary>Completes when the shim has nothing left to do (container exited and reported, or start failed).</summary>
    public Task Done => _done.Task;

    /// <summary>Accepts clients until <see cref="Done"/>; each connection carries one op.</summary>
    public async Task ServeAsync(Socket listener)
    {
        while (!_done.Task.IsCompleted)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            _ = Task.Run(() => HandleAsync(client));
        }
    }

    private async Task HandleAsync(Socket client)
    {
        var keep = false;
        var stream = new NetworkStream(client, ownsSocket: false);
        try
        {
            var line = await ShimClient.ReadLineAsync(stream, CancellationToken.None).ConfigureAwait(false);
            if (line is null) return;
            var request = JsonSerializer.Deserialize(line, ShimJson.Default.ShimRequest) ?? new ShimRequest();
            ShimResponse response;
            try
            {
                switch (request.Op)
                {
                    case "attach":
                        keep = await AttachAsync(client, stream, request.Stdin).ConfigureAwait(false);
                        return;
                    case "exec":
                        keep = await ExecAsync(client, request).ConfigureAwait(false);
                        return;
                    case "start":
                        response = Start();
                        break;
                    case "wait":
                        response = await _exited.Task.ConfigureAwait(false);
                        await Reply(stream, response).ConfigureAwait(false);
                        // The daemon (the only waiter) has the exit: nothing is left to do.
                        _done.TrySetResult();
                        _wake.Set();
                        return;
                    case "kill":
                        (_task ?? throw new InvalidOperationException("container is not running")).Kill(request.Signal);
                        response = new ShimResponse();
                        break;
                    case "pause":
                        Running().Pause();
                        response = new ShimResponse();
                        break;
                    case "resume":
                        Running().Resume();
                        response = new ShimResponse();
                        break;
                    case "pids":
                        response = new ShimResponse { Pids = [.. Running().Pids()] };
                        break;
                    case "resize":
                        if (request.Pid != 0) ResizeExec(request.Pid, request.Rows, request.Cols);
                        else _task?.Resize(request.Rows, request.Cols);
                        response = new ShimResponse();
                        break;
                    case "state":
                        response = _exited.Task.IsCompleted ? _exited.Task.Result
                            : new ShimResponse { Pid = _task?.Pid ?? 0, Running = _task is not null, StartedAt = _startedAt };
                        break;
                    case "shutdown":
                        response = new ShimResponse();
                        if (_exited.Task.IsCompleted || _task is null)
                        {
                            _done.TrySetResult();
                            _wake.Set();
                        }
                        break;
                    default:
                        response = new ShimResponse { Error = $"unknown op {request.Op}" };
                        break;
                }
            }
            catch (Exception e)
            {
                response = new ShimResponse { Error = e.Message };
            }
            await Reply(stream, response).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or JsonException)
        {
        }
        finally
        {
            if (!keep) client.Dispose();
        }
    }

    private IContainerTask Running() =>
        _task is not null && !_exited.Task.IsCompleted ? _task : throw new InvalidOperationException("container is not running");

    private static async Task Reply(Stream stream, ShimResponse response)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(response, ShimJson.Default.ShimResponse);
        await stream.WriteAsync(bytes).ConfigureAwait(false);
        await stream.WriteAsync("\n"u8.ToArray()).ConfigureAwait(false);
    }

    /// <summary>Registers an attached client; returns true when the socket is kept open for output.</summary>
    private async Task<bool> AttachAsync(Socket client, NetworkStream stream, bool stdin)
    {
        if (_exited.Task.IsCompleted)
        {
            await Reply(stream, new ShimResponse { Error = "container has exited" }).ConfigureAwait(false);
            return false;
        }
        // Acknowledge and register under the output lock: no frame can precede the acknowledgement,
        // and none produced after it (the daemon starts the container once it has it) is missed.
        var ack = JsonSerializer.SerializeToUtf8Bytes(new ShimResponse(), ShimJson.Default.ShimResponse);
        lock (_lock)
        {
            client.Send(ack);
            client.Send("\n"u8);
            _attached.Add(client);
        }
        if (stdin && _options.OpenStdin) _ = Task.Run(() => PumpStdinAsync(client));
        return true;
    }

    private async Task PumpStdinAsync(Socket client)
    {
        var buffer = new byte[32 * 1024];
        try
        {
            while (true)
            {
                var n = await client.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false);
                if (n == 0) break;
                if (_options.Terminal) await _started.Task.ConfigureAwait(false);
                Stream? target;
                lock (_lock) target = _options.Terminal ? _task?.Terminal : _stdin;
                if (target is null) continue;
                await target.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
                await target.FlushAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
        }
        if (_options.StdinOnce && !_options.Terminal)
        {
            lock (_lock)
            {
                _stdin?.Dispose();
                _stdin = null;
            }
        }
    }

    private ShimResponse Start()
    {
        lock (_lock)
        {
            if (_startRequested) throw new InvalidOperationException("container already started");
            _startRequested = true;
        }
        _log = new JsonFileLog(_options.LogPath, _options.LogMaxSize, _options.LogMaxFiles);
        (int Read, int Write) stdin = (_stdinPipe.Read, -1), stdout = (-1, -1), stderr = (-1, -1);
        try
        {
            if (!_options.Terminal)
            {
                stdout = Pipes.Create();
                stderr = Pipes.Create();
            }
            _task = _launch(new LaunchRequest
            {
                Id = _options.Id,
                Bundle = _options.Bundle,
                Terminal = _options.Terminal,
                StdinFd = stdin.Read,
                StdoutFd = stdout.Write,
                StderrFd = stderr.Write,
            });
        }
        catch
        {
            foreach (var fd in new[] { stdin.Read, stdin.Write, stdout.Read, stdout.Write, stderr.Read, stderr.Write })
                if (fd >= 0) Libc.close(fd);
            _options.ReleaseSocket?.Invoke();
            _done.TrySetResult();
            _wake.Set();
            throw;
        }
        _startedAt = DateTimeOffset.UtcNow;
        // The child has its copies now; closing ours lets the pumps see EOF when the container's end closes.
        foreach (var fd in new[] { stdin.Read, stdout.Write, stderr.Write })
            if (fd >= 0) Libc.close(fd);

        // The output is copied and the exit awaited by the thread that called Run (the shim's main thread).
        _output = _options.Terminal
            ? [LinuxException.ThrowIfError(Libc.fcntl((int)((FileStream)_task.Terminal!).SafeFileHandle.DangerousGetHandle(), Libc.F_DUPFD_CLOEXEC, 0), "fcntl", "F_DUPFD_CLOEXEC")]
            : [stdout.Read, stderr.Read];
        var task = _task;
        _started.TrySetResult();
        _wake.Set();
        return new ShimResponse { Pid = task.Pid, Running = true, StartedAt = _startedAt };
    }

    /// <summary>
    /// Runs the shim on the calling thread until <see cref="Done"/>: waits for the start (a minute at
    /// most when nobody asks: the daemon died before), then copies the container's output to the log
    /// and the attached clients until it exits, records the exit, and lingers 5 s for the daemon to
    /// collect it (it says <c>shutdown</c> sooner). No timer or extra thread is involved.
    /// </summary>
    public void Run()
    {
        if (!_wake.Wait(TimeSpan.FromMinutes(1)))
        {
            lock (_lock)
            {
                if (!_startRequested)
                {
                    _done.TrySetResult();
                    return;
                }
            }
            _wake.Wait();
        }
        if (_output is null || _task is null) return;
        var task = _task;
        var names = _options.Terminal ? new[] { "stdout" } : ["stdout", "stderr"];
        var code = OutputLoop.Run(_output, task.Pid, task.WaitForExit, (i, buffer, n) =>
        {
            _log!.Write(names[i], buffer.AsSpan(OutputLoop.HeaderRoom, n));
            Broadcast(buffer, n, _options.Terminal ? (byte)0 : (byte)(i + 1));
        }, TimeSpan.FromSeconds(2), onIdle: TrimMemory);
        Exited(task, code);
        // Done once the daemon's "wait" has the answer; if the daemon is down, exit.json keeps it.
        _done.Task.Wait(TimeSpan.FromSeconds(5));
        _done.TrySetResult();
    }

    /// <summary>
    /// A full compacting collection that returns the freed heap to the kernel: called when the shim
    /// goes idle (container started and quiet for a moment, exec ended), since what it allocated to get there is garbage and
    /// the gen0 pages would otherwise stay committed for the container's lifetime.
    /// </summary>
    internal static void TrimMemory() => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    private void Exited(IContainerTask task, int code)
    {
        var oom = false;
        try { oom = task.OomKilled; } catch (IOException) { }
        try { task.Delete(); } catch (Exception) { }
        var finished = DateTimeOffset.UtcNow;
        var record = new ExitRecord { ExitCode = code, OomKilled = oom, FinishedAt = finished };
        ShimFiles.WriteExit(_options.Bundle, record);
        // After exit.json (a daemon that cannot connect from now on reads it) and before the answer to "wait".
        _options.ReleaseSocket?.Invoke();
        _log?.Dispose();
        lock (_lock)
        {
            foreach (var s in _attached)
            {
                try { s.Shutdown(SocketShutdown.Both); } catch (SocketException) { }
                s.Dispose();
            }
            _attached.Clear();
            _stdin?.Dispose();
            task.Terminal?.Dispose();
        }
        _exited.TrySetResult(new ShimResponse { Exited = true, ExitCode = code, OomKilled = oom, StartedAt = _startedAt, FinishedAt = finished });
    }

    /// <summary>
    /// Sends output to every attached client: raw for a terminal, otherwise in Docker's
    /// multiplexed framing (stream id, 3 zero bytes, big-endian length) so the daemon can pass it through.
    /// </summary>
    private void Broadcast(byte[] buffer, int n, byte streamId)
    {
        ReadOnlySpan<byte> frame;
        if (streamId == 0)
        {
            frame = buffer.AsSpan(8, n);
        }
        else
        {
            buffer[0] = streamId;
            buffer[1] = buffer[2] = buffer[3] = 0;
            BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(4), n);
            frame = buffer.AsSpan(0, n + 8);
        }
        lock (_lock)
        {
            for (var i = _attached.Count - 1; i >= 0; i--)
            {
                try
                {
                    var s = _attached[i];
                    var sent = 0;
                    while (sent < frame.Length) sent += s.Send(frame[sent..]);
                }
                catch (SocketException)
                {
                    _attached[i].Dispose();
                    _attached.RemoveAt(i);
                }
            }
        }
    }
}
