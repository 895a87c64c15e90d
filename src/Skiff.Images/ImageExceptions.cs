namespace Skiff.Images;

/// <summary>How an image-store failure should be reported (the API layer maps these to 404/409/400).</summary>
public enum ImageErrorKind
{
    /// <summary>No such image or reference (HTTP 404).</summary>
    NotFound,
    /// <summary>The operation conflicts with current state: image in use, referenced by several repositories, has children (HTTP 409).</summary>
    Conflict,
    /// <summary>Bad input: invalid reference, malformed or malicious archive, unknown change instruction (HTTP 400).</summary>
    InvalidArgument,
}

/// <summary>Base of every classified error thrown by <see cref="ImageStore"/>; anything else is an internal error (HTTP 500).</summary>
public abstract class ImageStoreException(ImageErrorKind kind, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public ImageErrorKind Kind { get; } = kind;
}

/// <summary>Docker's wording: <c>No such image: busybox:latest</c>.</summary>
public sealed class ImageNotFoundException(string reference)
    : ImageStoreException(ImageErrorKind.NotFound, $"No such image: {reference}")
{
    public string Reference { get; } = reference;
}

public sealed class ImageConflictException(string message) : ImageStoreException(ImageErrorKind.Conflict, message);

public sealed class InvalidImageArgumentException(string message, Exception? inner = null)
    : ImageStoreException(ImageErrorKind.InvalidArgument, message, inner);
