namespace Skiff.Volumes;

/// <summary>How a volume operation failed; the daemon maps each kind to its own error kinds.</summary>
public enum VolumeErrorKind
{
    InvalidArgument,
    NotFound,
    Conflict,
}

/// <summary>A volume failure with a message written for the user (Docker's wording where it has one).</summary>
public sealed class VolumeException(VolumeErrorKind kind, string message, Exception? inner = null) : Exception(message, inner)
{
    public VolumeErrorKind Kind { get; } = kind;
}
