using System.Formats.Tar;

namespace Skiff.Integration.Tests;

/// <summary>
/// A skiffd started with <c>--userns-remap=default</c> (its own data root, exec root, socket and bridge) next to a
/// registry (and the registry fixture's ordinary daemon). The <c>dockremap</c> user and its subordinate ranges stay
/// on the host afterwards, as with dockerd.
/// </summary>
public sealed class UsernsRemapFixture : IDisposable
{
    public UsernsRemapFixture()
    {
        Registry = new RegistryFixture();
        try
        {
            Daemon = new DaemonFixture(["--userns-remap", "default"]);
        }
        catch
        {
            Registry.Dispose();
            throw;
        }
        var line = File.ReadAllLines("/etc/subuid").First(l => l.StartsWith("dockremap:", StringComparison.Ordinal)).Split(':');
        SubUid = long.Parse(line[1], System.Globalization.CultureInfo.InvariantCulture);
        var gline = File.ReadAllLines("/etc/subgid").First(l => l.StartsWith("dockremap:", StringComparison.Ordinal)).Split(':');
        SubGid = long.Parse(gline[1], System.Globalization.CultureInfo.InvariantCulture);
        RemappedRoot = Path.Combine(Daemon.DataRoot, $"{SubUid}.{SubGid}");
    }

    public RegistryFixture Registry { get; }
    public DaemonFixture Daemon { get; }
    /// <summary>The host uid/gid of container root: the first id of dockremap's ranges.</summary>
    public long SubUid { get; }
    public long SubGid { get; }
    /// <summary><c>&lt;data-root&gt;/&lt;uid&gt;.&lt;gid&gt;</c>, where the remapped daemon keeps everything.</summary>
    public string RemappedRoot { get; }

    public void Dispose()
    {
        Daemon.Dispose();
        Registry.Dispose();
    }
}

[CollectionDefinition("userns")]
public sealed class UsernsRemapCollection : ICollectionFixture<UsernsRemapFixture>;

[Collection("userns")]
public sealed class UsernsRemapTests(UsernsRemapFixture f)
{
    private DaemonFixture D => f.Daemon;

