using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;
using Skiff.Shim;

namespace Skiff.Daemon;

/// <summary>An exec instance: a process to run (or that ran) inside a running container.</summary>
public sealed class ExecRecord
{
    public string Id { get; init; } = "";
    public string ContainerId { get; init; } = "";
    public List<string> Cmd { get; init; } = [];
    public List<string> Env { get; init; } = [];
    public string WorkingDir { get; init; } = "";
    public string User { get; init; } = "";
    public bool Tty { get; init; }
    public bool Privileged { get; init; }
    public bool AttachStdin { get; init; }
    public bool AttachStdout { get; init; }
    public bool AttachStderr { get; init; }
    /// <summary>The detach sequence for an attached exec (Docker's format; default ctrl-p,ctrl-q).</summary>
    public string DetachKeys { get; init; } = "";
    public bool Running { get; internal set; }
    public int Pid { get; internal set; }
    /// <summary>Null until the process has exited.</summary>
    public int? ExitCode { get; internal set; }
    internal bool Started { get; set; }
}

public sealed partial class Daemon
{
    private readonly ConcurrentDictionary<string, ExecRecord> _execs = new();

    /// <summary>Creates an exec instance for a running container (Docker's exec create).</summary>
    public ExecRecord CreateExec(string idOrName, ExecRecord request)
    {
        var c = Containers.Get(idOrName);
        if (c.Record.State.Status == ContainerStatus.Paused) throw DaemonException.Conflict($"Container {c.Id} is paused, unpause the container before exec");
        if (!c.Record.State.Running) throw DaemonException.Conflict($"Container {c.Id} is not running");
        if (request.Cmd.Count == 0) throw DaemonException.Invalid("No exec command specified");
        var exec = new ExecRecord
        {
            Id = Names.NewId(),
            ContainerId = c.Id,
            Cmd = request.Cmd,
            // As dockerd: the container's process environment (links included) for the exec's tty, then the exec's own.
            Env = MergeEnv(ProcessEnv(c.Record.Config, LinkEnv(c.Record), request.Tty), request.Env),
            WorkingDir = string.IsNullOrEmpty(request.WorkingDir) ? c.Record.Config.WorkingDir : request.WorkingDir,
            User = string.IsNullOrEmpty(request.User) ? c.Record.Config.User : request.User,
            Tty = request.Tty,
            Privileged = request.Privileged,
            AttachStdin = request.AttachStdin,
            AttachStdout = request.AttachStdout,
            AttachStderr = request.AttachStderr,
            DetachKeys = request.DetachKeys,
        };
        _ = global::Skiff.Daemon.DetachKeys.Parse(request.DetachKeys);
        _execs[exec.Id] = exec;
        PublishContainer(c, "exec_create: " + string.Join(' ', exec.Cmd), ("execID", exec.Id));
        return exec;
    }

    public ExecRecord GetExec(string id) =>
        _execs.TryGetValue(id, out var e) ? e : throw DaemonException.NotFound($"No such exec instance: {id}");

