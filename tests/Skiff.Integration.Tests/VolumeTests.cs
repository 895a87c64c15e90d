using Docker.DotNet;
using Docker.DotNet.Models;

namespace Skiff.Integration.Tests;

/// <summary>Volumes, binds, tmpfs, --mount and --volumes-from through the real Docker CLI (and Docker.DotNet).</summary>
[Collection("daemon")]
public sealed class VolumeTests(DaemonFixture f)
{
    private static readonly object ImageLock = new();

    /// <summary>busybox plus <c>/data/hello</c> (owned 1000:1000, mode 750) and <c>VOLUME /data</c>, imported once.</summary>
    private string DataImage()
    {
        lock (ImageLock)
        {
            if (f.Docker("image", "inspect", "it-voldata").ExitCode == 0) return "it-voldata";
            var rootfs = Path.Combine(f.Root, "voldata-rootfs");
            var r = Proc.Sh($"""
                set -e
                mkdir -p {rootfs}/bin {rootfs}/data/sub {rootfs}/tmp {rootfs}/proc {rootfs}/sys {rootfs}/dev {rootfs}/etc
                cp /bin/busybox {rootfs}/bin/busybox
                for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox {rootfs}/bin/$a; done
                echo hello > {rootfs}/data/hello
                echo deep > {rootfs}/data/sub/deep
                ln -s /etc/shadow {rootfs}/data/link
                chown -R 1000:1000 {rootfs}/data && chmod 750 {rootfs}/data
                tar -C {rootfs} -cf {f.Root}/voldata.tar .
                rm -rf {rootfs}
                """);
            Assert.True(r.ExitCode == 0, r.ToString());
            var import = f.Docker("import", "-c", "VOLUME /data", "-c", "CMD [\"sh\"]", Path.Combine(f.Root, "voldata.tar"), "it-voldata");
            Assert.True(import.ExitCode == 0, import.ToString());
            return "it-voldata";
        }
    }

