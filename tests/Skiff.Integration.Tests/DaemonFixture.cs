using System.Diagnostics;
using System.Net.Sockets;

namespace Skiff.Integration.Tests;

/// <summary>
/// A real skiffd on a temporary socket, data root and exec root, with a busybox:latest image
/// imported through the real Docker CLI. Everything it started or made is removed on dispose,
/// also when tests failed: containers, the daemon (by PID), shims of this root, mounts, temp dirs.
/// </summary>
public sealed class DaemonFixture : IDisposable
{
    public DaemonFixture() : this([])
    {
    }

    /// <param name="extraArgs">More skiffd flags (e.g. <c>--userns-remap</c>), for fixtures of their own.</param>
    internal DaemonFixture(IReadOnlyList<string> extraArgs)
    {
        _extraArgs = extraArgs;
        BinDir = FindBinDir();
        Root = Path.Combine(Path.GetTempPath(), "skiff-it-" + Guid.NewGuid().ToString("N")[..8]);
        DataRoot = Path.Combine(Root, "data");
        ExecRoot = Path.Combine(Root, "exec");
        Socket = Path.Combine(ExecRoot, "skiff.sock");
        Bridge = "skt" + Guid.NewGuid().ToString("N")[..8];
        Subnet16 = FreeSubnet16();
        Directory.CreateDirectory(Root);
        StartDaemon();
        ImportBusybox();
    }

    private readonly IReadOnlyList<string> _extraArgs;

    public string BinDir { get; }
    public string Root { get; }
    public string DataRoot { get; }
    public string ExecRoot { get; }
    public string Socket { get; }
    public string Host => "unix://" + Socket;
    /// <summary>This daemon's own default bridge, so concurrent test daemons (and Docker) never share one.</summary>
    public string Bridge { get; }
    /// <summary>Second octet of the 10.N.0.0/16 this daemon's networks come from (the default bridge is 10.N.255.0/24).</summary>
    public int Subnet16 { get; }
    public string NatTable => "skiff-" + Bridge;
    public Process? Daemon { get; private set; }
    public string Skiff => Path.Combine(BinDir, "skiff");
    public const string DockerCli = "/usr/local/bin/docker";

    public Dictionary<string, string> DockerEnv => new()
    {
        ["DOCKER_HOST"] = Host,
        ["DOCKER_CONFIG"] = Path.Combine(Root, "docker-config"),
        ["DOCKER_BUILDKIT"] = "0",
        ["DOCKER_CLI_HINTS"] = "false",
    };

    public Dictionary<string, string> SkiffEnv => new() { ["SKIFF_HOST"] = Host };

    public ProcResult Docker(params string[] args) => Proc.Run(DockerCli, args, DockerEnv);
    public ProcResult SkiffCli(params string[] args) => Proc.Run(Skiff, args, SkiffEnv);