    private static void Ok(ProcResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    private static (long Uid, long Gid) Owner(string path)
    {
        var r = Proc.Run("/usr/bin/stat", ["-c", "%u %g", path]);
        Ok(r);
        var p = r.Stdout.Trim().Split(' ');
        return (long.Parse(p[0], System.Globalization.CultureInfo.InvariantCulture), long.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    private string ContainerId(string name)
    {
        var r = D.Docker("inspect", "-f", "{{.Id}}", name);
        Ok(r);
        return r.Stdout.Trim();
    }

    /// <summary>Every entry of a tar file named <paramref name="name"/> (also inside nested layer tars), with its owner.</summary>
    private static List<(string Name, int Uid, int Gid)> Find(string tarPath, string name)
    {
        var found = new List<(string, int, int)>();
        void Scan(Stream s)
        {
            using var reader = new TarReader(s, leaveOpen: true);
            while (reader.GetNextEntry(copyData: true) is { } e)
            {
                var n = e.Name.TrimStart('.', '/').TrimEnd('/');
                if (n == name) found.Add((n, e.Uid, e.Gid));
                if (e.DataStream is not null && e.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && (n.EndsWith(".tar", StringComparison.Ordinal) || n.StartsWith("blobs/", StringComparison.Ordinal)))
                {
                    var ms = new MemoryStream();
                    e.DataStream.CopyTo(ms);
                    ms.Position = 0;
                    try { Scan(ms); } catch (InvalidDataException) { } catch (FormatException) { } catch (EndOfStreamException) { }
                }
            }
        }
        using var file = File.OpenRead(tarPath);
        Scan(file);
        return found;
    }

    [Fact]
    public void InfoShowsUsernsAndTheRemappedRoot()
    {
        var r = D.Docker("info", "--format", "{{json .SecurityOptions}} {{.DockerRootDir}}");
        Ok(r);
        Assert.Contains("name=userns", r.Stdout);
        Assert.Contains(f.RemappedRoot, r.Stdout);
        Assert.Contains("dockremap:", File.ReadAllText("/etc/passwd"));
        Assert.True(Directory.Exists(Path.Combine(f.RemappedRoot, "containers")));
    }

    [Fact]
    public void ContainerRootIsTheSubordinateUidOnTheHost()
    {
        var map = D.Docker("run", "--rm", "busybox", "cat", "/proc/self/uid_map", "/proc/self/gid_map");
        Ok(map);
        var lines = map.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries))).ToList();
        Assert.Equal([$"0 {f.SubUid} 65536", $"0 {f.SubGid} 65536"], lines);

        var id = D.Docker("run", "--rm", "busybox", "id");
        Ok(id);
        Assert.StartsWith("uid=0(root) gid=0(root)", id.Stdout.Trim());

        // Image files (imported by the fixture) belong to root inside, to the remapped root on disk.
        var st = D.Docker("run", "--rm", "busybox", "stat", "-c", "%u:%g", "/bin/busybox", "/etc/passwd", "/");
        Ok(st);
        Assert.Equal(["0:0", "0:0", "0:0"], st.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        // The host sees the container's processes as the subordinate uid.
        Ok(D.Docker("run", "-d", "--name", "userns-sleeper", "busybox", "sleep", "60"));
        try
        {
            var pid = D.Docker("inspect", "-f", "{{.State.Pid}}", "userns-sleeper");
            Ok(pid);
            var status = File.ReadAllLines($"/proc/{pid.Stdout.Trim()}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal));
            Assert.Equal(f.SubUid.ToString(System.Globalization.CultureInfo.InvariantCulture), status.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1]);
            var exec = D.Docker("exec", "userns-sleeper", "cat", "/proc/self/uid_map");
            Ok(exec);
            Assert.Contains(f.SubUid.ToString(System.Globalization.CultureInfo.InvariantCulture), exec.Stdout);
        }
        finally
        {
            D.Docker("rm", "-f", "userns-sleeper");
        }
    }

    [Fact]
    public void VolumeAndContainerLayerAreOwnedByTheRemappedRoot_CommitExportAndCpGiveUidZero()
    {
        Ok(D.Docker("volume", "create", "userns-vol"));
        Ok(D.Docker("run", "--name", "userns-writer", "-v", "userns-vol:/data", "busybox", "sh", "-c",
            "echo hi > /data/f && echo layer > /layerfile && mkdir /newdir && chown 1000:1000 /newdir && rm /etc/group"));
        try
        {
            string volFile = Path.Combine(f.RemappedRoot, "volumes", "userns-vol", "_data", "f");
            Assert.Equal((f.SubUid, f.SubGid), Owner(volFile));
            Assert.Equal((f.SubUid, f.SubGid), Owner(Path.GetDirectoryName(volFile)!));
            string upper = Path.Combine(f.RemappedRoot, "containers", ContainerId("userns-writer"), "upper");
            Assert.Equal((f.SubUid, f.SubGid), Owner(Path.Combine(upper, "layerfile")));
            Assert.Equal((f.SubUid + 1000, f.SubGid + 1000), Owner(Path.Combine(upper, "newdir")));

            var diff = D.Docker("diff", "userns-writer");
            Ok(diff);
            Assert.Contains("A /layerfile", diff.Stdout);
            Assert.Contains("D /etc/group", diff.Stdout);

            string export = Path.Combine(D.Root, "userns-export.tar");
            Ok(D.Docker("export", "-o", export, "userns-writer"));
            Assert.Equal([("layerfile", 0, 0)], Find(export, "layerfile"));
            Assert.Equal([("newdir", 1000, 1000)], Find(export, "newdir"));
            Assert.Equal([("bin/busybox", 0, 0)], Find(export, "bin/busybox"));
            Assert.Empty(Find(export, "etc/group"));

            Ok(D.Docker("commit", "userns-writer", "userns-committed:v1"));
            string save = Path.Combine(D.Root, "userns-save.tar");
            Ok(D.Docker("save", "-o", save, "userns-committed:v1"));
            var inSave = Find(save, "layerfile");
            Assert.NotEmpty(inSave);
            Assert.All(inSave, e => Assert.Equal((0, 0), (e.Uid, e.Gid)));
            Assert.NotEmpty(Find(save, "etc/.wh.group"));

            // The committed image runs with its files owned by root inside, and the whiteout holds.
            var st = D.Docker("run", "--rm", "userns-committed:v1", "sh", "-c", "stat -c %u:%g /layerfile /newdir; test ! -e /etc/group && echo gone");
            Ok(st);
            Assert.Equal(["0:0", "1000:1000", "gone"], st.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));

            string cp = Path.Combine(D.Root, "userns-cp.tar");
            Ok(Proc.Sh($"{DaemonFixture.DockerCli} cp userns-writer:/layerfile - > {cp}", D.DockerEnv));
            Assert.Equal([("layerfile", 0, 0)], Find(cp, "layerfile"));

            // docker cp into the container: the file belongs to the container's root.
            string src = Path.Combine(D.Root, "userns-cp-in.txt");
            File.WriteAllText(src, "in");
            Ok(D.Docker("cp", src, "userns-writer:/copied-in"));
            Assert.Equal((f.SubUid, f.SubGid), Owner(Path.Combine(upper, "copied-in")));
        }
        finally
        {
            D.Docker("rm", "-f", "userns-writer");
            D.Docker("rmi", "userns-committed:v1");
            D.Docker("volume", "rm", "userns-vol");
        }
    }

