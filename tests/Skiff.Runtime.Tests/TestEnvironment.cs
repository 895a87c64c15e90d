using System.Diagnostics;
using Skiff.Runtime.Spec;

namespace Skiff.Runtime.Tests;

/// <summary>
/// Locates (or publishes) the skiff-runtime binary: <c>SKIFF_RUNTIME</c> if set, else <c>out/bin/skiff-runtime</c>
/// in the repository, published with <c>dotnet publish</c> when missing.
/// </summary>
public static class TestEnvironment
{
    private static readonly Lazy<string> s_runtime = new(FindOrPublish);
    private static readonly object s_lock = new();

    public static string RuntimeBinary => s_runtime.Value;

    public static string RepoRoot
    {
        get
        {
            string? dir = AppContext.BaseDirectory;
            while (dir is not null && !File.Exists(Path.Combine(dir, "Skiff.slnx"))) dir = Path.GetDirectoryName(dir);
            return dir ?? throw new InvalidOperationException("repository root not found");
        }
    }

    private static string FindOrPublish()
    {
        string? env = Environment.GetEnvironmentVariable("SKIFF_RUNTIME");
        if (!string.IsNullOrEmpty(env)) return env;
        string bin = Path.Combine(RepoRoot, "out", "bin", "skiff-runtime");
        lock (s_lock)
        {
            if (File.Exists(bin)) return bin;
            var psi = new ProcessStartInfo("dotnet", ["publish", Path.Combine(RepoRoot, "src", "Skiff.Runtime.Cli"), "-c", "Release", "-o", Path.GetDirectoryName(bin)!])
            { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0 || !File.Exists(bin)) throw new InvalidOperationException("publishing skiff-runtime failed:\n" + output);
            return bin;
        }
    }

    public static bool HasRunc => File.Exists("/usr/sbin/runc") || File.Exists("/usr/bin/runc");
}

/// <summary>
/// A throwaway OCI bundle: busybox-static in rootfs/bin with one symlink per applet, small /etc/passwd and
/// /etc/group, and Docker's default spec with a unique cgroup path under <c>/skiff-test/</c>. Dispose removes
/// the directory and the cgroup directories (the rootfs is only mounted inside the containers' namespaces).
/// </summary>
public sealed class BusyboxBundle : IDisposable
{
    public const string CgroupParent = "/skiff-test";

    public BusyboxBundle(params string[] args)
    {
        Id = "t" + Guid.NewGuid().ToString("N")[..12];
        Dir = Path.Combine(Path.GetTempPath(), "skiff-bundle-" + Id);
        StateRoot = Path.Combine(Dir, "state");
        string rootfs = Path.Combine(Dir, "rootfs");
        foreach (string d in new[] { "bin", "etc", "proc", "sys", "dev", "tmp", "root", "home/alice" })
            Directory.CreateDirectory(Path.Combine(rootfs, d));
        File.Copy("/bin/busybox", Path.Combine(rootfs, "bin", "busybox"));
        var list = Process.Start(new ProcessStartInfo("/bin/busybox", "--list") { RedirectStandardOutput = true })!;
        foreach (string applet in list.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries))
            if (applet != "busybox") File.CreateSymbolicLink(Path.Combine(rootfs, "bin", applet), "busybox");
        list.WaitForExit();
        File.WriteAllText(Path.Combine(rootfs, "etc", "passwd"),
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:alice:/home/alice:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
        File.WriteAllText(Path.Combine(rootfs, "etc", "group"),
            "root:x:0:\nwheel:x:10:alice\nusers:x:100:alice\nalice:x:1000:\nnogroup:x:65534:\n");
        File.WriteAllText(Path.Combine(rootfs, "etc", "hostname"), "image\n");
        Spec = DockerDefaults.CreateSpec(args.Length > 0 ? args : ["true"], hostname: "skiffhost");
        Spec.Linux!.CgroupsPath = $"{CgroupParent}/{Id}";
        Save();
    }

    public string Id { get; }
    public string Dir { get; }
    public string StateRoot { get; }
    public OciSpec Spec { get; }

    public void Save() => Spec.Save(Dir);

    public void Dispose()
    {
        foreach (string controllerRoot in Directory.GetDirectories("/sys/fs/cgroup"))
        {
            foreach (string path in new[] { $"{controllerRoot}{CgroupParent}/{Id}", $"{controllerRoot}{CgroupParent}/{Id}-runc" })
                for (int i = 0; i < 50 && Directory.Exists(path); i++)
                {
                    try { Directory.Delete(path); } catch (IOException) { Thread.Sleep(20); }
                }
        }
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}

public sealed record RunResult(int ExitCode, string Stdout, string Stderr);

/// <summary>Runs a runtime binary with stdio in files (a container may keep inherited pipes open) and a timeout.</summary>
public static class Runner
{
    public static RunResult Run(string binary, IEnumerable<string> args, TimeSpan? timeout = null, string? cwd = null)
    {
        string outFile = Path.GetTempFileName(), errFile = Path.GetTempFileName();
        try
        {
            string cmd = string.Join(' ', new[] { binary }.Concat(args).Select(Quote)) + $" </dev/null >{Quote(outFile)} 2>{Quote(errFile)}";
            var psi = new ProcessStartInfo("/bin/sh", ["-c", cmd]) { WorkingDirectory = cwd ?? Environment.CurrentDirectory };
            using var p = Process.Start(psi)!;
            if (!p.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)))
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit();
                throw new TimeoutException($"{binary} {string.Join(' ', args)} timed out");
            }
            return new RunResult(p.ExitCode, File.ReadAllText(outFile), File.ReadAllText(errFile));
        }
        finally
        {
            File.Delete(outFile);
            File.Delete(errFile);
        }
    }

    public static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    /// <summary><c>run</c> of the bundle under skiff-runtime.</summary>
    public static RunResult Skiff(BusyboxBundle b, string? id = null) =>
        Run(TestEnvironment.RuntimeBinary, ["--root", b.StateRoot, "run", "--bundle", b.Dir, id ?? b.Id]);

    /// <summary><c>run</c> of the same bundle under runc, with its own cgroup path.</summary>
    public static RunResult Runc(BusyboxBundle b)
    {
        string saved = b.Spec.Linux!.CgroupsPath!;
        b.Spec.Linux.CgroupsPath = saved + "-runc";
        b.Save();
        try { return Run("runc", ["--root", b.StateRoot + "-runc", "run", "--bundle", b.Dir, b.Id + "-runc"]); }
        finally
        {
            b.Spec.Linux.CgroupsPath = saved;
            b.Save();
            Run("runc", ["--root", b.StateRoot + "-runc", "delete", "-f", b.Id + "-runc"]);
        }
    }
}

/// <summary>Removes the shared <c>/skiff-test</c> cgroup parents when the test process exits (each test removes its own child).</summary>
internal static class CgroupParentCleanup
{
    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void Register() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (string controllerRoot in Directory.GetDirectories("/sys/fs/cgroup"))
        {
            try { Directory.Delete(controllerRoot + BusyboxBundle.CgroupParent); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    };
}
