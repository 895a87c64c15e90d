using Skiff.Build;
using Skiff.Linux;
using Skiff.Runtime;
using Skiff.Runtime.Spec;

namespace Skiff.Daemon;

/// <summary>
/// Runs RUN steps of builds in-process with <see cref="LinuxContainer"/> (no shim: the container lives exactly as long
/// as the step, and the daemon reaps it). The container gets Docker's default spec (namespaces, capabilities, seccomp,
/// masked paths), the network a container gets by default (today a private namespace with only <c>lo</c>; <c>host</c>
/// and <c>none</c> on request), its own cgroup <c>/skiff/build-&lt;id&gt;</c>, and generated <c>/etc/hosts</c>,
/// <c>/etc/hostname</c> and <c>/etc/resolv.conf</c>. An "init" lower layer with the mount points sits between the
/// image's layers and the step's upper dir, so the runtime's mount points never land in the step's layer.
/// </summary>
internal sealed class BuildRunner(DaemonOptions options) : IBuildRunner
{
    private string InitLayer
    {
        get
        {
            string dir = Path.Combine(options.DataRoot, "builder", "init");
            if (File.Exists(Path.Combine(dir, ".complete"))) return Path.Combine(dir, "root");
            string tmp = dir + ".tmp-" + Environment.ProcessId;
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
            string root = Path.Combine(tmp, "root");
            foreach (var d in new[] { "proc", "sys", "dev", "dev/pts", "dev/shm", "dev/mqueue", "etc" })
            {
                Directory.CreateDirectory(Path.Combine(root, d));
                File.SetUnixFileMode(Path.Combine(root, d), (UnixFileMode)0x1ED);
            }
            foreach (var f in new[] { "etc/hosts", "etc/hostname", "etc/resolv.conf" }) File.WriteAllBytes(Path.Combine(root, f), []);
            // A lower layer like the image's: under --userns-remap its files belong to the remapped root.
            if (options.Remap is { } map)
                foreach (var p in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories))
                    LinuxException.ThrowIfError(Libc.chown(p, (uint)map.RootUid, (uint)map.RootGid), "chown", p);
            File.WriteAllBytes(Path.Combine(tmp, ".complete"), []);
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            Directory.Move(tmp, dir);
            return Path.Combine(dir, "root");
        }
    }

    public async Task<int> RunAsync(BuildRunRequest request, Action<ReadOnlyMemory<byte>> output, CancellationToken ct)
    {
        string id = "build-" + request.Id[..16];
        string bundle = Path.Combine(options.ExecRoot, "builds", request.Id[..16]);
        Directory.CreateDirectory(Path.Combine(bundle, "rootfs"));
        try
        {
            string hostname = request.Id[..12];
            File.WriteAllText(Path.Combine(bundle, "hostname"), hostname + "\n");
            var hosts = new System.Text.StringBuilder($"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
            foreach (var h in request.ExtraHosts)
            {
                // host:ip as docker build --add-host takes it (the ip may be an IPv6 address with colons of its own).
                int colon = h.IndexOf(':');
                hosts.Append(h[(colon + 1)..]).Append('\t').Append(h[..colon]).Append('\n');
            }
            hosts.Append("127.0.1.1\t").Append(hostname).Append('\n');
            File.WriteAllText(Path.Combine(bundle, "hosts"), hosts.ToString());
            File.WriteAllText(Path.Combine(bundle, "resolv.conf"), ResolvConf());

            var spec = DockerDefaults.CreateSpec(request.Args, Path.Combine(bundle, "rootfs"), hostname);
            spec.Process!.Env = [.. request.Env, "HOSTNAME=" + hostname];
            spec.Process.Cwd = request.WorkingDir;
            var lowers = new List<string> { InitLayer };
            lowers.AddRange(request.LowerDirs);
            spec.Annotations = new Dictionary<string, string>
            {
                [Annotations.RootfsOverlay] = $"lowerdir={string.Join(':', lowers)},upperdir={request.UpperDir},workdir={request.WorkDir}",
            };
            if (request.User.Length > 0) spec.Annotations[Annotations.User] = request.User;
            spec.Mounts!.Add(Bind(Path.Combine(bundle, "resolv.conf"), "/etc/resolv.conf"));
            spec.Mounts.Add(Bind(Path.Combine(bundle, "hostname"), "/etc/hostname"));
            spec.Mounts.Add(Bind(Path.Combine(bundle, "hosts"), "/etc/hosts"));
            foreach (var m in request.Mounts)
            {
                if (m.Type == "tmpfs")
                {
                    var opts = new List<string> { "nosuid", "nodev" };
                    if (m.TmpfsSize is { } size) opts.Add("size=" + size.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    spec.Mounts.Add(new OciMount { Destination = m.Destination, Type = "tmpfs", Source = "tmpfs", Options = opts });
                }
                else
                {
                    var bind = Bind(m.Source, m.Destination);
                    if (m.ReadOnly) bind.Options!.Add("ro");
                    spec.Mounts.Add(bind);
                }
            }
            spec.Linux!.CgroupsPath = "/skiff/" + id;
            if (request.Network == "host") spec.Linux.Namespaces!.RemoveAll(n => n.Type == "network");
            if (options.Remap is { } remap)
            {
                // RUN steps run as the remapped root, like the containers of a remapped daemon.
                foreach (var f in new[] { "hostname", "hosts", "resolv.conf" })
                    LinuxException.ThrowIfError(Libc.chown(Path.Combine(bundle, f), (uint)remap.RootUid, (uint)remap.RootGid), "chown", f);
                spec.Linux.Namespaces!.Add(new OciNamespace { Type = "user" });
                spec.Linux.UidMappings = remap.Uids.Select(r => new OciIdMapping { ContainerId = (uint)r.ContainerId, HostId = (uint)r.HostId, Size = (uint)r.Size }).ToList();
                spec.Linux.GidMappings = remap.Gids.Select(r => new OciIdMapping { ContainerId = (uint)r.ContainerId, HostId = (uint)r.HostId, Size = (uint)r.Size }).ToList();
            }

            return await Task.Run(() => Execute(id, bundle, spec, output, ct), ct).ConfigureAwait(false);
        }
        finally
        {
            try { Directory.Delete(bundle, recursive: true); } catch (IOException) { }
        }
    }

    private unsafe int Execute(string id, string bundle, OciSpec spec, Action<ReadOnlyMemory<byte>> output, CancellationToken ct)
    {
        int* fds = stackalloc int[2];
        LinuxException.ThrowIfError(Libc.pipe2(fds, Libc.O_CLOEXEC), "pipe2");
        int readFd = fds[0], writeFd = fds[1];
        int devNull = LinuxException.ThrowIfError(Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0), "open", "/dev/null");
        LinuxContainer? container = null;
        try
        {
            try
            {
                container = LinuxContainer.Create(new CreateOptions
                {
                    Id = id,
                    BundlePath = bundle,
                    Spec = spec,
                    StateRoot = Path.Combine(options.ExecRoot, "build-state"),
                    Stdio = new StdioFds(devNull, writeFd, writeFd),
                    Terminal = false,
                    InitPath = options.RuntimePath,
                });
            }
            finally
            {
                Libc.close(writeFd);
                writeFd = -1;
            }
            using var registration = ct.Register(() => { try { container.Kill(Libc.SIGKILL); } catch (Exception) { } });
            try
            {
                container.Start();
            }
            catch (ContainerException e)
            {
                LinuxContainer.Reap(container.Pid);
                throw new BuildException("failed to run the build step: " + e.Message, e);
            }
            var buffer = new byte[16384];
            int n;
            while ((n = Libc.ReadSome(readFd, buffer)) > 0) output(buffer.AsMemory(0, n).ToArray());
            int status = container.WaitForExit();
            ct.ThrowIfCancellationRequested();
            return status;
        }
        catch (ContainerException e)
        {
            throw new BuildException("failed to run the build step: " + e.Message, e);
        }
        finally
        {
            if (writeFd >= 0) Libc.close(writeFd);
            Libc.close(readFd);
            Libc.close(devNull);
            if (container is not null)
            {
                try { container.Delete(force: true); } catch (Exception) { }
            }
        }
    }

    private static OciMount Bind(string source, string destination) => new()
    {
        Destination = destination, Type = "bind", Source = source, Options = ["rbind", "rprivate"],
    };

    /// <summary>The host's resolv.conf without loopback name servers (unreachable from the build's network namespace).</summary>
    private static string ResolvConf()
    {
        try
        {
            var lines = File.ReadAllLines("/etc/resolv.conf")
                .Where(l => !(l.StartsWith("nameserver", StringComparison.Ordinal) && (l.Contains(" 127.", StringComparison.Ordinal) || l.Contains(" ::1", StringComparison.Ordinal))));
            return string.Join('\n', lines) + "\n";
        }
        catch (IOException)
        {
            return "";
        }
    }
}