    [Fact]
    public void BuildRunStepsRunRemappedAndProduceRootOwnedFiles()
    {
        string ctx = Path.Combine(D.Root, "userns-build");
        Directory.CreateDirectory(ctx);
        File.WriteAllText(Path.Combine(ctx, "copied.txt"), "copied\n");
        File.WriteAllText(Path.Combine(ctx, "Dockerfile"), """
            FROM busybox
            RUN cat /proc/self/uid_map > /uidmap && echo built > /built && mkdir -p /owned && chown 123:456 /owned
            COPY copied.txt /copied.txt
            COPY --from=busybox /etc/passwd /passwd-from-image
            """);
        try
        {
            var build = D.Docker("build", "-t", "userns-built:v1", ctx);
            Ok(build);
            var run = D.Docker("run", "--rm", "userns-built:v1", "sh", "-c", "cat /uidmap; stat -c %u:%g /built /copied.txt /passwd-from-image /owned");
            Ok(run);
            var lines = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal($"0 {f.SubUid} 65536", string.Join(' ', lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
            Assert.Equal(["0:0", "0:0", "0:0", "123:456"], lines[1..]);
            // The layer tars stored for save/push carry container ids.
            string save = Path.Combine(D.Root, "userns-built.tar");
            Ok(D.Docker("save", "-o", save, "userns-built:v1"));
            Assert.All(Find(save, "owned"), e => Assert.Equal((123, 456), (e.Uid, e.Gid)));
            Assert.All(Find(save, "built"), e => Assert.Equal((0, 0), (e.Uid, e.Gid)));
            Assert.NotEmpty(Find(save, "built"));
        }
        finally
        {
            D.Docker("rmi", "userns-built:v1");
        }
    }

    [Fact]
    public void PushAndPullThroughARegistryKeepOwnership()
    {
        string image = $"{f.Registry.Registry}/userns/busybox:v1";
        Ok(D.Docker("tag", "busybox:latest", image));
        Ok(D.Docker("push", image));
        // The registry holds an ordinary image: the unmapped daemon pulls it with root-owned files.
        var plain = f.Registry.Daemon.Docker("run", "--rm", image, "stat", "-c", "%u", "/bin/busybox");
        Ok(plain);
        Assert.Equal("0", plain.Stdout.Trim());
        f.Registry.Daemon.Docker("rmi", image);

        Ok(D.Docker("rmi", image));
        Ok(D.Docker("rmi", "busybox:latest"));
        try
        {
            Ok(D.Docker("pull", image));
            var st = D.Docker("run", "--rm", image, "stat", "-c", "%u:%g", "/bin/busybox");
            Ok(st);
            Assert.Equal("0:0", st.Stdout.Trim());
        }
        finally
        {
            D.Docker("tag", image, "busybox:latest");
            D.Docker("rmi", image);
        }
    }

    [Fact]
    public void UsernsHostOptsOutAndHostNamespacesNeedIt()
    {
        var host = D.Docker("run", "--rm", "--userns=host", "busybox", "cat", "/proc/self/uid_map");
        Ok(host);
        Assert.Equal("0 0 4294967295", string.Join(' ', host.Stdout.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)));

        var priv = D.Docker("run", "--rm", "--privileged", "busybox", "true");
        Assert.Equal(125, priv.ExitCode);
        Assert.Contains("privileged mode is incompatible with user namespaces", priv.Stderr);
        // Accepted with --userns=host (created only: this host's root lacks CAP_SYS_RESOURCE, which --privileged asks for).
        var privHost = D.Docker("create", "--name", "userns-priv-host", "--privileged", "--userns=host", "busybox", "true");
        D.Docker("rm", "-f", "userns-priv-host");
        Ok(privHost);

        var net = D.Docker("run", "--rm", "--net=host", "busybox", "true");
        Assert.Equal(125, net.ExitCode);
        Assert.Contains("cannot share the host's network namespace when user namespaces are enabled", net.Stderr);
        Ok(D.Docker("run", "--rm", "--net=host", "--userns=host", "busybox", "true"));

        var pid = D.Docker("run", "--rm", "--pid=host", "busybox", "true");
        Assert.Equal(125, pid.ExitCode);
        Assert.Contains("cannot share the host PID namespace when user namespaces are enabled", pid.Stderr);

        var bad = D.Docker("run", "--rm", "--userns=private", "busybox", "true");
        Assert.NotEqual(0, bad.ExitCode);
    }

    [Fact]
    public void NetworkContainerModeJoinsTheOtherContainersUserNamespace()
    {
        Ok(D.Docker("run", "-d", "--name", "userns-netowner", "busybox", "sleep", "60"));
        try
        {
            var joined = D.Docker("run", "--rm", "--net=container:userns-netowner", "busybox", "sh", "-c", "cat /proc/self/uid_map; readlink /proc/self/ns/user; readlink /proc/self/ns/net");
            Ok(joined);
            var owner = D.Docker("exec", "userns-netowner", "sh", "-c", "readlink /proc/self/ns/user; readlink /proc/self/ns/net");
            Ok(owner);
            var lines = joined.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal($"0 {f.SubUid} 65536", string.Join(' ', lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
            Assert.Equal(owner.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), lines[1..]);
        }
        finally
        {
            D.Docker("rm", "-f", "userns-netowner");
        }
    }
}
