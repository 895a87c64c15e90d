using System.Net;

namespace Skiff.Client;

/// <summary>
/// The daemon answered with an error status. <see cref="Exception.Message"/> is the daemon's
/// <c>{"message": ...}</c> text (or the raw body when it is not JSON), unprefixed;
/// callers add Docker's "Error response from daemon: " prefix when printing.
/// </summary>
public sealed class EngineApiException(HttpStatusCode status, string message) : Exception(message)
{
    /// <summary>The HTTP status the daemon returned.</summary>
    public HttpStatusCode Status { get; } = status;

    /// <summary>The text Docker's CLI prints for this error.</summary>
    public string DisplayMessage => "Error response from daemon: " + Message;
}

/// <summary>The daemon could not be reached at all (socket missing, connection refused).</summary>
public sealed class EngineConnectionException(string host, Exception inner)
    : Exception($"Cannot connect to the Skiff daemon at {host}. Is the skiff daemon running?", inner);
