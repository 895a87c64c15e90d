namespace Skiff.Distribution;

public enum DistributionErrorKind
{
    /// <summary>The registry failed, answered something unusable, or could not be reached.</summary>
    Upstream,
    /// <summary>Repository, manifest, tag or platform not found.</summary>
    NotFound,
    /// <summary>The registry refused the credentials (or none were given and it needs some).</summary>
    Unauthorized,
    /// <summary>Bad reference or argument.</summary>
    InvalidArgument,
}

/// <summary>An expected failure of a registry operation, classified so the daemon can map it to an API status.</summary>
public sealed class DistributionException : Exception
{
    public DistributionException(string message, Exception? inner = null) : base(message, inner) { }

    public DistributionErrorKind Kind { get; init; } = DistributionErrorKind.Upstream;
}
