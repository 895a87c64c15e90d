namespace Skiff.Integration.Tests;

/// <summary>
/// What scripts written for Docker rely on, through the Docker CLI against skiffd. Every expected text and exit code
/// here was read from a dockerd (20.10, Debian's docker.io) with the same CLI and the same busybox image.
/// </summary>
[Collection("daemon")]
public sealed class DockerHabitsTests(DaemonFixture f)
{
    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private ProcResult Run(params string[] args) => f.Docker(["run", "--rm", .. args]);

    [Fact]
    public void BareEnvNameUnsetOnTheClientIsDropped()
    {
        var r = Run("-e", "A=1", "-e", "SKIFF_HABITS_UNSET_VAR", "busybox", "env");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("A=1\n", r.Stdout);
        Assert.DoesNotContain("SKIFF_HABITS_UNSET_VAR", r.Stdout);
    }

    [Fact]
    public void MissingWorkingDirectoryIsCreated()
    {
        var r = Run("-w", "/nonexist/dir", "busybox", "pwd");
        Assert.Equal((0, "/nonexist/dir\n"), (r.ExitCode, r.Stdout));
        r = Run("--read-only", "-u", "1234", "-w", "/made/here", "busybox", "sh", "-c", "pwd; stat -c %u /made/here");
        Assert.Equal((0, "/made/here\n0\n"), (r.ExitCode, r.Stdout));
    }

    [Theory]
    [InlineData("", "uid=0(root) gid=0(root) groups=0(root)\n")]
    [InlineData("nobody", "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n")]
    [InlineData("1234:5678", "uid=1234 gid=5678 groups=5678\n")]
    public void SupplementaryGroupsAreDockers(string user, string expected)
    {
        var r = user.Length == 0 ? Run("busybox", "id") : Run("-u", user, "busybox", "id");
        Assert.Equal((0, expected), (r.ExitCode, r.Stdout));
    }

    [Fact]
    public void GroupAddAndExecUserGetDockersGroups()
    {
        var r = Run("--group-add", "20", "busybox", "id");
        Assert.Equal((0, "uid=0(root) gid=0(root) groups=0(root),20\n"), (r.ExitCode, r.Stdout));
        var name = Unique("groups");
        Assert.Equal(0, f.Docker("run", "-d", "--name", name, "busybox", "sleep", "300").ExitCode);
        try
        {
            Assert.Equal("uid=0(root) gid=0(root) groups=0(root)\n", f.Docker("exec", name, "id").Stdout);
            var id = f.Docker("exec", "-u", "nobody", name, "id");
            Assert.True(id.Stdout == "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n", id.ToString());
            // dockerd's exit codes for an exec that cannot start: 127 only for a command not found.
            Assert.Equal(126, f.Docker("exec", "-w", "/nonexist", name, "pwd").ExitCode);
            Assert.Equal(126, f.Docker("exec", "-u", "nosuchuser", name, "true").ExitCode);
            Assert.Equal(126, f.Docker("exec", name, "/etc").ExitCode);
            Assert.Equal(127, f.Docker("exec", name, "nosuchcmd").ExitCode);
        }
        finally
        {
            f.Docker("rm", "-f", name);
        }
    }

    [Fact]
    public void DevicesAreMadeAvailable()
    {
        var r = Run("--device", "/dev/null:/dev/mynull", "busybox", "sh", "-c", "ls -l /dev/mynull | cut -c1-10; echo x > /dev/mynull && echo written");
        Assert.Equal((0, "crw-rw-rw-\nwritten\n"), (r.ExitCode, r.Stdout));
        r = Run("--device", "/dev/zero:/dev/z:r", "busybox", "sh", "-c", "head -c1 /dev/z | od -An -c");
        Assert.Equal("  \\0\n", r.Stdout);
        var name = Unique("dev");
        Assert.Equal(0, f.Docker("create", "--name", name, "--device", "/dev/null:/dev/n2:rw", "busybox").ExitCode);
        try
        {
            Assert.Equal("[{\"PathOnHost\":\"/dev/null\",\"PathInContainer\":\"/dev/n2\",\"CgroupPermissions\":\"rw\"}]\n",
                f.Docker("inspect", "-f", "{{json .HostConfig.Devices}}", name).Stdout);
        }
        finally
        {
            f.Docker("rm", "-f", name);
        }
        r = Run("--device", "/dev/skiff-no-such-device", "busybox", "true");
        Assert.Equal(127, r.ExitCode);
        Assert.Contains("error gathering device information while adding custom device \"/dev/skiff-no-such-device\": no such file or directory", r.Stderr);
    }

