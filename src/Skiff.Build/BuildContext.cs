using System.Security.Cryptography;
using System.Text;
using Skiff.Archive;
using Skiff.Content;

namespace Skiff.Build;

/// <summary>
/// The build context: the tar the client sent, indexed in memory, with file contents spooled to one temp file.
/// Nothing of the context is ever extracted onto the host, so a symlink in it cannot make a build read or write host
/// files: COPY reads contents from the spool at recorded offsets and resolves links inside this tree only
/// (<see cref="SourceTrees.Resolve"/>). Each regular file is hashed (sha256) while it is received, which is what the
/// build cache keys on (never mtimes).
/// </summary>
public sealed class BuildContext : ISourceTree, IDisposable
{
    private readonly Dictionary<string, SourceNode> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedSet<string>> _children = new(StringComparer.Ordinal);
    private readonly string _spoolPath;
    private readonly FileStream _spool;

    private BuildContext(string spoolPath)
    {
        _spoolPath = spoolPath;
        _spool = new FileStream(spoolPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, 1 << 16, FileOptions.DeleteOnClose);
        _nodes[""] = new SourceNode { Path = "", Type = TarEntryType.Directory, Mode = 0x1ED };
        _children[""] = new SortedSet<string>(StringComparer.Ordinal);
    }

