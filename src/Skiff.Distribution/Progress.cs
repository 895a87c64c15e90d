namespace Skiff.Distribution;

/// <summary>
/// One progress event of a pull or push, in Docker's vocabulary: <see cref="Status"/> is the text Docker shows
/// ("Pulling fs layer", "Downloading", "Pull complete", "Digest: sha256:..."), <see cref="Id"/> the short layer ID or tag
/// the line belongs to (null for whole-operation lines), <see cref="Current"/>/<see cref="Total"/> the byte counts of a
/// progress bar. <see cref="Aux"/> is set on push's final event. The API layer turns these into Docker's JSON message stream.
/// </summary>
public sealed record ProgressEvent(string Status, string? Id = null, long? Current = null, long? Total = null)
{
    /// <summary>True for events that carry a (possibly empty) progress detail, as Docker's per-layer lines do.</summary>
    public bool HasDetail { get; init; }
    public PushResult? Aux { get; init; }
}

/// <summary>Push's final result: the tag, the manifest digest and the manifest's size.</summary>
public sealed record PushResult(string Tag, string Digest, long Size);

/// <summary>Receives progress events; called from several threads (serialise inside).</summary>
public delegate void ProgressSink(ProgressEvent e);