    private static void Ok(ProcResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    [Fact]
    public void NamedVolumeSurvivesTheContainerAndIsSeenByTheNext()
    {
        try
        {
            Ok(f.Docker("volume", "create", "it-keep"));
            Ok(f.Docker("run", "--name", "it-writer", "-v", "it-keep:/store", "busybox", "sh", "-c", "echo persisted > /store/f"));
            var mounts = f.Docker("inspect", "-f", "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.Driver}} {{.Mode}} {{.RW}} {{.Source}}{{end}}", "it-writer");
            Assert.Equal($"volume it-keep /store local z true {f.DataRoot}/volumes/it-keep/_data\n", mounts.Stdout);
            Ok(f.Docker("rm", "-v", "it-writer"));
            var read = f.Docker("run", "--rm", "-v", "it-keep:/other", "busybox", "cat", "/other/f");
            Ok(read);
            Assert.Equal("persisted\n", read.Stdout);
            Assert.Equal("persisted\n", File.ReadAllText(Path.Combine(f.DataRoot, "volumes", "it-keep", "_data", "f")));
        }
        finally
        {
            f.Docker("rm", "-f", "it-writer");
            f.Docker("volume", "rm", "-f", "it-keep");
        }
    }

    [Fact]
    public void ImageContentIsCopiedIntoAFreshVolumeOnly()
    {
        var image = DataImage();
        try
        {
            var r = f.Docker("run", "--rm", "-v", "it-fresh:/data", image, "sh", "-c", "cat /data/hello /data/sub/deep; stat -c '%u:%g %a' /data; readlink /data/link");
            Ok(r);
            Assert.Equal("hello\ndeep\n1000:1000 750\n/etc/shadow\n", r.Stdout);
            // Not empty any more: the next mount shows the volume's own content.
            Ok(f.Docker("run", "--rm", "-v", "it-fresh:/data", image, "sh", "-c", "rm /data/hello; echo mine > /data/own"));
            var again = f.Docker("run", "--rm", "-v", "it-fresh:/data", image, "ls", "/data");
            Assert.Equal("link\nown\nsub\n", again.Stdout);

            // The image's VOLUME makes an anonymous volume with the same copy-up; nocopy leaves a volume empty.
            var anon = f.Docker("run", "--rm", image, "cat", "/data/hello");
            Assert.Equal("hello\n", anon.Stdout);
            var nocopy = f.Docker("run", "--rm", "-v", "it-nocopy:/data:nocopy", image, "ls", "-A", "/data");
            Ok(nocopy);
            Assert.Equal("", nocopy.Stdout);
        }
        finally
        {
            f.Docker("volume", "rm", "-f", "it-fresh", "it-nocopy");
        }
    }

    [Fact]
    public void ReadOnlyBindRefusesWritesAndWritableBindReachesTheHost()
    {
        var host = Path.Combine(f.Root, "bind-src");
        Directory.CreateDirectory(host);
        File.WriteAllText(Path.Combine(host, "in"), "from-host");
        var ro = f.Docker("run", "--rm", "-v", host + ":/h:ro", "busybox", "sh", "-c", "cat /h/in; echo x > /h/out");
        Assert.NotEqual(0, ro.ExitCode);
        Assert.Contains("from-host", ro.Stdout);
        Assert.Contains("Read-only file system", ro.Stderr);
        Assert.False(File.Exists(Path.Combine(host, "out")));

        var mountRo = f.Docker("run", "--rm", "--mount", $"type=bind,source={host},target=/h,readonly", "busybox", "touch", "/h/out");
        Assert.NotEqual(0, mountRo.ExitCode);
        Assert.False(File.Exists(Path.Combine(host, "out")));

        Ok(f.Docker("run", "--rm", "-v", host + ":/h:z", "busybox", "sh", "-c", "echo written > /h/out"));
        Assert.Equal("written\n", File.ReadAllText(Path.Combine(host, "out")));

        var missing = f.Docker("run", "--rm", "--mount", $"type=bind,source={host}/nope,target=/h", "busybox", "true");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("bind source path does not exist", missing.Stderr);
        var badMode = f.Docker("run", "--rm", "-v", host + ":/h:bogus", "busybox", "true");
        Assert.NotEqual(0, badMode.ExitCode);
        Assert.Contains("invalid mode: bogus", badMode.Stderr);
    }

    [Fact]
    public void MountSyntaxTmpfsAndVolumesFrom()
    {
        var host = Path.Combine(f.Root, "vf-src");
        Directory.CreateDirectory(host);
        try
        {
            Ok(f.Docker("run", "--rm", "--mount", "type=volume,source=it-long,target=/v,volume-label=team=a", "busybox", "sh", "-c", "echo v > /v/f"));
            Assert.Equal("team=a\n", f.Docker("volume", "inspect", "-f", "{{range $k, $v := .Labels}}{{$k}}={{$v}}{{end}}", "it-long").Stdout);

            var tmpfs = f.Docker("run", "--rm", "--mount", "type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770", "--tmpfs", "/t2:size=2m",
                "busybox", "sh", "-c", "grep -E ' /t2? ' /proc/mounts | cut -d' ' -f2,3; stat -c %a /t");
            Ok(tmpfs);
            Assert.Equal("/t tmpfs\n/t2 tmpfs\n1770\n", tmpfs.Stdout);

            Ok(f.Docker("run", "-d", "--name", "it-vf-src", "-v", "it-long:/v", "-v", host + ":/h", "busybox", "sleep", "60"));
            var rw = f.Docker("run", "--rm", "--volumes-from", "it-vf-src", "busybox", "sh", "-c", "cat /v/f; echo more > /h/w");
            Ok(rw);
            Assert.Equal("v\n", rw.Stdout);
            Assert.True(File.Exists(Path.Combine(host, "w")));
            var ro = f.Docker("run", "--rm", "--volumes-from", "it-vf-src:ro", "busybox", "sh", "-c", "cat /v/f; touch /v/g");
            Assert.NotEqual(0, ro.ExitCode);
            Assert.Equal("v\n", ro.Stdout);
            Assert.Contains("Read-only file system", ro.Stderr);
        }
        finally
        {
            f.Docker("rm", "-f", "it-vf-src");
            f.Docker("volume", "rm", "-f", "it-long");
        }
    }

    [Fact]
    public void CreateListInspectRemovePruneWithFilters()
    {
        try
        {
            Ok(f.Docker("volume", "prune", "-af"));
            Ok(f.Docker("volume", "create", "--label", "env=test", "it-a1"));
            Ok(f.Docker("volume", "create", "--label", "env=prod", "it-b1"));
            Ok(f.Docker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m", "it-tmp"));
            Ok(f.Docker("create", "--name", "it-user", "-v", "it-b1:/b", "busybox", "true"));

            Assert.Equal("it-a1\nit-b1\nit-tmp\n", f.Docker("volume", "ls", "-q").Stdout);
            Assert.Equal("it-a1\nit-tmp\n", f.Docker("volume", "ls", "-q", "-f", "dangling=true").Stdout);
            Assert.Equal("it-b1\n", f.Docker("volume", "ls", "-q", "-f", "dangling=false").Stdout);
            Assert.Equal("it-a1\n", f.Docker("volume", "ls", "-q", "-f", "label=env=test").Stdout);
            Assert.Equal("it-a1\nit-b1\n", f.Docker("volume", "ls", "-q", "-f", "label=env").Stdout);
            Assert.Equal("it-tmp\n", f.Docker("volume", "ls", "-q", "-f", "name=tmp").Stdout);
            Assert.Equal(3, f.Docker("volume", "ls", "-q", "-f", "driver=local").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
            var bad = f.Docker("volume", "ls", "-f", "colour=red");
            Assert.NotEqual(0, bad.ExitCode);
            Assert.Contains("invalid filter 'colour'", bad.Stderr);

            var inspect = f.Docker("volume", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Scope}} {{.Options.type}} {{.Options.o}} {{.Mountpoint}}", "it-tmp");
            Assert.Equal($"it-tmp local local tmpfs size=2m {f.DataRoot}/volumes/it-tmp/_data\n", inspect.Stdout);
            var missing = f.Docker("volume", "inspect", "it-none");
            Assert.NotEqual(0, missing.ExitCode);
            Assert.Contains("no such volume", missing.Stderr);
            var badName = f.Docker("volume", "create", "../escape");
            Assert.NotEqual(0, badName.ExitCode);
            Assert.Contains("includes invalid characters for a local volume name", badName.Stderr);
            Assert.False(Directory.Exists(Path.Combine(f.DataRoot, "escape")));

            // In use by a (stopped) container: refused, even with -f.
            Assert.Equal("it-user\n", f.Docker("ps", "-a", "--filter", "volume=it-b1", "--format", "{{.Names}}").Stdout);
            Assert.Equal("it-user\n", f.Docker("ps", "-a", "--filter", "volume=/b", "--format", "{{.Names}}").Stdout);
            var inUse = f.Docker("volume", "rm", "it-b1");
            Assert.NotEqual(0, inUse.ExitCode);
            Assert.Contains("volume is in use", inUse.Stderr);
            Assert.NotEqual(0, f.Docker("volume", "rm", "-f", "it-b1").ExitCode);
            Ok(f.Docker("volume", "rm", "-f", "it-never-existed"));

            // An anonymous volume: only it goes by default (API >= 1.42); -a takes unused named ones too.
            Ok(f.Docker("run", "--name", "it-anon", "-v", "/anon", "busybox", "true"));
            var anonName = f.Docker("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "it-anon").Stdout.Trim();
            Assert.Matches("^[0-9a-f]{64}$", anonName);
            Ok(f.Docker("rm", "it-anon"));
            var prune = f.Docker("volume", "prune", "-f");
            Ok(prune);
            Assert.Contains(anonName, prune.Stdout);
            Assert.DoesNotContain("it-a1", prune.Stdout);
            var pruneLabel = f.Docker("volume", "prune", "-af", "--filter", "label=env=test");
            Assert.Contains("it-a1", pruneLabel.Stdout);
            Assert.DoesNotContain("it-tmp", pruneLabel.Stdout);
            var pruneAll = f.Docker("volume", "prune", "-af");
            Assert.Contains("it-tmp", pruneAll.Stdout);
            Assert.DoesNotContain("it-b1", pruneAll.Stdout);
            Assert.Equal("it-b1\n", f.Docker("volume", "ls", "-q").Stdout);

            Ok(f.Docker("rm", "it-user"));
            Ok(f.Docker("volume", "rm", "it-b1"));
            Assert.Equal("", f.Docker("volume", "ls", "-q").Stdout);
        }
        finally
        {
            f.Docker("rm", "-f", "it-user", "it-anon");
            f.Docker("volume", "rm", "-f", "it-a1", "it-b1", "it-tmp");
        }
    }

    [Fact]
    public void RemoveWithVolumesAndAutoRemoveDeleteAnonymousVolumesOnly()
    {
        try
        {
            Ok(f.Docker("run", "--name", "it-rmv", "-v", "/anon", "-v", "it-named-kept:/named", "busybox", "true"));
            var anon = f.Docker("inspect", "-f", "{{range .Mounts}}{{if eq .Destination \"/anon\"}}{{.Name}}{{end}}{{end}}", "it-rmv").Stdout.Trim();
            Ok(f.Docker("rm", "-v", "it-rmv"));
            Assert.NotEqual(0, f.Docker("volume", "inspect", anon).ExitCode);
            Ok(f.Docker("volume", "inspect", "it-named-kept"));

            var before = f.Docker("volume", "ls", "-q").Stdout;
            Ok(f.Docker("run", "--rm", "-v", "/anon2", "busybox", "true"));
            Assert.Equal(before, f.Docker("volume", "ls", "-q").Stdout);
        }
        finally
        {
            f.Docker("rm", "-f", "it-rmv");
            f.Docker("volume", "rm", "-f", "it-named-kept");
        }
    }

    [Fact]
    public void DeviceVolumeIsMountedOnlyWhileAContainerUsesIt()
    {
        var data = Path.Combine(f.DataRoot, "volumes", "it-dev", "_data");
        bool Mounted() => File.ReadAllLines("/proc/self/mountinfo").Any(l => l.Split(' ')[4] == data);
        try
        {
            Ok(f.Docker("volume", "create", "--driver", "local", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=3m", "it-dev"));
            Assert.False(Mounted());
            Ok(f.Docker("run", "-d", "--name", "it-dev-user", "-v", "it-dev:/d", "busybox", "sh", "-c", "echo on-tmpfs > /d/f; sleep 60"));
            Assert.True(Mounted());
            var df = f.Docker("exec", "it-dev-user", "sh", "-c", "grep ' /d ' /proc/mounts | cut -d' ' -f3; cat /d/f");
            Assert.Equal("tmpfs\non-tmpfs\n", df.Stdout);
            Ok(f.Docker("rm", "-f", "it-dev-user"));
            Assert.False(Mounted());
        }
        finally
        {
            f.Docker("rm", "-f", "it-dev-user");
            f.Docker("volume", "rm", "-f", "it-dev");
        }
    }

    [Fact]
    public void VolumeMountsAreTakenBackAfterADaemonRestart()
    {
        var data = Path.Combine(f.DataRoot, "volumes", "it-dev-restart", "_data");
        bool Mounted() => File.ReadAllLines("/proc/self/mountinfo").Any(l => l.Split(' ')[4] == data);
        try
        {
            Ok(f.Docker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "it-dev-restart"));
            Ok(f.Docker("run", "-d", "--name", "it-dev-survivor", "-v", "it-dev-restart:/d", "busybox", "sleep", "60"));
            Assert.True(Mounted());
            f.KillDaemon();
            f.StartDaemon();
            Assert.True(Mounted());
            var inUse = f.Docker("volume", "rm", "it-dev-restart");
            Assert.Contains("volume is in use", inUse.Stderr);
            Ok(f.Docker("rm", "-f", "it-dev-survivor"));
            Assert.False(Mounted());
            Ok(f.Docker("volume", "rm", "it-dev-restart"));
            Assert.False(Directory.Exists(Path.GetDirectoryName(data)));
        }
        finally
        {
            f.Docker("rm", "-f", "it-dev-survivor");
            f.Docker("volume", "rm", "-f", "it-dev-restart");
        }
    }

    [Fact]
    public void NonRecursiveBindLeavesSubmountsOut()
    {
        var host = Path.Combine(f.Root, "nonrec");
        var sub = Path.Combine(host, "sub");
        Directory.CreateDirectory(sub);
        File.WriteAllText(Path.Combine(sub, "under"), "under the mount");
        Assert.Equal(0, Proc.Run("/bin/mount", ["-t", "tmpfs", "tmpfs", sub]).ExitCode);
        try
        {
            File.WriteAllText(Path.Combine(sub, "on-tmpfs"), "x");
            var rec = f.Docker("run", "--rm", "--mount", $"type=bind,source={host},target=/h", "busybox", "ls", "/h/sub");
            Assert.Equal("on-tmpfs\n", rec.Stdout);
            var nonRec = f.Docker("run", "--rm", "--mount", $"type=bind,source={host},target=/h,bind-recursive=disabled", "busybox", "ls", "/h/sub");
            Assert.Equal("under\n", nonRec.Stdout);
        }
        finally
        {
            Proc.Run("/bin/umount", ["-l", sub]);
        }
    }

    [Fact]
    public async Task DockerDotNetVolumesAndMounts()
    {
        using var client = new DockerClientConfiguration(new Uri(f.Host)).CreateClient();
        try
        {
            var created = await client.Volumes.CreateAsync(new VolumesCreateParameters
            {
                Name = "it-dotnet-vol",
                Labels = new Dictionary<string, string> { ["com.docker.compose.project"] = "it", ["com.docker.compose.volume"] = "data" },
            });
            Assert.Equal("local", created.Driver);
            Assert.Equal("it", created.Labels["com.docker.compose.project"]);

            var list = await client.Volumes.ListAsync(new VolumesListParameters
            {
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { ["com.docker.compose.project=it"] = true } },
            });
            Assert.Equal(["it-dotnet-vol"], list.Volumes.Select(v => v.Name).ToArray());

            var c = await client.Containers.CreateContainerAsync(new CreateContainerParameters
            {
                Image = "busybox",
                Cmd = ["true"],
                Name = "it-dotnet-mounts",
                HostConfig = new HostConfig
                {
                    Mounts = [new Mount { Type = "volume", Source = "it-dotnet-vol", Target = "/v", ReadOnly = true }],
                },
            });
            var inspect = await client.Containers.InspectContainerAsync(c.ID);
            var m = Assert.Single(inspect.Mounts);
            Assert.Equal(("volume", "it-dotnet-vol", "/v", false), (m.Type, m.Name, m.Destination, m.RW));

            var conflict = await Assert.ThrowsAsync<DockerApiException>(() => client.Volumes.RemoveAsync("it-dotnet-vol"));
            Assert.Equal(System.Net.HttpStatusCode.Conflict, conflict.StatusCode);
            await client.Containers.RemoveContainerAsync(c.ID, new ContainerRemoveParameters());
            await client.Volumes.RemoveAsync("it-dotnet-vol");
            var gone = await Assert.ThrowsAnyAsync<DockerApiException>(() => client.Volumes.InspectAsync("it-dotnet-vol"));
            Assert.Equal(System.Net.HttpStatusCode.NotFound, gone.StatusCode);
        }
        finally
        {
            f.Docker("rm", "-f", "it-dotnet-mounts");
            f.Docker("volume", "rm", "-f", "it-dotnet-vol");
        }
    }
}
