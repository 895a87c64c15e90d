using System.Diagnostics;

namespace Skiff.Integration.Tests;

/// <summary>
/// <c>RUN --mount=type=ssh</c> with <c>skiff build --ssh</c>: a real <c>ssh-agent</c> on the client side, reached from the
/// build step through the client's build session, and <c>ssh-add -l</c> (the host's, copied into the image with its
/// libraries) inside the step. Also cache mounts seeded <c>from=</c> a stage.
/// </summary>
[Collection("daemon")]
public sealed class BuildSshTests(DaemonFixture f)
{
    private static void Ok(ProcResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    /// <summary>A context holding /usr/bin/ssh-add and the libraries it links, at their paths under rootfs/.</summary>
    private static string SshAddContext(TempDir tmp, string dockerfile)
    {
        string dir = tmp.Sub("ctx");
        File.WriteAllText(Path.Combine(dir, "Dockerfile"), dockerfile);
        var files = new List<string> { "/usr/bin/ssh-add" };
        var ldd = Proc.Run("ldd", ["/usr/bin/ssh-add"]);
        Ok(ldd);
        foreach (var line in ldd.Stdout.Split('\n'))
        {
            var path = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(w => w.StartsWith('/'));
            if (path is not null) files.Add(path);
        }
        foreach (var file in files)
        {
            string target = Path.Combine(dir, "rootfs", file.TrimStart('/'));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
            File.SetUnixFileMode(target, (UnixFileMode)0x1ED);
        }
        return dir;
    }

    /// <summary>An ssh-agent of this test's own (foreground, killed by PID), holding one new key.</summary>
    private sealed class Agent : IDisposable
    {
        private readonly Process _process;
        public string Socket { get; }

        public Agent(TempDir tmp, string comment)
        {
            string dir = tmp.Sub("agent-" + comment);
            Socket = Path.Combine(dir, "agent.sock");
            _process = Process.Start(new ProcessStartInfo("ssh-agent", ["-D", "-a", Socket]) { RedirectStandardOutput = true, UseShellExecute = false })!;
            for (int i = 0; i < 100 && !File.Exists(Socket); i++) Thread.Sleep(50);
            Ok(Proc.Run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", Path.Combine(dir, "key")]));
            Ok(Proc.Run("ssh-add", [Path.Combine(dir, "key")], new Dictionary<string, string> { ["SSH_AUTH_SOCK"] = Socket }));
        }

        public void Dispose()
        {
            try { _process.Kill(); _process.WaitForExit(); } catch (InvalidOperationException) { }
            _process.Dispose();
        }
    }

    [Fact]
    public void RunStepsReachTheClientsSshAgents()
    {
        using var tmp = new TempDir();
        using var first = new Agent(tmp, "it-key-default");
        using var second = new Agent(tmp, "it-key-work");
        string ctx = SshAddContext(tmp, """
            FROM busybox
            COPY rootfs/ /
            RUN --mount=type=ssh ssh-add -l > /keys && echo "$SSH_AUTH_SOCK" > /sock && stat -c '%a %u' "$SSH_AUTH_SOCK" > /sockmode
            RUN --mount=type=ssh,id=work,target=/agent,mode=0666,uid=1000,required sh -c 'SSH_AUTH_SOCK=/agent ssh-add -l > /keys2; stat -c "%a %u" /agent > /mode2'
            RUN --mount=type=ssh,id=absent sh -c 'test -e /run/buildkit/ssh_agent.0 && echo present > /absent || echo skipped > /absent'
            """);

        // --ssh default takes SSH_AUTH_SOCK from the client's environment; --ssh id=path names a socket.
        var env = new Dictionary<string, string>(f.SkiffEnv) { ["SSH_AUTH_SOCK"] = first.Socket };
        var r = Proc.Run(f.Skiff, ["build", "--ssh", "default", "--ssh", "work=" + second.Socket, "-t", "it-ssh", ctx], env);
        Ok(r);

        var check = f.Docker("run", "--rm", "it-ssh", "sh", "-c",
            "cat /keys /sock /sockmode /keys2 /mode2 /absent; for p in /run/buildkit /agent; do test -e $p && echo leaked $p; done; true");
        Ok(check);
        var lines = check.Stdout.Split('\n');
        Assert.Matches(@"^256 SHA256:\S+ it-key-default \(ED25519\)$", lines[0]);
        Assert.Equal("/run/buildkit/ssh_agent.0", lines[1]);
        Assert.Equal("600 0", lines[2]);
        Assert.Matches(@"^256 SHA256:\S+ it-key-work \(ED25519\)$", lines[3]);
        Assert.Equal("666 1000", lines[4]);
        Assert.Equal("skipped", lines[5]);
        Assert.Equal(7, lines.Length);

        // A required agent the client does not forward fails the step with BuildKit's words; a missing socket fails in the CLI.
        string required = tmp.Sub("required");
        File.WriteAllText(Path.Combine(required, "Dockerfile"), "FROM busybox\nRUN --mount=type=ssh,required true\n");
        var missing = f.SkiffCli("build", "--no-cache", required);
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("no SSH key \"default\" forwarded from the client", missing.Stderr);
        var bad = f.SkiffCli("build", "--ssh", "default=" + Path.Combine(tmp.Path, "nope.sock"), required);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("no such file or directory", bad.Stderr);
        Ok(f.Docker("rmi", "it-ssh"));
    }

    [Fact]
    public void CacheMountsFromAStageStartAsItsSourceAndKeepTheirWrites()
    {
        using var tmp = new TempDir();
        string id = "it-from-" + Guid.NewGuid().ToString("N")[..8];
        string dir = tmp.Sub("ctx");
        File.WriteAllText(Path.Combine(dir, "Dockerfile"), $$"""
            FROM busybox AS seed
            RUN mkdir -p /seed/sub && echo seeded > /seed/a && chown 7:8 /seed/sub

            FROM busybox
            RUN --mount=type=cache,id={{id}},target=/c,from=seed,source=/seed sh -c 'cat /c/a > /first; stat -c "%u %g" /c/sub > /owner; echo more >> /c/a'
            RUN --mount=type=cache,id={{id}},target=/c,from=seed,source=/seed sh -c 'cat /c/a > /second'
            RUN --mount=type=cache,id={{id}},target=/c sh -c 'ls /c | wc -l | tr -d " " > /plain'
            """);
        Ok(f.Docker("build", "-t", "it-cachefrom", dir));
        var r = f.Docker("run", "--rm", "it-cachefrom", "sh", "-c", "cat /first /owner /second /plain; test -e /c/a && echo leaked; true");
        Ok(r);
        Assert.Equal("seeded\n7 8\nseeded\nmore\n0\n", r.Stdout);
        Ok(f.Docker("rmi", "it-cachefrom"));
    }
}
