using Docker.DotNet;
using Docker.DotNet.Models;

namespace Skiff.Integration.Tests;

/// <summary>Lifecycle details real clients rely on: detached exec exit codes, docker cp of a stopped container's volumes.</summary>
[Collection("daemon")]
public sealed class LifecycleCompatTests(DaemonFixture f)
{
    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task DetachedExecReportsItsExitCode()
    {
        var name = Unique("execd");
        Assert.Equal(0, f.Docker("run", "-d", "--name", name, "busybox", "sleep", "300").ExitCode);
        try
        {
            var since = DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(0, f.Docker("exec", "-d", name, "sh", "-c", "sleep 0.3; exit 7").ExitCode);
            Assert.Equal(0, f.Docker("exec", "-d", name, "sh", "-c", "echo output nobody reads; exit 9").ExitCode);
            var until = DateTimeOffset.UtcNow.AddSeconds(1).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
            var events = f.Docker("events", "--since", since, "--until", until, "--filter", "container=" + name, "--filter", "event=exec_create",
                "--format", "{{index .Actor.Attributes \"execID\"}}");
            var ids = events.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(2, ids.Length);
            using var client = new DockerClientConfiguration(new Uri(f.Host)).CreateClient();
            var codes = new List<long>();
            foreach (var id in ids)
            {
                var inspect = await client.Exec.InspectContainerExecAsync(id);
                for (var i = 0; i < 100 && inspect.Running; i++)
                {
                    await Task.Delay(50);
                    inspect = await client.Exec.InspectContainerExecAsync(id);
                }
                Assert.False(inspect.Running);
                codes.Add(inspect.ExitCode);
            }
            Assert.Equal([7L, 9L], codes);
        }
        finally
        {
            f.Docker("rm", "-f", name);
        }
    }

    /// <summary>
    /// A container stopped and started again in quick succession gets a new shim at the same socket path while the old
    /// one is still exiting: the old shim must never remove the new one's socket (that left the daemon unable to reach
    /// the container, which was then recorded as exited with 255 right after its start).
    /// </summary>
    [Fact]
    public void StopAndStartInQuickSuccessionKeepTheContainerReachable()
    {
        var name = Unique("restart");
        Assert.Equal(0, f.Docker("run", "-d", "--name", name, "busybox", "sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.1; done").ExitCode);
        try
        {
            for (var i = 0; i < 12; i++)
            {
                Assert.Equal(0, f.Docker("stop", name).ExitCode);
                Assert.Equal("exited 7\n", f.Docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name).Stdout);
                Assert.Equal(0, f.Docker("start", name).ExitCode);
                Assert.Equal("running\n", f.Docker("inspect", "-f", "{{.State.Status}}", name).Stdout);
                Assert.Equal(0, f.Docker("kill", name).ExitCode);
                Assert.Equal(0, f.Docker("wait", name).ExitCode);
                Assert.Equal("exited 137\n", f.Docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name).Stdout);
                Assert.Equal(0, f.Docker("start", name).ExitCode);
            }
        }
        finally
        {
            f.Docker("rm", "-f", name);
        }
    }

    [Fact]
    public void CpFromAndToAStoppedContainerReachesItsVolumesAndBinds()
    {
        var name = Unique("cpvol");
        var volume = Unique("cpvol");
        var bind = Path.Combine(f.Root, Unique("bind"));
        Directory.CreateDirectory(bind);
        File.WriteAllText(Path.Combine(bind, "host.txt"), "from the host\n");
        var dest = Path.Combine(f.Root, Unique("cpout"));
        Directory.CreateDirectory(dest);
        try
        {
            var run = f.Docker("run", "--name", name, "-v", volume + ":/data", "-v", bind + ":/mnt/bind:ro", "busybox",
                "sh", "-c", "echo in the volume > /data/vol.txt; echo in the layer > /layer.txt");
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Equal(0, f.Docker("cp", name + ":/data/vol.txt", dest).ExitCode);
            Assert.Equal("in the volume\n", File.ReadAllText(Path.Combine(dest, "vol.txt")));
            Assert.Equal(0, f.Docker("cp", name + ":/mnt/bind/host.txt", dest).ExitCode);
            Assert.Equal("from the host\n", File.ReadAllText(Path.Combine(dest, "host.txt")));
            Assert.Equal(0, f.Docker("cp", name + ":/layer.txt", dest).ExitCode);
            Assert.Equal("in the layer\n", File.ReadAllText(Path.Combine(dest, "layer.txt")));

            // Into the stopped container: the file lands in the volume, not under it in the layer.
            var src = Path.Combine(dest, "new.txt");
            File.WriteAllText(src, "copied in\n");
            var cpIn = f.Docker("cp", src, name + ":/data/");
            Assert.True(cpIn.ExitCode == 0, cpIn.ToString());
            var read = f.Docker("run", "--rm", "-v", volume + ":/data", "busybox", "cat", "/data/new.txt");
            Assert.Equal("copied in\n", read.Stdout);
            // A read-only bind stays read-only for cp as well.
            Assert.NotEqual(0, f.Docker("cp", src, name + ":/mnt/bind/").ExitCode);
            Assert.False(File.Exists(Path.Combine(bind, "new.txt")));
            // Nothing stays mounted once the copies are done.
            Assert.DoesNotContain(Path.Combine(f.ExecRoot, "mnt"), File.ReadAllText("/proc/self/mountinfo"));
        }
        finally
        {
            f.Docker("rm", "-f", name);
            f.Docker("volume", "rm", "-f", volume);
        }
    }
}