    /// <summary>A start refused by the daemon leaves no container behind: `run --rm` waits for its removal (it hung before).</summary>
    [Fact]
    public void FailedStartsOfRmContainersReturnAndRemoveThem()
    {
        var label = "skiff-habits=" + Guid.NewGuid().ToString("N");
        var r = Run("-l", label, "--log-opt", "max-size=abc", "busybox", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("failed to initialize logging driver: invalid size: 'abc'", r.Stderr);
        r = Run("-l", label, "--cap-add", "FOO", "busybox", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("invalid CapAdd: unknown capability: \"CAP_FOO\"", r.Stderr);
        r = Run("-l", label, "--log-opt", "foo=bar", "busybox", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("unknown log opt 'foo' for json-file log driver", r.Stderr);
        for (var i = 0; i < 50 && f.Docker("ps", "-aq", "--filter", "label=" + label).Stdout.Length > 0; i++) Thread.Sleep(100);
        Assert.Equal("", f.Docker("ps", "-aq", "--filter", "label=" + label).Stdout);
    }

    [Fact]
    public void PsFiltersAndCommandColumnAreDockers()
    {
        var label = "skiff-habits=" + Guid.NewGuid().ToString("N");
        string web = Unique("web"), batch = Unique("batch");
        Assert.Equal(0, f.Docker("run", "-d", "--name", web, "-l", label, "-p", "127.0.0.1::80", "--expose", "9000", "busybox", "sleep", "300").ExitCode);
        Assert.Equal(3, f.Docker("run", "--name", batch, "-l", label, "busybox", "sh", "-c", "exit 3").ExitCode);
        try
        {
            string Names(params string[] filters)
            {
                var args = new List<string> { "ps", "-a", "--format", "{{.Names}}", "--filter", "label=" + label };
                foreach (var flt in filters) { args.Add("--filter"); args.Add(flt); }
                var r = f.Docker([.. args]);
                Assert.True(r.ExitCode == 0, r.ToString());
                return string.Join(",", r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
            }
            Assert.Equal(web, Names("name=^/" + web + "$"));
            Assert.Equal(web, Names("name=^" + web + "$"));
            Assert.Equal("", Names("name=^/" + web + "x"));
            Assert.Equal(string.Join(",", new[] { web, batch }.Order()), Names("ancestor=busybox:latest"));
            Assert.Equal(string.Join(",", new[] { web, batch }.Order()), Names("is-task=false"));
            Assert.Equal("", Names("is-task=true"));
            Assert.Equal(web, Names("publish=80"));
            Assert.Equal(web, Names("publish=70-90/tcp"));
            Assert.Equal("", Names("publish=80/udp"));
            Assert.Equal(web, Names("expose=9000"));
            Assert.Equal(string.Join(",", new[] { web, batch }.Order()), Names("network=bridge"));

            var bad = f.Docker("ps", "-a", "--filter", "status=bogus");
            Assert.Equal((1, "Error response from daemon: invalid filter 'status=bogus'\n"), (bad.ExitCode, bad.Stderr));
            Assert.Equal("\"sh -c 'exit 3'\"\n", f.Docker("ps", "-a", "--no-trunc", "--filter", "name=" + batch, "--format", "{{.Command}}").Stdout);
        }
        finally
        {
            f.Docker("rm", "-f", web, batch);
        }
    }

    [Fact]
    public void LogsDetailsAndRenameErrorsAreDockers()
    {
        string a = Unique("logs"), b = Unique("other");
        Assert.Equal(0, f.Docker("run", "--name", a, "busybox", "sh", "-c", "echo one; echo two >&2").ExitCode);
        Assert.Equal(0, f.Docker("create", "--name", b, "busybox").ExitCode);
        try
        {
            var logs = f.Docker("logs", "--details", a);
            Assert.Equal((" one\n", " two\n"), (logs.Stdout, logs.Stderr));
            var r = f.Docker("rename", a, b);
            Assert.Equal(1, r.ExitCode);
            Assert.StartsWith($"Error response from daemon: Error when allocating new name: Conflict. The container name \"/{b}\" is already in use", r.Stderr);
            r = f.Docker("rename", a, "bad name!");
            Assert.Equal(1, r.ExitCode);
            Assert.StartsWith("Error response from daemon: Error when allocating new name: Invalid container name (/bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed\n", r.Stderr);
        }
        finally
        {
            f.Docker("rm", "-f", a, b);
        }
    }

    [Fact]
    public void CpIntoAContainerKeepsTheArchiveOwnersAndMinusAUsesTheContainerUser()
    {
        string dir = Directory.CreateTempSubdirectory("skiff-habits").FullName;
        string file = Path.Combine(dir, "a");
        File.WriteAllText(file, "hi\n");
        Assert.Equal(0, Proc.Run("chown", ["777:888", file]).ExitCode);
        string root = Unique("cproot"), user = Unique("cpuser");
        Assert.Equal(0, f.Docker("create", "--name", root, "busybox").ExitCode);
        Assert.Equal(0, f.Docker("create", "--name", user, "-u", "nobody", "busybox").ExitCode);
        try
        {
            var cp = f.Docker("cp", file, root + ":/plain");
            Assert.True(cp.ExitCode == 0, cp.ToString());
            cp = f.Docker("cp", "-a", file, user + ":/archive");
            Assert.True(cp.ExitCode == 0, cp.ToString());
            Assert.Equal("777:888", Owner(root, "/plain"));
            Assert.Equal("65534:65534", Owner(user, "/archive"));
        }
        finally
        {
            f.Docker("rm", "-f", root, user);
            Directory.Delete(dir, true);
        }

        string Owner(string container, string path)
        {
            var psi = new System.Diagnostics.ProcessStartInfo(DaemonFixture.DockerCli) { RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var (k, v) in f.DockerEnv) psi.Environment[k] = v;
            foreach (var a in new[] { "cp", container + ":" + path, "-" }) psi.ArgumentList.Add(a);
            using var p = System.Diagnostics.Process.Start(psi)!;
            using var reader = new System.Formats.Tar.TarReader(p.StandardOutput.BaseStream);
            var entry = reader.GetNextEntry()!;
            var owner = $"{entry.Uid}:{entry.Gid}";
            p.StandardOutput.BaseStream.CopyTo(Stream.Null);
            p.WaitForExit();
            return owner;
        }
    }
}
