using Skiff.Archive;
using Skiff.Linux;
using Skiff.Runtime.Spec;

namespace Skiff.Daemon;

/// <summary>
/// <c>--userns-remap</c>: containers run in a user namespace whose root is the first subordinate id of the remap user
/// (<see cref="DaemonOptions.Remap"/>), unless created with <c>--userns=host</c>. Everything a container's root must own
/// (its upper dir, its /etc/hosts, hostname and resolv.conf, new volumes, the image layers) belongs to the remapped
/// root on disk; content leaving the daemon gets the container ids back (see <see cref="IdMap"/>).
/// </summary>
public sealed partial class Daemon
{
    /// <summary>
    /// Docker's checks for remapped daemons: <c>--userns</c> is "" or "host"; a container in the remapped namespace can
    /// be neither privileged nor share the host's network or pid namespace (those need <c>--userns=host</c>).
    /// </summary>
    private void ValidateUserns(HostConfig h)
    {
        if (h.UsernsMode is not ("" or "host")) throw DaemonException.Invalid($"invalid USER mode: {h.UsernsMode}");
        if (Options.Remap is null || h.UsernsMode == "host") return;
        if (h.Privileged)
            throw DaemonException.Invalid("privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode");
        if (h.NetworkMode == "host")
            throw DaemonException.Invalid("cannot share the host's network namespace when user namespaces are enabled");
        if (h.PidMode == "host")
            throw DaemonException.Invalid("cannot share the host PID namespace when user namespaces are enabled");
    }

    /// <summary>The mapping a container's processes run under, or null (no remapping, or <c>--userns=host</c>).</summary>
    internal IdMap? ContainerIds(HostConfig h) => h.UsernsMode == "host" ? null : Options.Remap;

    /// <summary>
    /// Gives the remapped root the container's upper dir (the root directory of its rootfs) and its /etc files, as dockerd
    /// does for every container of a remapped daemon (also <c>--userns=host</c> ones: their image layers are remapped too).
    /// </summary>
    private void ChownContainerFiles(ContainerRecord r, string containerDir)
    {
        if (Options.Remap is not { } map) return;
        foreach (var path in new[] { Path.Combine(containerDir, "upper"), r.HostnamePath, r.HostsPath, r.ResolvConfPath })
            if (Path.Exists(path)) LinuxException.ThrowIfError(Libc.chown(path, (uint)map.RootUid, (uint)map.RootGid), "chown", path);
    }

    /// <summary>
    /// Puts the container into a new user namespace with the daemon's mapping. A container that joins another one's
    /// network, pid or ipc namespace joins its user namespace too (a namespace is governed by the user namespace that
    /// owns it, so the two roots must be the same), as dockerd does.
    /// </summary>
    private void ApplyUserNamespace(ContainerRecord r, OciSpec spec)
    {
        if (ContainerIds(r.HostConfig) is not { } map) return;
        var linux = spec.Linux!;
        linux.Namespaces!.RemoveAll(n => n.Type == "user");
        var ns = new OciNamespace { Type = "user" };
        var h = r.HostConfig;
        foreach (var mode in new[] { h.NetworkMode, h.PidMode, h.IpcMode })
        {
            if (!mode.StartsWith("container:", StringComparison.Ordinal)) continue;
            var other = Containers.Get(mode["container:".Length..]);
            if (ContainerIds(other.Record.HostConfig) is null)
                throw DaemonException.Invalid($"cannot join the namespaces of container {other.Id}: it runs without user namespace remapping (--userns=host)");
            ns.Path = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"/proc/{other.Record.State.Pid}/ns/user");
            break;
        }
        linux.Namespaces.Add(ns);
        if (ns.Path is not null) return;
        linux.UidMappings = map.Uids.Select(ToOci).ToList();
        linux.GidMappings = map.Gids.Select(ToOci).ToList();
    }

    private static OciIdMapping ToOci(IdRange r) => new() { ContainerId = (uint)r.ContainerId, HostId = (uint)r.HostId, Size = (uint)r.Size };
}
