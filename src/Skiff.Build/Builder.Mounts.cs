using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Skiff.Archive;
using Skiff.Build.Dockerfile;

namespace Skiff.Build;

public sealed partial class Builder
{
    /// <summary>Cache mounts with sharing=locked (and private ones in use), one semaphore per cache id, daemon-wide.</summary>
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> CacheLocks = new(StringComparer.Ordinal);

    /// <summary>The mounts of one RUN step, ready for the runner, and what to undo afterwards.</summary>
    private sealed class PreparedMounts
    {
        public List<BuildMount> Mounts { get; } = [];
        /// <summary>Key material: each mount's canonical form, plus the content digest of bind sources.</summary>
        public List<string> KeyParts { get; } = [];
        /// <summary>Absolute mount targets, to remove the mount points the runtime created from the step's layer.</summary>
        public List<string> Targets { get; } = [];
        public List<SemaphoreSlim> Held { get; } = [];
        public List<Action> Materialize { get; } = [];
    }

    /// <summary>
    /// Resolves the RUN's <c>--mount</c>s: expands build arguments, makes relative targets relative to WORKDIR, finds
    /// bind sources (context or a stage/image) and digests them for the cache key. Nothing is written yet
    /// (<see cref="MaterializeMounts"/> does that only when the step really runs).
    /// </summary>
    private async Task<PreparedMounts> PrepareMountsAsync(Run run, Stage stage, State state, Instruction ins, ShellWords lex, string stepDir)
    {
        var prepared = new PreparedMounts();
        int index = 0;
        foreach (var raw in ins.Mounts)
        {
            var m = raw.Expanded(v => v.Length == 0 ? v : Expand(ins, () => lex.Word(v)));
            string target = m.Target.StartsWith('/') ? m.Target : (state.Config.WorkingDir is { Length: > 0 } wd ? wd : "/").TrimEnd('/') + "/" + m.Target;
            target = "/" + SourceTrees.Clean(target);
            if (target == "/") throw Fail(ins, "a mount cannot cover /");
            prepared.Targets.Add(target);
            string canonical = m.Canonical();
            switch (m.Type)
            {
                case "bind":
                {
                    ISourceTree tree;
                    string origin;
                    if (m.From.Length == 0)
                    {
                        tree = run.Context;
                        origin = "context";
                    }
                    else
                    {
                        string imageId;
                        if (FindStage(run.Stages, m.From.ToLowerInvariant(), stage.Index) is { } dep)
                            imageId = dep.ImageId ?? throw Fail(ins, $"stage {dep.Name} produced no image");
                        else
                            imageId = await ResolveBaseAsync(m.From, null, run).ConfigureAwait(false);
                        tree = ImageTreeOf(imageId)!;
                        origin = imageId;
                    }
                    string source = SourceTrees.Resolve(tree, m.Source.Length == 0 ? "/" : m.Source, followFinal: true);
                    var node = tree.Lookup(source) ?? throw Fail(ins, $"failed to compute cache key: \"/{SourceTrees.Clean(m.Source)}\" not found");
                    // An image ID already names its content; context files are digested (their sha256 is known from the upload).
                    prepared.KeyParts.Add(canonical + " " + origin + (m.From.Length == 0 ? " " + TreeDigest(tree, node) : ""));
                    string host = Path.Combine(stepDir, "mount-" + index);
                    prepared.Materialize.Add(() => Materialize(tree, node, host));
                    prepared.Mounts.Add(new BuildMount("bind", host, target, !m.ReadWrite));
                    break;
                }
                case "cache":
                {
                    prepared.KeyParts.Add(canonical);
                    string dir = _cache.CacheMountDir(m.Id, m.Mode ?? 0x1ED, m.Uid ?? 0, m.Gid ?? 0);
                    var gate = CacheLocks.GetOrAdd(m.Id, _ => new SemaphoreSlim(1, 1));
                    if (m.Sharing == "locked")
                    {
                        await gate.WaitAsync(run.Ct).ConfigureAwait(false);
                        prepared.Held.Add(gate);
                    }
                    else if (m.Sharing == "private")
                    {
                        if (gate.Wait(0)) prepared.Held.Add(gate);
                        else
                        {
                            // In use by another build: this step gets a fresh directory of its own, as BuildKit does.
                            dir = Path.Combine(stepDir, "cache-" + index);
                            string fresh = dir;
                            prepared.Materialize.Add(() => Directory.CreateDirectory(fresh));
                        }
                    }
                    prepared.Mounts.Add(new BuildMount("bind", dir, target, !m.ReadWrite));
                    break;
                }
                case "tmpfs":
                    prepared.KeyParts.Add(canonical);
                    prepared.Mounts.Add(new BuildMount("tmpfs", "tmpfs", target, false, m.Size));
                    break;
                case "secret":
                {
                    prepared.KeyParts.Add(canonical);
                    if (!run.Options.Secrets.TryGetValue(m.Id, out var secret))
                    {
                        if (m.Required) throw Fail(ins, $"secret {m.Id} not found (skiff build --secret id={m.Id},src=FILE)");
                        prepared.Targets.RemoveAt(prepared.Targets.Count - 1);
                        break;
                    }
                    string file = Path.Combine(stepDir, "secret-" + index);
                    int mode = m.Mode ?? 0x100, uid = m.Uid ?? 0, gid = m.Gid ?? 0;
                    prepared.Materialize.Add(() =>
                    {
                        using (var fs = new FileStream(file, FileMode.CreateNew, FileAccess.Write)) fs.Write(secret);
                        File.SetUnixFileMode(file, (UnixFileMode)mode);
                        Chown(file, uid, gid);
                    });
                    prepared.Mounts.Add(new BuildMount("bind", file, target, true));
                    break;
                }
            }
            index++;
        }
        return prepared;
    }

