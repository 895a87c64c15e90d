using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Skiff.Archive;
using Skiff.Build.Dockerfile;
using Skiff.Images;

namespace Skiff.Build;

public sealed partial class Builder
{
    /// <summary>One entry of a COPY/ADD layer, keyed by its destination path.</summary>
    private sealed class CopyItem
    {
        public required TarEntryType Type { get; init; }
        public uint Mode { get; init; }
        public int Uid { get; init; }
        public int Gid { get; init; }
        public DateTimeOffset Mtime { get; init; }
        public string LinkName { get; init; } = "";
        public ISourceTree? Tree { get; init; }
        public SourceNode? Node { get; init; }
        public byte[]? Inline { get; init; }
        public string? File { get; init; }
    }

    private sealed class VirtualFile(byte[] content) : ISourceTree
    {
        public SourceNode? Lookup(string path) => null;
        public IReadOnlyList<SourceNode> Children(string dir) => [];
        public Stream Open(SourceNode node) => new MemoryStream(content, writable: false);
    }

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromMinutes(10) };

    private async Task CopyStepAsync(Run run, State state, Instruction ins, ShellWords lex)
    {
        bool add = ins.Keyword == "ADD";
        var words = ins.Args.Select(a => Expand(ins, () => lex.Word(a))).ToList();
        var sources = words[..^1];
        string dest = words[^1];
        string? chown = ins.Flag("chown") is { } co ? Expand(ins, () => lex.Word(co)) : null;
        string? chmodText = ins.Flag("chmod") is { } cm ? Expand(ins, () => lex.Word(cm)) : null;
        string? from = ins.Flag("from") is { } fr ? Expand(ins, () => lex.Word(fr)) : null;
        if (add && from is not null) throw Fail(ins, "ADD does not support --from");
        var excludePatterns = ins.Flags.Where(f => f.Key == "exclude").Select(f => Expand(ins, () => lex.Word(f.Value))).ToList();
        var exclude = excludePatterns.Count > 0 ? new DockerIgnore(excludePatterns) : null;
        bool parents = ins.Flag("parents") is { } pv && FlagBool(ins, "parents", pv);
        // ADD --unpack: local archives are unpacked unless it is false, remote ones only when it is true (BuildKit's defaults).
        bool? unpack = ins.Flag("unpack") is { } uv ? FlagBool(ins, "unpack", uv) : null;
        string? checksum = ins.Flag("checksum") is { } ck ? Expand(ins, () => lex.Word(ck)) : null;
        if (checksum is not null)
        {
            if (!System.Text.RegularExpressions.Regex.IsMatch(checksum, "^sha256:[0-9a-f]{64}$"))
                throw Fail(ins, $"invalid checksum digest format \"{checksum}\" (sha256:<64 hex digits>)");
            if (sources.Any(src => !IsUrl(src))) throw Fail(ins, "checksum can't be specified for non-HTTP(S) sources");
        }
        uint? chmod = null;
        if (chmodText is not null)
        {
            try { chmod = Convert.ToUInt32(chmodText, 8); }
            catch (Exception e) when (e is FormatException or OverflowException) { throw Fail(ins, $"invalid chmod parameter: {chmodText}"); }
            if (chmod > 0xFFF) throw Fail(ins, $"invalid chmod parameter: {chmodText}");
        }

        ISourceTree tree = run.Context;
        string sourceId = "context";
        if (from is not null)
        {
            var stage = FindStage(run.Stages, from.ToLowerInvariant(), int.MaxValue);
            string id;
            if (stage is not null)
            {
                if (!stage.Built) throw Fail(ins, $"stage {from} is not built before it is used");
                id = stage.ImageId ?? throw Fail(ins, $"stage {from} produced no image");
            }
            else
            {
                id = await ResolveBaseAsync(from, null, run).ConfigureAwait(false);
            }
            tree = new ImageTree(_store.LayerPaths(id), _store.Ids);
            sourceId = "image " + id;
        }

        var imageTree = ImageTreeOf(state.ImageId);
        var (uid, gid) = chown is null ? (0, 0) : Chown(ins, chown, imageTree);
        string workdir = state.Config.WorkingDir is { Length: > 0 } wd ? wd : "/";
        bool destDirSyntax = dest.EndsWith('/') || dest == "." || dest.EndsWith("/.", StringComparison.Ordinal);
        string destAbs = dest.StartsWith('/') ? dest : workdir.TrimEnd('/') + "/" + dest;
        string destClean = SourceTrees.Clean(destAbs);
        string destResolved = imageTree is null ? destClean : SourceTrees.Resolve(imageTree, destClean, followFinal: true);
        bool destExistsAsDir = imageTree?.Lookup(destResolved) is { Type: TarEntryType.Directory };

        // What the sources are.
        var matches = new List<(ISourceTree Tree, SourceNode Node, string Kind, string Keep)>();
        foreach (var src in sources)
        {
            var heredoc = src.StartsWith("<<", StringComparison.Ordinal)
                ? ins.Heredocs.FirstOrDefault(h => src.TrimStart('<', '-').Trim('"', '\'') == h.Name) : null;
            if (heredoc is not null)
            {
                string content = heredoc.Expand ? Expand(ins, () => lex.Word("\"" + heredoc.Content.Replace("\"", "\\\"") + "\"")) : heredoc.Content;
                var bytes = Encoding.UTF8.GetBytes(content);
                matches.Add((new VirtualFile(bytes), new SourceNode
                {
                    Path = heredoc.Name, Type = TarEntryType.RegularFile, Mode = 0x1A4, Size = bytes.Length, Sha256 = SHA256.HashData(bytes),
                    ModificationTime = DateTimeOffset.UnixEpoch,
                }, "file", ""));
                continue;
            }
            if (add && IsUrl(src))
            {
                matches.Add((tree, new SourceNode { Path = src, Type = TarEntryType.RegularFile }, "url", ""));
                continue;
            }
            if (add && src.Contains("://", StringComparison.Ordinal)) throw Fail(ins, $"unsupported source URL: {src}");
            // --parents keeps each source's directories (below a "/./" pivot, if the source has one) under the destination.
            int pivot = src.IndexOf("/./", StringComparison.Ordinal);
            string pivotBase = parents && pivot >= 0 ? SourceTrees.Clean(src[..pivot]) : "";
            string Keep(SourceNode n)
            {
                if (!parents) return "";
                string rel = pivotBase.Length == 0 ? n.Path : n.Path.StartsWith(pivotBase + "/", StringComparison.Ordinal) ? n.Path[(pivotBase.Length + 1)..] : n.Name;
                return rel.Contains('/') ? rel[..rel.LastIndexOf('/')] : "";
            }
            if (src.IndexOfAny(['*', '?', '[']) >= 0)
            {
                var found = Glob(tree, src);
                if (exclude is not null) found = found.Where(n => !exclude.Excludes(n.Name)).ToList();
                if (found.Count == 0) throw Fail(ins, $"{ins.Keyword} failed: no source files were specified");
                matches.AddRange(found.Select(n => (tree, n, "path", Keep(n))));
                continue;
            }
            string resolved = SourceTrees.Resolve(tree, src, followFinal: false);
            var node = tree.Lookup(resolved)
                ?? throw new BuildException(from is null
                    ? $"{ins.Keyword} failed: file not found in build context or excluded by .dockerignore: stat {SourceTrees.Clean(src)}: file does not exist"
                    : $"{ins.Keyword} failed: stat {SourceTrees.Clean(src)}: file does not exist");
            if (exclude is not null && node.Type != TarEntryType.Directory && exclude.Excludes(node.Name)) continue;
            matches.Add((tree, node, "path", Keep(node)));
        }
        if (matches.Count == 0) throw Fail(ins, $"{ins.Keyword} failed: no source files were specified");
        if (matches.Count > 1 && !destDirSyntax && !destExistsAsDir && !parents)
            throw Fail(ins, $"When using {ins.Keyword} with more than one source file, the destination must be a directory and end with a /");
        bool destIsDir = destDirSyntax || destExistsAsDir || matches.Count > 1 || parents;

        // Plan the layer.
        var items = new SortedDictionary<string, CopyItem>(StringComparer.Ordinal);
        var archives = new List<(ISourceTree Tree, SourceNode Node, string Dest)>();
        var downloads = new List<string>();
        var contentKey = new StringBuilder();
        foreach (var (t, node, kind, keep) in matches)
        {
            string destBase = keep.Length == 0 ? destResolved : Join(destResolved, keep);
            if (kind == "url")
            {
                var (file, name, sha) = await DownloadAsync(ins, node.Path, run.Ct).ConfigureAwait(false);
                if (checksum is not null && checksum != "sha256:" + sha)
                {
                    File.Delete(file);
                    throw Fail(ins, $"digest mismatch {checksum}: sha256:{sha}");
                }
                if (unpack == true)
                {
                    var downloaded = new DownloadedFile(file);
                    var fileNode = new SourceNode { Path = name, Type = TarEntryType.RegularFile, Size = new FileInfo(file).Length };
                    if (IsArchive(downloaded, fileNode))
                    {
                        downloads.Add(file);
                        archives.Add((downloaded, fileNode, destResolved));
                        contentKey.Append("archive-url ").Append(destResolved).Append(' ').Append(sha).Append('\n');
                        continue;
                    }
                }
                string target = destIsDir ? Join(destResolved, name) : destResolved;
                items[target] = new CopyItem { Type = TarEntryType.RegularFile, Mode = chmod ?? 0x180, Uid = uid, Gid = gid, File = file, Mtime = DateTimeOffset.UtcNow };
                contentKey.Append("url ").Append(target).Append(' ').Append(sha).Append('\n');
                continue;
            }
            if (node.Type == TarEntryType.Directory)
            {
                // With --parents a directory source keeps its own name too.
                string dirDest = parents && node.Path.Length > 0 ? Join(destBase, node.Name) : destBase;
                AddTree(items, t, node, dirDest, uid, gid, chmod, chown is not null, exclude, "");
                continue;
            }
            string targetPath = destIsDir ? Join(destBase, node.Name) : destResolved;
            if (add && unpack != false && node.Type == TarEntryType.RegularFile && kind == "path" && t is BuildContext && IsArchive(t, node))
            {
                archives.Add((t, node, destResolved));
                contentKey.Append("archive ").Append(destResolved).Append(' ').Append(Convert.ToHexStringLower(SourceTrees.Hash(t, node))).Append('\n');
                continue;
            }
            items[targetPath] = Item(t, node, uid, gid, chmod, chown is not null);
        }

        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (path, item) in items)
        {
            string digest = item.Node is { Type: TarEntryType.RegularFile } n && item.Tree is not null && (sourceId == "context" || item.Tree is VirtualFile)
                ? Convert.ToHexStringLower(SourceTrees.Hash(item.Tree, n)) : item.File is not null ? "url" : "";
            contentKey.Append(path).Append(' ').Append((int)item.Type).Append(' ').Append(Convert.ToString(item.Mode, 8))
                .Append(' ').Append(item.Uid).Append(':').Append(item.Gid).Append(' ').Append(item.LinkName).Append(' ').Append(digest).Append('\n');
            if (digest.Length > 0) files["/" + path] = digest;
        }

        string canonical = ins.Keyword + (chown is not null ? " --chown=" + chown : "") + (chmodText is not null ? " --chmod=" + chmodText : "")
            + (from is not null ? " --from=" + from : "") + (parents ? " --parents" : "") + (unpack is { } u ? " --unpack=" + (u ? "true" : "false") : "")
            + (checksum is not null ? " --checksum=" + checksum : "") + string.Concat(excludePatterns.Select(e => " --exclude=" + e))
            + " " + string.Join(' ', sources) + " " + dest;
        string stepId = BuildCache.StepId(state.ImageId, canonical);
        string key = Key(state.ImageId, canonical, sourceId, contentKey.ToString());
        var previous = _cache.Get(stepId);
        try
        {
            if (TryCache(run, state, canonical, key, previous, "", files)) return;
            state.Rebuilt = true;
            string createdBy = "/bin/sh -c #(nop) " + ins.Keyword + " " + (from is null ? "" : "--from=" + from + " ")
                + (chown is null ? "" : "--chown=" + chown + " ") + "file:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(contentKey.ToString()))) + " in " + dest + " ";
            var image = Commit(state, createdBy, s => WriteCopyLayer(s, imageTree, items, archives, destResolved, uid, gid, chown is not null));
            Remember(stepId, key, image.Id, "", files);
            run.Progress.Stream($" ---> {image.ShortId}\n");
        }
        finally
        {
            foreach (var item in items.Values)
                if (item.File is not null) File.Delete(item.File);
            foreach (var file in downloads) File.Delete(file);
        }
    }

    private static bool IsUrl(string src) =>
        src.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || src.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    /// <summary>A downloaded ADD source on the host, read as a one-file tree (to unpack it like a context archive).</summary>
    private sealed class DownloadedFile(string path) : ISourceTree
    {
        public SourceNode? Lookup(string p) => null;
        public IReadOnlyList<SourceNode> Children(string dir) => [];
        public Stream Open(SourceNode node) => File.OpenRead(path);
    }

    private static string Join(string dir, string name) => dir.Length == 0 ? name : dir + "/" + name;

    private static CopyItem Item(ISourceTree tree, SourceNode node, int uid, int gid, uint? chmod, bool chowned) => new()
    {
        Type = node.Type,
        Mode = chmod ?? node.Mode,
        Uid = chowned || tree is BuildContext or VirtualFile ? uid : node.Uid,
        Gid = chowned || tree is BuildContext or VirtualFile ? gid : node.Gid,
        Mtime = node.ModificationTime,
        LinkName = node.LinkName,
        Tree = tree,
        Node = node,
    };

    /// <summary>
    /// A directory source: its contents go into <paramref name="dest"/> (links copied as links, never followed). Entries
    /// whose path below the source (<paramref name="rel"/>) <c>--exclude</c> matches are left out; an excluded directory is
    /// still walked when a <c>!</c> pattern could take something below it back.
    /// </summary>
    private static void AddTree(SortedDictionary<string, CopyItem> items, ISourceTree tree, SourceNode dir, string dest, int uid, int gid, uint? chmod,
        bool chowned, DockerIgnore? exclude, string rel)
    {
        if (dest.Length > 0 && !items.ContainsKey(dest) && (rel.Length == 0 || exclude is null || !exclude.Excludes(rel)))
            items[dest] = Item(tree, dir, uid, gid, chmod, chowned);
        foreach (var child in tree.Children(dir.Path))
        {
            string target = Join(dest, child.Name);
            string childRel = Join(rel, child.Name);
            bool excluded = exclude is not null && exclude.Excludes(childRel);
            if (child.Type == TarEntryType.Directory)
            {
                if (!excluded || exclude!.HasExclusions) AddTree(items, tree, child, target, uid, gid, chmod, chowned, exclude, childRel);
                continue;
            }
            if (!excluded) items[target] = Item(tree, child, uid, gid, chmod, chowned);
        }
    }

    private static bool FlagBool(Instruction ins, string name, string value) => value.ToLowerInvariant() switch
    {
        "true" or "1" => true,
        "false" or "0" => false,
        _ => throw Fail(ins, $"invalid value for --{name}: \"{value}\""),
    };

    /// <summary>Wildcard sources (Go filepath.Match per path component), matched against the tree without following links.</summary>
    private static List<SourceNode> Glob(ISourceTree tree, string pattern)
    {
        var parts = SourceTrees.Clean(pattern).Split('/', StringSplitOptions.RemoveEmptyEntries);
        var current = new List<string> { "" };
        foreach (var part in parts)
        {
            var next = new List<string>();
            bool wild = part.IndexOfAny(['*', '?', '[']) >= 0;
            foreach (var dir in current)
            {
                string d = dir.Length == 0 ? "" : SourceTrees.Resolve(tree, dir, followFinal: true);
                if (!wild)
                {
                    string p = Join(d, part);
                    if (tree.Lookup(p) is not null) next.Add(p);
                    continue;
                }
                foreach (var child in tree.Children(d))
                    if (DockerIgnore.Match(part, child.Name)) next.Add(child.Path);
            }
            current = next;
        }
        return current.Select(p => tree.Lookup(p)).OfType<SourceNode>().ToList();
    }

    /// <summary>Whether a context file is a tar archive (plain, gzip or zstd) that ADD unpacks.</summary>
    private static bool IsArchive(ISourceTree tree, SourceNode node)
    {
        if (node.Size == 0) return false;
        try
        {
            using var raw = tree.Open(node);
            using var plain = Compression.OpenDecompressed(raw, out _);
            var header = new byte[512];
            int n = 0;
            while (n < 512)
            {
                int r = plain.Read(header, n, 512 - n);
                if (r == 0) break;
                n += r;
            }
            if (n < 512) return false;
            if (Encoding.ASCII.GetString(header, 257, 5) == "ustar") return true;
            // Old-style tar: a valid header checksum.
            long sum = 0;
            for (int i = 0; i < 512; i++) sum += i is >= 148 and < 156 ? 32 : header[i];
            string stored = Encoding.ASCII.GetString(header, 148, 8).Trim('\0', ' ');
            return stored.Length > 0 && Convert.ToInt64(stored, 8) == sum;
        }
        catch (Exception e) when (e is InvalidArchiveException or InvalidDataException or FormatException or IOException)
        {
            return false;
        }
    }

    private (int Uid, int Gid) Chown(Instruction ins, string spec, ImageTree? image)
    {
        int colon = spec.IndexOf(':');
        string user = colon < 0 ? spec : spec[..colon];
        string? group = colon < 0 ? null : spec[(colon + 1)..];
        int uid, gid;
        string[]? passwd = null;
        if (int.TryParse(user, NumberStyles.None, CultureInfo.InvariantCulture, out uid))
        {
            gid = uid;
            if (group is null) return (uid, uid);
        }
        else
        {
            passwd = ReadImageFile(image, "etc/passwd");
            var line = passwd?.Select(l => l.Split(':')).FirstOrDefault(f => f.Length >= 4 && f[0] == user)
                ?? throw Fail(ins, $"unable to convert uid/gid chown string to host mapping: can't find uid for user {user}: no such user: {user}");
            uid = int.Parse(line[2], CultureInfo.InvariantCulture);
            gid = int.Parse(line[3], CultureInfo.InvariantCulture);
        }
        if (group is not null)
        {
            if (!int.TryParse(group, NumberStyles.None, CultureInfo.InvariantCulture, out gid))
            {
                var line = ReadImageFile(image, "etc/group")?.Select(l => l.Split(':')).FirstOrDefault(f => f.Length >= 3 && f[0] == group)
                    ?? throw Fail(ins, $"unable to convert uid/gid chown string to host mapping: can't find gid for group {group}: no such group: {group}");
                gid = int.Parse(line[2], CultureInfo.InvariantCulture);
            }
        }
        return (uid, gid);
    }

    private static string[]? ReadImageFile(ImageTree? image, string path)
    {
        if (image is null) return null;
        var node = image.Lookup(SourceTrees.Resolve(image, path, followFinal: true));
        if (node is not { Type: TarEntryType.RegularFile }) return null;
        using var s = image.Open(node);
        using var r = new StreamReader(s);
        return r.ReadToEnd().Split('\n');
    }

    private async Task<(string File, string Name, string Sha)> DownloadAsync(Instruction ins, string url, CancellationToken ct)
    {
        Directory.CreateDirectory(_tempRoot);
        string file = Path.Combine(_tempRoot, "download-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        try
        {
            using var response = await Http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw Fail(ins, $"failed to GET {url} with status {(int)response.StatusCode} {response.ReasonPhrase}");
            using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await using (var fs = new FileStream(file, FileMode.CreateNew, FileAccess.Write))
            {
                var buffer = new byte[1 << 16];
                int n;
                while ((n = await body.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
                {
                    hash.AppendData(buffer, 0, n);
                    await fs.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                }
            }
            string name = Uri.TryCreate(url, UriKind.Absolute, out var uri) ? Path.GetFileName(uri.AbsolutePath) : "";
            if (name.Length == 0 || name is "." or "..") name = "__unnamed__";
            return (file, name, Convert.ToHexStringLower(hash.GetHashAndReset()));
        }
        catch (HttpRequestException e)
        {
            File.Delete(file);
            throw Fail(ins, $"failed to GET {url}: {e.Message}");
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            File.Delete(file);
            throw Fail(ins, $"failed to GET {url}: timed out");
        }
    }

    /// <summary>Writes every parent directory of <paramref name="rel"/> not yet written, copying an existing directory's metadata from the image.</summary>
    private static void WriteParents(TarWriter w, ImageTree? image, string rel, bool includeSelf, (int Uid, int Gid)? owner, HashSet<string> written)
    {
        var parts = rel.Split('/', StringSplitOptions.RemoveEmptyEntries);
        string p = "";
        int count = includeSelf ? parts.Length : parts.Length - 1;
        for (int i = 0; i < count; i++)
        {
            p = i == 0 ? parts[0] : p + "/" + parts[i];
            if (!written.Add(p)) continue;
            var existing = image?.Lookup(p);
            var entry = new TarEntry(p, TarEntryType.Directory);
            if (existing is { Type: TarEntryType.Directory })
            {
                entry.Mode = existing.Mode;
                entry.Uid = existing.Uid;
                entry.Gid = existing.Gid;
                entry.ModificationTime = existing.ModificationTime;
            }
            else
            {
                entry.Mode = 0x1ED;
                entry.Uid = owner?.Uid ?? 0;
                entry.Gid = owner?.Gid ?? 0;
                entry.ModificationTime = DateTimeOffset.UtcNow;
            }
            w.WriteEntry(entry);
        }
    }

    private static void WriteCopyLayer(Stream s, ImageTree? image, SortedDictionary<string, CopyItem> items,
        List<(ISourceTree Tree, SourceNode Node, string Dest)> archives, string destRoot, int uid, int gid, bool chowned)
    {
        using var w = new TarWriter(s, leaveOpen: true);
        var written = new HashSet<string>(StringComparer.Ordinal);
        (int, int)? owner = chowned ? (uid, gid) : null;
        foreach (var (path, item) in items)
        {
            WriteParents(w, image, path, includeSelf: false, owner, written);
            if (item.Type == TarEntryType.Directory && written.Contains(path)) continue;
            var entry = new TarEntry(path, item.Type) { Mode = item.Mode, Uid = item.Uid, Gid = item.Gid, ModificationTime = item.Mtime, LinkName = item.LinkName };
            if (item.Type == TarEntryType.Directory)
            {
                written.Add(path);
                if (image?.Lookup(path) is { Type: TarEntryType.Directory } existing && !chowned && item.Node?.Path.Length == 0)
                {
                    entry.Mode = existing.Mode;
                    entry.Uid = existing.Uid;
                    entry.Gid = existing.Gid;
                }
                w.WriteEntry(entry);
            }
            else if (item.Type == TarEntryType.RegularFile)
            {
                if (item.File is not null)
                {
                    using var fs = File.OpenRead(item.File);
                    entry.Size = fs.Length;
                    w.WriteEntry(entry, fs);
                }
                else
                {
                    using var data = item.Tree!.Open(item.Node!);
                    entry.Size = item.Node!.Size;
                    w.WriteEntry(entry, data);
                }
            }
            else if (item.Type == TarEntryType.SymbolicLink)
            {
                w.WriteEntry(entry);
            }
        }
        foreach (var (tree, node, dest) in archives)
        {
            WriteParents(w, image, dest, includeSelf: true, owner, written);
            using var raw = tree.Open(node);
            using var plain = Compression.OpenDecompressed(raw, out _);
            using var reader = new TarReader(plain);
            while (reader.GetNextEntry() is { } e)
            {
                string name = SourceTrees.Clean(e.Name);
                if (name.Length == 0) continue;
                e.Name = Join(dest, name);
                if (e.Type == TarEntryType.HardLink) e.LinkName = Join(dest, SourceTrees.Clean(e.LinkName));
                w.WriteEntry(e, e.Type == TarEntryType.RegularFile ? e.DataStream : null);
            }
        }
        _ = destRoot;
        w.Finish();
    }
}