    /// <summary>
    /// Starts an exec instance. With a client stream, its output is copied there (Docker's framing,
    /// raw for a tty) and the client's bytes go to the process's stdin, until the process exits;
    /// detached, the process runs on its own. Errors such as a missing executable are thrown before
    /// anything is written to the client.
    /// </summary>
    public async Task<Func<Stream?, CancellationToken, Task>> StartExecAsync(string id)
    {
        var exec = GetExec(id);
        lock (exec)
        {
            if (exec.Started) throw DaemonException.Conflict($"Error: Exec command {id} has already run");
            exec.Started = true;
        }
        var c = Containers.Get(exec.ContainerId);
        if (!c.Record.State.Running) throw DaemonException.Conflict($"Container {c.Id} is not running");
        var socket = await c.Shim.ConnectAsync().ConfigureAwait(false);
        var stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            await ShimClient.SendAsync(stream, new ShimRequest
            {
                Op = "exec", Args = exec.Cmd, Env = exec.Env, Cwd = exec.WorkingDir, User = exec.User,
                Tty = exec.Tty, Stdin = exec.AttachStdin, Privileged = exec.Privileged,
            }, default).ConfigureAwait(false);
            var line = await ShimClient.ReadLineAsync(stream, default).ConfigureAwait(false) ?? throw new IOException("shim closed the exec connection");
            var answer = ShimClient.ParseResponse(line);
            if (answer.Error is not null)
            {
                exec.ExitCode = ExecExitCodeForStartError(answer.Error, exec.Cmd.Count > 0 ? exec.Cmd[0] : "");
                var kind = exec.ExitCode is 126 or 127 ? ErrorKind.InvalidArgument : ErrorKind.Internal;
                throw new DaemonException(kind, "OCI runtime exec failed: " + answer.Error);
            }
            exec.Pid = answer.Pid;
            exec.Running = true;
            PublishContainer(c, "exec_start: " + string.Join(' ', exec.Cmd), ("execID", exec.Id));
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        // The exit code is always read from the shim to the end, whatever the client does: a client that
        // detaches (detach keys), goes away or never attached (Detach) only stops the forwarding.
        return async (client, ct) =>
        {
            var sink = new ExecSink { Client = client };
            var finished = FinishExecAsync(c, exec, stream, sink);
            using var detached = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (client is not null && exec.AttachStdin)
                _ = PumpInputAsync(client, socket, global::Skiff.Daemon.DetachKeys.Parse(exec.DetachKeys), ct)
                    .ContinueWith(t => { if (t.Result) detached.Cancel(); }, TaskScheduler.Default);
            var gone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (detached.Token.Register(() => gone.TrySetResult()))
                await Task.WhenAny(finished, gone.Task).ConfigureAwait(false);
            await sink.DetachAsync().ConfigureAwait(false);
        };
    }

    /// <summary>Where an exec's output goes while a client is attached; detaching waits for a frame being written.</summary>
    private sealed class ExecSink
    {
        public readonly SemaphoreSlim Lock = new(1, 1);
        public Stream? Client;

        public async Task DetachAsync()
        {
            await Lock.WaitAsync().ConfigureAwait(false);
            Client = null;
            Lock.Release();
        }
    }

    private async Task FinishExecAsync(Container c, ExecRecord exec, NetworkStream shim, ExecSink sink)
    {
        await using (shim)
        {
            exec.ExitCode = await PumpExecOutputAsync(shim, sink, exec).ConfigureAwait(false);
            exec.Running = false;
        }
        PublishContainer(c, "exec_die", ("execID", exec.Id), ("exitCode", exec.ExitCode.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    /// <summary>Forwards output frames to the attached client, if any, until the exit frame; returns the exit code (-1 if the shim went away).</summary>
    private static async Task<int> PumpExecOutputAsync(Stream shim, ExecSink sink, ExecRecord exec)
    {
        var header = new byte[8];
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                await shim.ReadExactlyAsync(header).ConfigureAwait(false);
                var length = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4));
                var payload = length <= buffer.Length ? buffer : new byte[length];
                await shim.ReadExactlyAsync(payload.AsMemory(0, length)).ConfigureAwait(false);
                if (header[0] == ShimServer.ExitFrame) return BinaryPrimitives.ReadInt32BigEndian(payload);
                if (!(header[0] == 2 ? exec.AttachStderr : exec.AttachStdout)) continue;
                await sink.Lock.WaitAsync().ConfigureAwait(false);
                try
                {
                    if (sink.Client is not { } client) continue;
                    if (!exec.Tty) await client.WriteAsync(header).ConfigureAwait(false);
                    await client.WriteAsync(payload.AsMemory(0, length)).ConfigureAwait(false);
                    await client.FlushAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
                {
                    sink.Client = null; // the client left; keep reading to learn the exit code
                }
                finally
                {
                    sink.Lock.Release();
                }
            }
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or SocketException)
        {
            return -1;
        }
    }
}
