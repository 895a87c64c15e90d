using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Skiff.Archive;
using Skiff.Build.Dockerfile;
using Skiff.Build.Session;

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
        /// <summary>The SSH agent sockets serving the step (closed when it ends).</summary>
        public List<IDisposable> Listeners { get; } = [];
        /// <summary>SSH_AUTH_SOCK for the step: the target of its first ssh mount, as BuildKit sets it.</summary>
        public string? SshAuthSock { get; set; }
    }

    /// <summary>
    /// Resolves the RUN's <c>--mount</c>s: expands build arguments, makes relative targets relative to WORKDIR, finds
    /// bind sources (context or a stage/image) and digests them for the cache key. Nothing is written yet
    /// (<see cref="MaterializeMounts"/> does that only when the step really runs).
    /// </summary>
    private async Task<PreparedMounts> PrepareMountsAsync(Run run, Stage stage, State state, Instruction ins, ShellWords lex, string stepDir)
    {
        var prepared = new PreparedMounts();
        int index = 0, sshIndex = 0;
        foreach (var raw in ins.Mounts)
        {
            var m = raw.Expanded(v => v.Length == 0 ? v : Expand(ins, () => lex.Word(v)));
            if (m.Type == "ssh" && m.Target.Length == 0) m = m.WithTarget("/run/buildkit/ssh_agent." + sshIndex.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (m.Type == "ssh") sshIndex++;
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
                        string imageId = await ResolveMountSourceAsync(run, stage, ins, m.From).ConfigureAwait(false);
                        tree = ImageTreeOf(imageId)!;
                        origin = imageId;
                    }
                    string source = SourceTrees.Resolve(tree, m.Source.Length == 0 ? "/" : m.Source, followFinal: true);
                    var node = tree.Lookup(source) ?? throw Fail(ins, $"failed to compute cache key: \"/{SourceTrees.Clean(m.Source)}\" not found");
                    // An image ID already names its content; context files are digested (their sha256 is known from the upload).
                    prepared.KeyParts.Add(canonical + " " + origin + (m.From.Length == 0 ? " " + TreeDigest(tree, node) : ""));
                    string host = Path.Combine(stepDir, "mount-" + index);
                    prepared.Materialize.Add(() => Materialize(tree, node, host, Ids));
                    prepared.Mounts.Add(new BuildMount("bind", host, target, !m.ReadWrite));
                    break;
                }
                case "cache":
                {
                    string cacheKey = m.Id;
                    Action<string>? seed = null;
                    if (m.From.Length > 0)
                    {
                        // BuildKit keys a cache with a base by the base too: another base content is another cache.
                        string imageId = await ResolveMountSourceAsync(run, stage, ins, m.From).ConfigureAwait(false);
                        var tree = ImageTreeOf(imageId)!;
                        string source = SourceTrees.Resolve(tree, m.Source.Length == 0 ? "/" : m.Source, followFinal: true);
                        var node = tree.Lookup(source) ?? throw Fail(ins, $"failed to compute cache key: \"/{SourceTrees.Clean(m.Source)}\" not found");
                        if (node.Type != TarEntryType.Directory) throw Fail(ins, $"cache mount source \"/{SourceTrees.Clean(m.Source)}\" in {m.From} is not a directory");
                        cacheKey = m.Id + " from=" + imageId + ":/" + source;
                        seed = data => SeedCache(tree, node, data, Ids);
                        canonical += " " + imageId;
                    }
                    prepared.KeyParts.Add(canonical);
                    var (hostUid, hostGid) = HostIds(m.Uid ?? 0, m.Gid ?? 0);
                    string dir = _cache.CacheMountDir(cacheKey, m.Mode ?? 0x1ED, hostUid, hostGid, seed, m.Mode is not null, m.Uid is not null || m.Gid is not null);
                    var gate = CacheLocks.GetOrAdd(cacheKey, _ => new SemaphoreSlim(1, 1));
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
                    int mode = m.Mode ?? 0x100;
                    var (uid, gid) = HostIds(m.Uid ?? 0, m.Gid ?? 0);
                    prepared.Materialize.Add(() =>
                    {
                        using (var fs = new FileStream(file, FileMode.CreateNew, FileAccess.Write)) fs.Write(secret);
                        File.SetUnixFileMode(file, (UnixFileMode)mode);
                        Chown(file, uid, gid);
                    });
                    prepared.Mounts.Add(new BuildMount("bind", file, target, true));
                    break;
                }
                case "ssh":
                {
                    prepared.KeyParts.Add(canonical);
                    prepared.SshAuthSock ??= target;
                    var agents = run.Options.Ssh;
                    if (agents is null || !agents.Has(m.Id))
                    {
                        if (m.Required) throw Fail(ins, $"no SSH key \"{m.Id}\" forwarded from the client (skiff build --ssh {m.Id}[=SOCKET])");
                        prepared.Targets.RemoveAt(prepared.Targets.Count - 1);
                        break;
                    }
                    string socket = Path.Combine(stepDir, "ssh-" + index);
                    int mode = m.Mode ?? 0x180;
                    var (uid, gid) = HostIds(m.Uid ?? 0, m.Gid ?? 0);
                    string sshId = m.Id;
                    prepared.Materialize.Add(() => prepared.Listeners.Add(SshAgentListener.Start(socket, agents, sshId, mode, uid, gid, run.Ct)));
                    prepared.Mounts.Add(new BuildMount("bind", socket, target, false));
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
        foreach (var l in prepared.Listeners) l.Dispose();
        prepared.Listeners.Clear();
        foreach (var s in prepared.Held) s.Release();
        prepared.Held.Clear();
    }

    /// <summary>The image ID a mount's <c>from</c> names: an earlier stage (by name or index) or an image (pulled when missing).</summary>
    private async Task<string> ResolveMountSourceAsync(Run run, Stage stage, Instruction ins, string from)
    {
        if (FindStage(run.Stages, from.ToLowerInvariant(), stage.Index) is { } dep)
            return dep.ImageId ?? throw Fail(ins, $"stage {dep.Name} produced no image");
        return await ResolveBaseAsync(from, null, run).ConfigureAwait(false);
    }

    private Skiff.Archive.IdMap? Ids => _store.Ids;

    /// <summary>Container ids as the host stores them (the daemon's --userns-remap range, when it has one).</summary>
    private (int Uid, int Gid) HostIds(int uid, int gid)
    {
        if (_store.Ids is not { } ids) return (uid, gid);
        return ids.ToHost(uid, gid, out int hu, out int hg) ? (hu, hg) : throw new BuildException($"uid/gid {uid}:{gid} is outside the daemon's user namespace mapping");
    }

    /// <summary>A new cache directory with a base: a copy of the base tree's subtree, owners mapped to the host's ids.</summary>
    private static void SeedCache(ISourceTree tree, SourceNode node, string data, Skiff.Archive.IdMap? ids)
    {
        foreach (var c in tree.Children(node.Path)) Materialize(tree, c, Path.Combine(data, c.Name), ids);
        File.SetUnixFileMode(data, (UnixFileMode)(node.Mode & 0xFFF));
        ChownMapped(data, node.Uid, node.Gid, ids);
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
    private static void Materialize(ISourceTree tree, SourceNode node, string host, Skiff.Archive.IdMap? ids)
    {
        switch (node.Type)
        {
            case TarEntryType.Directory:
                Directory.CreateDirectory(host);
                foreach (var c in tree.Children(node.Path)) Materialize(tree, c, Path.Combine(host, c.Name), ids);
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
        ChownMapped(host, node.Uid, node.Gid, ids);
    }

    /// <summary>Sets a materialised entry's owner: source trees give container ids, the host stores the daemon's remapped ones.</summary>
    private static void ChownMapped(string path, int uid, int gid, Skiff.Archive.IdMap? ids)
    {
        if (ids is not null && ids.ToHost(uid, gid, out int hu, out int hg)) (uid, gid) = (hu, hg);
        Chown(path, uid, gid);
    }

    private static void Chown(string path, int uid, int gid) =>
        Skiff.Linux.LinuxException.ThrowIfError(
            Skiff.Linux.Libc.fchownat(Skiff.Linux.Libc.AT_FDCWD, path, (uint)uid, (uint)gid, Skiff.Linux.Libc.AT_SYMLINK_NOFOLLOW), "fchownat", path);
}
