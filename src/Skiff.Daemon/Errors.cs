namespace Skiff.Daemon;

/// <summary>How a failure is classified; the API layer maps each kind to one HTTP status in one place.</summary>
public enum ErrorKind
{
    InvalidArgument,
    NotFound,
    Conflict,
    NotModified,
    Forbidden,
    /// <summary>A registry refused the credentials.</summary>
    Unauthorized,
    Unavailable,
    Internal,
}

/// <summary>
/// A daemon-core failure with its classification. Messages are written for the user (they are what
/// `docker` prints after "Error response from daemon:").
/// </summary>
public class DaemonException : Exception
{
    public DaemonException(ErrorKind kind, string message, Exception? inner = null) : base(message, inner) => Kind = kind;

    public ErrorKind Kind { get; }

    public static DaemonException NotFound(string message) => new(ErrorKind.NotFound, message);
    public static DaemonException Conflict(string message) => new(ErrorKind.Conflict, message);
    public static DaemonException Invalid(string message) => new(ErrorKind.InvalidArgument, message);
    public static DaemonException NotModified(string message) => new(ErrorKind.NotModified, message);
    public static DaemonException Forbidden(string message) => new(ErrorKind.Forbidden, message);
}