    /// <summary>Reads a context tar (plain, gzip or zstd) from <paramref name="tar"/>; the spool file lives in <paramref name="tempDir"/>.</summary>
    /// <exception cref="BuildException">Not a valid archive.</exception>
    public static BuildContext Load(Stream tar, string tempDir)
    {
        Directory.CreateDirectory(tempDir);
        var ctx = new BuildContext(Path.Combine(tempDir, "context-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))));
        try
        {
            using var prefetch = new ReadAheadStream(tar);
            using var plain = Compression.OpenDecompressed(prefetch, out _, leaveOpen: true);
            using var padded = new ZeroPaddedStream(plain);
            using var reader = new TarReader(padded, leaveOpen: true);
            var buffer = new byte[1 << 17];
            while (reader.GetNextEntry() is { } e)
            {
                string path = SourceTrees.Clean(e.Name);
                if (path.Length == 0) continue;
                switch (e.Type)
                {
                    case TarEntryType.RegularFile:
                    {
                        long offset = ctx._spool.Position;
                        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                        var data = e.DataStream!;
                        int n;
                        while ((n = data.Read(buffer)) > 0)
                        {
                            hash.AppendData(buffer, 0, n);
                            ctx._spool.Write(buffer, 0, n);
                        }
                        ctx.Add(new SourceNode
                        {
                            Path = path, Type = e.Type, Mode = e.Mode, Uid = e.Uid, Gid = e.Gid, Size = ctx._spool.Position - offset,
                            ModificationTime = e.ModificationTime, Offset = offset, Sha256 = hash.GetHashAndReset(),
                        });
                        break;
                    }
                    case TarEntryType.HardLink:
                    {
                        string target = SourceTrees.Clean(e.LinkName);
                        if (!ctx._nodes.TryGetValue(target, out var t) || t.Type != TarEntryType.RegularFile)
                            throw new BuildException($"invalid build context: hard link {e.Name} to {e.LinkName}, which is not an earlier file");
                        ctx.Add(new SourceNode
                        {
                            Path = path, Type = TarEntryType.RegularFile, Mode = t.Mode, Uid = t.Uid, Gid = t.Gid, Size = t.Size,
                            ModificationTime = t.ModificationTime, Offset = t.Offset, Sha256 = t.Sha256,
                        });
                        break;
                    }
                    case TarEntryType.Directory:
                    case TarEntryType.SymbolicLink:
                        ctx.Add(new SourceNode
                        {
                            Path = path, Type = e.Type, Mode = e.Mode, Uid = e.Uid, Gid = e.Gid,
                            ModificationTime = e.ModificationTime, LinkName = e.Type == TarEntryType.SymbolicLink ? e.LinkName : "",
                        });
                        break;
                    default:
                        // Devices and fifos are not copied by builds.
                        break;
                }
            }
            ctx._spool.Flush();
            return ctx;
        }
        catch (InvalidArchiveException ex)
        {
            ctx.Dispose();
            throw new BuildException("invalid build context: " + ex.Message, ex);
        }
        catch
        {
            ctx.Dispose();
            throw;
        }
    }

    private void Add(SourceNode node)
    {
        EnsureParents(node.Path);
        if (_nodes.TryGetValue(node.Path, out var old) && old.Type == TarEntryType.Directory && node.Type != TarEntryType.Directory)
            RemoveTree(node.Path);
        _nodes[node.Path] = node;
        if (node.Type == TarEntryType.Directory && !_children.ContainsKey(node.Path)) _children[node.Path] = new SortedSet<string>(StringComparer.Ordinal);
    }

    private void EnsureParents(string path)
    {
        int slash = path.LastIndexOf('/');
        string parent = slash < 0 ? "" : path[..slash];
        if (!_nodes.TryGetValue(parent, out var p) || p.Type != TarEntryType.Directory)
        {
            EnsureParents(parent);
            _nodes[parent] = new SourceNode { Path = parent, Type = TarEntryType.Directory, Mode = 0x1ED };
            _children[parent] = new SortedSet<string>(StringComparer.Ordinal);
        }
        _children[parent].Add(path[(slash + 1)..]);
    }

    private void RemoveTree(string path)
    {
        if (_children.Remove(path, out var kids))
            foreach (var k in kids) RemoveTree(path.Length == 0 ? k : path + "/" + k);
        _nodes.Remove(path);
    }

    /// <summary>Number of entries (files, directories, links) in the context.</summary>
    public int Count => _nodes.Count - 1;

    public SourceNode? Lookup(string path) => _nodes.GetValueOrDefault(SourceTrees.Clean(path));

    public IReadOnlyList<SourceNode> Children(string dir)
    {
        dir = SourceTrees.Clean(dir);
        if (!_children.TryGetValue(dir, out var kids)) return [];
        return kids.Select(k => _nodes[dir.Length == 0 ? k : dir + "/" + k]).ToList();
    }

    public Stream Open(SourceNode node) => new SpoolSlice(_spoolPath, node.Offset, node.Size);

    /// <summary>Reads a small text file of the context (the Dockerfile, .dockerignore), following links inside the context; null when missing.</summary>
    public string? ReadText(string path)
    {
        var node = Lookup(SourceTrees.Resolve(this, path, followFinal: true));
        if (node is null || node.Type != TarEntryType.RegularFile) return null;
        using var s = Open(node);
        using var r = new StreamReader(s, Encoding.UTF8);
        return r.ReadToEnd();
    }

    /// <summary>Drops every path that <paramref name="ignore"/> excludes (a directory stays when something below it is re-included).</summary>
    public void Apply(DockerIgnore ignore)
    {
        if (ignore.IsEmpty) return;
        foreach (var path in _nodes.Keys.Where(p => p.Length > 0).OrderByDescending(p => p.Length).ToList())
        {
            if (!_nodes.TryGetValue(path, out var node)) continue;
            if (!ignore.Excludes(path)) continue;
            if (node.Type == TarEntryType.Directory && _children.TryGetValue(path, out var kids) && kids.Count > 0) continue;
            _nodes.Remove(path);
            _children.Remove(path);
            int slash = path.LastIndexOf('/');
            string parent = slash < 0 ? "" : path[..slash];
            if (_children.TryGetValue(parent, out var siblings)) siblings.Remove(path[(slash + 1)..]);
        }
    }

    public void Dispose() => _spool.Dispose();

    /// <summary>
    /// Ends the stream on a tar block boundary followed by two zero blocks. The Docker CLI's context for a Dockerfile
    /// outside the context directory ends right after the last file's data (no padding, no end marker), which dockerd
    /// accepts; so does this.
    /// </summary>
    private sealed class ZeroPaddedStream(Stream inner) : Stream
    {
        private long _position;
        private long _padding = -1;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_padding < 0)
            {
                int n = inner.Read(buffer);
                if (n > 0) { _position += n; return n; }
                _padding = (512 - _position % 512) % 512 + 1024;
            }
            int z = (int)Math.Min(buffer.Length, _padding);
            buffer[..z].Clear();
            _padding -= z;
            return z;
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A read-only window on the spool file (its own handle, so concurrent reads do not share a position).</summary>
    private sealed class SpoolSlice : Stream
    {
        private readonly FileStream _file;
        private readonly long _start;
        private readonly long _length;
        private long _pos;

        public SpoolSlice(string path, long start, long length)
        {
            _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
            _file.Position = start;
            _start = start;
            _length = length;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => _length;
        public override long Position { get => _pos; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            long left = _length - _pos;
            if (left <= 0) return 0;
            if (buffer.Length > left) buffer = buffer[..(int)left];
            int n = _file.Read(buffer);
            _pos += n;
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) _file.Dispose();
            base.Dispose(disposing);
        }
    }
}

/// <summary>A build that cannot go on: bad Dockerfile, missing file, failed step. The message is shown to the user as is.</summary>
public class BuildException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A RUN step whose command exited non-zero; <see cref="ExitCode"/> is what <c>docker build</c> exits with.</summary>
public sealed class BuildStepFailedException(string message, int exitCode) : BuildException(message)
{
    public int ExitCode { get; } = exitCode;
}