    private static void MaterializeMounts(PreparedMounts prepared)
    {
        foreach (var a in prepared.Materialize) a();
    }

    private static void ReleaseMounts(PreparedMounts prepared)
    {
        foreach (var s in prepared.Held) s.Release();
        prepared.Held.Clear();
    }

    /// <summary>
    /// Removes from the step's upper dir the mount points the runtime had to create (targets and their parents that the
    /// parent image does not have), when they are still empty: a mount must not leave a trace in the layer.
    /// </summary>
    private void RemoveMountPoints(string? parentImageId, string upper, IEnumerable<string> targets)
    {
        var tree = ImageTreeOf(parentImageId);
        var candidates = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var t in targets)
        {
            string clean = SourceTrees.Clean(t);
            for (string p = clean; p.Length > 0; p = p.Contains('/') ? p[..p.LastIndexOf('/')] : "")
                if (tree?.Lookup(p) is null) candidates.Add(p);
        }
        foreach (var p in candidates.Reverse())
        {
            string host = Path.Combine(upper, p);
            try
            {
                var info = new FileInfo(host);
                if ((info.Attributes & FileAttributes.ReparsePoint) != 0) continue;
                if (Directory.Exists(host))
                {
                    if (!Directory.EnumerateFileSystemEntries(host).Any()) Directory.Delete(host);
                }
                else if (info.Exists && info.Length == 0)
                {
                    info.Delete();
                }
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>sha256 over a subtree's paths, types, modes, owners, link targets and file contents (never mtimes).</summary>
    private static string TreeDigest(ISourceTree tree, SourceNode root)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(SourceNode n, string rel)
        {
            h.AppendData(Encoding.UTF8.GetBytes($"{rel}\0{(char)n.Type}\0{n.Mode}\0{n.Uid}\0{n.Gid}\0{n.LinkName}\0"));
            if (n.Type == TarEntryType.RegularFile) h.AppendData(n.Sha256 ?? FileDigest(tree, n));
            if (n.Type == TarEntryType.Directory)
                foreach (var c in tree.Children(n.Path)) Add(c, rel.Length == 0 ? c.Name : rel + "/" + c.Name);
        }
        Add(root, "");
        return Convert.ToHexStringLower(h.GetHashAndReset());
    }

    private static byte[] FileDigest(ISourceTree tree, SourceNode n)
    {
        using var s = tree.Open(n);
        return SHA256.HashData(s);
    }

    /// <summary>
    /// Writes a subtree of a source tree to <paramref name="host"/> (a new path): directories are created by this walk
    /// and links written as links, so nothing is ever written through a link.
    /// </summary>
    private static void Materialize(ISourceTree tree, SourceNode node, string host)
    {
        switch (node.Type)
        {
            case TarEntryType.Directory:
                Directory.CreateDirectory(host);
                foreach (var c in tree.Children(node.Path)) Materialize(tree, c, Path.Combine(host, c.Name));
                File.SetUnixFileMode(host, (UnixFileMode)(node.Mode & 0xFFF));
                break;
            case TarEntryType.SymbolicLink:
                File.CreateSymbolicLink(host, node.LinkName);
                break;
            case TarEntryType.RegularFile:
            {
                using (var src = tree.Open(node))
                using (var dst = new FileStream(host, FileMode.CreateNew, FileAccess.Write))
                    src.CopyTo(dst, 1 << 17);
                File.SetUnixFileMode(host, (UnixFileMode)(node.Mode & 0xFFF));
                break;
            }
        }
        Chown(host, node.Uid, node.Gid);
    }

    private static void Chown(string path, int uid, int gid) =>
        Skiff.Linux.LinuxException.ThrowIfError(
            Skiff.Linux.Libc.fchownat(Skiff.Linux.Libc.AT_FDCWD, path, (uint)uid, (uint)gid, Skiff.Linux.Libc.AT_SYMLINK_NOFOLLOW), "fchownat", path);
}
