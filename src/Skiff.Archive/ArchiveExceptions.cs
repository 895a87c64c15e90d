namespace Skiff.Archive;

/// <summary>
/// A malformed archive: bad header checksum, truncated data, an unsupported extension. The
/// archive cannot be read further.
/// </summary>
public class InvalidArchiveException : Exception
{
    public InvalidArchiveException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// An archive entry that cannot be applied: its <see cref="EntryName"/> names the offending member
/// so that a user can tell which layer entry is at fault. Extraction stops at the first such entry.
/// </summary>
public class ArchiveEntryException : InvalidArchiveException
{
    public ArchiveEntryException(string entryName, string reason, Exception? inner = null)
        : base($"invalid archive entry '{entryName}': {reason}", inner)
    {
        EntryName = entryName;
        Reason = reason;
    }

    public string EntryName { get; }
    public string Reason { get; }
}

/// <summary>
/// An entry that would write outside the extraction root (a <c>..</c> escape, a path through a
/// symlink that leads out of the root, a hard link to a file outside). Nothing of this entry has
/// been written when it is thrown.
/// </summary>
public sealed class UnsafeArchiveEntryException : ArchiveEntryException
{
    public UnsafeArchiveEntryException(string entryName, string reason) : base(entryName, reason) { }
}