    private static string FindBinDir()
    {
        var env = Environment.GetEnvironmentVariable("SKIFF_BIN");
        if (!string.IsNullOrEmpty(env)) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "out", "bin");
            if (File.Exists(Path.Combine(candidate, "skiffd"))) return candidate;
        }
        throw new InvalidOperationException("skiffd not found: run scripts/test.sh (it publishes to out/bin) or set SKIFF_BIN");
    }

    public void StartDaemon()
    {
        var psi = new ProcessStartInfo(Path.Combine(BinDir, "skiffd"))
        {
            UseShellExecute = false,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var a in new[] { "-H", Host, "--data-root", DataRoot, "--exec-root", ExecRoot, "--pidfile", Path.Combine(Root, "skiffd.pid"), "--runtime", Path.Combine(BinDir, "skiff-runtime"),
            "--bridge", Bridge, "--bip", $"10.{Subnet16}.255.1/24", "--default-address-pool", $"base=10.{Subnet16}.0.0/16,size=24" })
            psi.ArgumentList.Add(a);
        foreach (var a in _extraArgs) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var log = Path.Combine(Root, "skiffd.log");
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (this) File.AppendAllText(log, e.Data + "\n"); };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (this) File.AppendAllText(log, e.Data + "\n"); };
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        Daemon = p;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            if (p.HasExited) throw new InvalidOperationException($"skiffd exited with {p.ExitCode}: {SafeRead(log)}");
            if (File.Exists(Socket))
            {
                try
                {
                    using var s = new System.Net.Sockets.Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    s.Connect(new UnixDomainSocketEndPoint(Socket));
                    return;
                }
                catch (SocketException)
                {
                }
            }
            Thread.Sleep(20);
        }
        throw new TimeoutException("skiffd did not listen within 20 s: " + SafeRead(log));
    }

    /// <summary>Kills the daemon with SIGKILL, as a crash would; its containers and shims keep running.</summary>
    public void KillDaemon()
    {
        if (Daemon is null) return;
        Daemon.Kill();
        Daemon.WaitForExit();
        Daemon.Dispose();
        Daemon = null;
    }

    public string DaemonLog => SafeRead(Path.Combine(Root, "skiffd.log"));

    /// <summary>A 10.N.0.0/16 (N in 100..199) that no route of this host falls in.</summary>
    private static int FreeSubnet16()
    {
        var used = new HashSet<int>();
        foreach (var line in File.ReadAllLines("/proc/net/route").Skip(1))
        {
            var f = line.Split('\t', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 2 || !uint.TryParse(f[1], System.Globalization.NumberStyles.HexNumber, null, out var dst)) continue;
            if ((dst & 0xff) == 10) used.Add((int)((dst >> 8) & 0xff));
        }
        var candidates = Enumerable.Range(100, 100).Where(n => !used.Contains(n)).ToList();
        return candidates[Random.Shared.Next(candidates.Count)];
    }

    private static string SafeRead(string path)
    {
        try { return File.ReadAllText(path); } catch (IOException) { return ""; }
    }

    private void ImportBusybox()
    {
        var rootfs = Path.Combine(Root, "busybox-rootfs");
        var script = $"""
            set -e
            mkdir -p {rootfs}/bin {rootfs}/etc {rootfs}/tmp {rootfs}/root {rootfs}/proc {rootfs}/sys {rootfs}/dev
            cp /bin/busybox {rootfs}/bin/busybox
            for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox {rootfs}/bin/$a; done
            printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > {rootfs}/etc/passwd
            printf 'root:x:0:\nnogroup:x:65534:\n' > {rootfs}/etc/group
            tar -C {rootfs} -cf {Root}/busybox.tar .
            """;
        var r = Proc.Sh(script);
        if (r.ExitCode != 0) throw new InvalidOperationException("making the busybox rootfs failed: " + r);
        var import = Proc.Run(DockerCli, ["import", "-c", "CMD [\"sh\"]", Path.Combine(Root, "busybox.tar"), "busybox:latest"], DockerEnv);
        if (import.ExitCode != 0) throw new InvalidOperationException("docker import failed: " + import + "\n" + DaemonLog);
        Directory.Delete(rootfs, recursive: true);
    }

    public void Dispose()
    {
        if (Daemon is null || Daemon.HasExited) { try { StartDaemon(); } catch (Exception) { } }
        try
        {
            var ids = Docker("ps", "-aq").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            foreach (var id in ids) Docker("rm", "-f", id);
            Docker("network", "prune", "-f");
        }
        catch (Exception)
        {
        }
        if (Daemon is { HasExited: false })
        {
            Daemon.Kill();
            Daemon.WaitForExit(10_000);
        }
        // Shims started for this root (they are ours): end any left running by PID.
        var bundles = Path.Combine(ExecRoot, "containers");
        if (Directory.Exists(bundles))
        {
            foreach (var pidFile in Directory.GetFiles(bundles, "shim.pid", SearchOption.AllDirectories))
            {
                if (int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid))
                {
                    try { Process.GetProcessById(pid).Kill(entireProcessTree: true); } catch (ArgumentException) { } catch (InvalidOperationException) { }
                }
            }
        }
        // The daemon's default bridge and its NAT table (user networks went with the prune above).
        Proc.Run("/usr/sbin/nft", ["delete", "table", "ip", NatTable]);
        Proc.Run("/sbin/ip", ["link", "delete", Bridge]);
        foreach (var mount in File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4]).Where(m => m.StartsWith(Root, StringComparison.Ordinal)).Reverse())
            Proc.Run("/bin/umount", ["-l", mount]);
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

[CollectionDefinition("daemon")]
public sealed class DaemonCollection : ICollectionFixture<DaemonFixture>;
