namespace Skiff.Archive;

/// <summary>The kind of a tar entry after PAX/GNU extension headers have been folded in.</summary>
public enum TarEntryType
{
    RegularFile,
    HardLink,
    SymbolicLink,
    CharacterDevice,
    BlockDevice,
    Directory,
    Fifo,
}

/// <summary>
/// One member of a tar archive with every extension (PAX records, GNU long names) already applied.
/// Names use '/' separators and never carry a trailing slash; <see cref="Xattrs"/> values are the
/// raw bytes from the archive (binary values such as <c>security.capability</c> stay byte-exact).
/// </summary>
public sealed class TarEntry
{
    public TarEntry(string name, TarEntryType type)
    {
        Name = name;
        Type = type;
    }

    /// <summary>Path inside the archive, without a trailing slash ("" or "." for the root).</summary>
    public string Name { get; set; }
    public TarEntryType Type { get; set; }
    /// <summary>Permission bits including setuid/setgid/sticky (07777).</summary>
    public uint Mode { get; set; }
    public int Uid { get; set; }
    public int Gid { get; set; }
    public string UserName { get; set; } = "";
    public string GroupName { get; set; } = "";
    /// <summary>Length of the data of a regular file; 0 for every other type.</summary>
    public long Size { get; set; }
    public DateTimeOffset ModificationTime { get; set; } = DateTimeOffset.UnixEpoch;
    public DateTimeOffset? AccessTime { get; set; }
    /// <summary>Target of a symlink (as written) or of a hard link (an archive path).</summary>
    public string LinkName { get; set; } = "";
    public uint DevMajor { get; set; }
    public uint DevMinor { get; set; }
    /// <summary>Extended attributes by full name (e.g. <c>security.capability</c>).</summary>
    public Dictionary<string, byte[]> Xattrs { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The entry's data while the reader is positioned on it (regular files only); it is
    /// invalidated by the next <see cref="TarReader.GetNextEntry"/>.
    /// </summary>
    public Stream? DataStream { get; internal set; }

    public override string ToString() => $"{Type} {Name}";
}
