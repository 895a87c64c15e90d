namespace Skiff.Client;

/// <summary>
/// Where the daemon listens: a unix socket path or a TCP host and port (plain HTTP).
/// Parsed from Docker's host syntax: <c>unix:///run/skiff/skiff.sock</c>, <c>tcp://127.0.0.1:2375</c>.
/// </summary>
public sealed record EngineEndpoint(string Original, string? SocketPath, string? TcpHost, int TcpPort)
{
    /// <summary>The daemon address used when neither <c>-H</c> nor <c>SKIFF_HOST</c> is given.</summary>
    public const string DefaultHost = "unix:///run/skiff/skiff.sock";

    /// <summary>True when the endpoint is a unix socket.</summary>
    public bool IsUnix => SocketPath is not null;

    /// <summary>
    /// Parses a host string. A bare absolute path is taken as a unix socket; <c>tcp://</c> and
    /// <c>http://</c> default to port 2375 as Docker's CLI does. Throws <see cref="FormatException"/>
    /// with Docker's wording for anything else.
    /// </summary>
    public static EngineEndpoint Parse(string host)
    {
        string h = host.Trim();
        if (h.StartsWith("unix://", StringComparison.Ordinal))
        {
            string path = h["unix://".Length..];
            if (path.Length == 0) throw new FormatException($"invalid bind address ({host}): empty socket path");
            return new EngineEndpoint(host, path, null, 0);
        }
        if (h.StartsWith('/')) return new EngineEndpoint("unix://" + h, h, null, 0);
        string rest;
        if (h.StartsWith("tcp://", StringComparison.Ordinal)) rest = h["tcp://".Length..];
        else if (h.StartsWith("http://", StringComparison.Ordinal)) rest = h["http://".Length..];
        else throw new FormatException($"unable to parse docker host `{host}`");
        rest = rest.TrimEnd('/');
        string hostPart = rest;
        int port = 2375;
        int colon = rest.LastIndexOf(':');
        if (colon >= 0 && !rest.EndsWith(']'))
        {
            hostPart = rest[..colon];
            if (!int.TryParse(rest[(colon + 1)..], out port) || port <= 0 || port > 65535)
                throw new FormatException($"invalid bind address format: {host}");
        }
        hostPart = hostPart.Trim('[', ']');
        if (hostPart.Length == 0) hostPart = "127.0.0.1";
        return new EngineEndpoint(host, null, hostPart, port);
    }
}
