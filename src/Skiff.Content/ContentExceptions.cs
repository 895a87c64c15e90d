namespace Skiff.Content;

/// <summary>No blob with this digest is stored (maps to "not found").</summary>
public sealed class ContentNotFoundException(Digest digest)
    : Exception($"content {digest} not found")
{
    public Digest Digest { get; } = digest;
}

/// <summary>Ingested data did not hash to the expected digest; nothing was committed (maps to "invalid argument").</summary>
public sealed class DigestMismatchException(Digest expected, Digest actual)
    : Exception($"digest mismatch: expected {expected}, got {actual}")
{
    public Digest Expected { get; } = expected;
    public Digest Actual { get; } = actual;
}
