using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Skiff.Shim;

/// <summary>
/// A connection to one container's shim. Each request/response op uses its own short connection;
/// <see cref="AttachAsync"/> keeps its connection as the container's output stream.
/// </summary>
public sealed class ShimClient
{
    private readonly string _socketPath;

    /// <param name="socketPath">The shim's socket (see <c>--socket</c> of the shim).</param>
    public ShimClient(string socketPath) => _socketPath = socketPath;

    /// <summary>Sends one op and reads its answer. Throws <see cref="SocketException"/> when the shim is gone.</summary>
    public async Task<ShimResponse> CallAsync(ShimRequest request, CancellationToken ct = default)
    {
        using var socket = await ConnectAsync(ct).ConfigureAwait(false);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await SendAsync(stream, request, ct).ConfigureAwait(false);
        var line = await ReadLineAsync(stream, ct).ConfigureAwait(false)
            ?? throw new IOException("shim closed the connection without answering");
        var response = JsonSerializer.Deserialize(line, ShimJson.Default.ShimResponse) ?? new ShimResponse();
        if (response.Error is not null) throw new ShimException(response.Error);
        return response;
    }

    /// <summary>
    /// Opens an attach stream: after the shim's acknowledgement the stream carries the container's
    /// output (Docker's 8-byte multiplexed frames, or raw bytes for a tty) until the container
    /// exits; bytes written to it go to the container's stdin when <paramref name="stdin"/> is set,
    /// and shutting down the write side closes that stdin.
    /// </summary>
    public async Task<Socket> AttachAsync(bool stdin, CancellationToken ct = default)
    {
        var socket = await ConnectAsync(ct).ConfigureAwait(false);
        try
        {
            var stream = new NetworkStream(socket, ownsSocket: false);
            await SendAsync(stream, new ShimRequest { Op = "attach", Stdin = stdin }, ct).ConfigureAwait(false);
            var line = await ReadLineAsync(stream, ct).ConfigureAwait(false) ?? throw new IOException("shim refused attach");
            var response = JsonSerializer.Deserialize(line, ShimJson.Default.ShimResponse);
            if (response?.Error is not null) throw new ShimException(response.Error);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Parses one answer line of the shim.</summary>
    public static ShimResponse ParseResponse(string line) =>
        JsonSerializer.Deserialize(line, ShimJson.Default.ShimResponse) ?? new ShimResponse();

    /// <summary>Connects to the shim; the caller speaks the protocol (for streaming ops such as exec).</summary>
    public async Task<Socket> ConnectAsync(CancellationToken ct = default)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(_socketPath), ct).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static async Task SendAsync(Stream stream, ShimRequest request, CancellationToken ct)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(request, ShimJson.Default.ShimRequest);
        var buffer = new byte[bytes.Length + 1];
        bytes.CopyTo(buffer, 0);
        buffer[^1] = (byte)'\n';
        await stream.WriteAsync(buffer, ct).ConfigureAwait(false);
    }

    /// <summary>Reads one '\n'-terminated line byte by byte, so that nothing after it is consumed from the stream.</summary>
    public static async Task<string?> ReadLineAsync(Stream stream, CancellationToken ct)
    {
        using var line = new MemoryStream();
        var one = new byte[1];
        while (true)
        {
            var n = await stream.ReadAsync(one, ct).ConfigureAwait(false);
            if (n == 0) return line.Length == 0 ? null : Encoding.UTF8.GetString(line.GetBuffer(), 0, (int)line.Length);
            if (one[0] == (byte)'\n') return Encoding.UTF8.GetString(line.GetBuffer(), 0, (int)line.Length);
            line.WriteByte(one[0]);
            if (line.Length > 1 << 20) throw new IOException("shim line too long");
        }
    }
}

/// <summary>An op the shim answered with an error (its text is meant for the user).</summary>
public sealed class ShimException(string message) : Exception(message);
