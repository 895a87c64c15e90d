using System.Diagnostics;

namespace Skiff.Integration.Tests;

/// <summary>
/// A private dockerd (Debian's docker.io 20.10) started through the shared <c>scripts/lib/private-dockerd.sh</c>: a bash
/// process sources it, starts the daemon on its own roots under a temporary directory, prints the socket and then waits
/// on its stdin. Disposing closes that stdin (so does the test process dying), and the script's exit trap stops the
/// daemon by its PID and removes its containers, mounts, cgroups and directory.
/// </summary>
public sealed class PrivateDockerd : IDisposable
{
    private readonly Process _shell;

    /// <param name="withBridge">
    /// Gives dockerd a default bridge (a private one on a free 10.N.0.0/24, deleted by the cleanup) and
    /// imports busybox:latest; otherwise dockerd runs with --bridge=none and no image.
    /// </param>
    public PrivateDockerd(bool withBridge = false)
    {
        if (!File.Exists("/usr/sbin/dockerd") && !File.Exists("/usr/bin/dockerd"))
            throw new InvalidOperationException("dockerd is not installed: scripts/test.sh installs docker.io");
        string lib = FindLib();
        Work = Path.Combine(Path.GetTempPath(), "skiff-it-dockerd-" + Guid.NewGuid().ToString("N")[..8]);
        var psi = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("""
            set -u
            . "$1"
            pd_init "$2"
            trap 'pd_cleanup; rm -rf "$2"' EXIT
            if [ "$3" = bridge ]; then
              n=$(pd_free_subnet16) || exit 1
              br="pdb$(pd_rand)"
              pd_make_bridge "$br" "10.$n.0.1/24"
              pd_start_dockerd docker --bridge "$br" || exit 1
              pd_import_busybox "$PD_HOST" || exit 1
            else
              pd_start_dockerd docker || exit 1
            fi
            echo "READY $PD_HOST"
            read -r _ || true
            """);
        psi.ArgumentList.Add("private-dockerd");
        psi.ArgumentList.Add(lib);
        psi.ArgumentList.Add(Work);
        psi.ArgumentList.Add(withBridge ? "bridge" : "");
        psi.Environment["PD_DOCKER_CLI"] = Cli;
        _shell = Process.Start(psi)!;
        var stderr = _shell.StandardError.ReadToEndAsync();
        var ready = _shell.StandardOutput.ReadLineAsync();
        if (!ready.Wait(TimeSpan.FromSeconds(90)) || ready.Result is not { } line || !line.StartsWith("READY ", StringComparison.Ordinal))
        {
            Dispose();
            throw new InvalidOperationException("the private dockerd did not start: " + (stderr.Wait(5000) ? stderr.Result : ""));
        }
        Host = line["READY ".Length..];
    }

    /// <summary>Debian's own Docker CLI (20.10), as a Docker user would have it.</summary>
    public const string Cli = "/usr/bin/docker";

    public string Work { get; }
    public string Host { get; } = "";

    public ProcResult Docker(params string[] args) =>
        Proc.Run(Cli, args, new Dictionary<string, string> { ["DOCKER_HOST"] = Host, ["DOCKER_CONFIG"] = Path.Combine(Work, "docker-config") }, timeoutMs: 120_000);

    private static string FindLib()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "scripts", "lib", "private-dockerd.sh");
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException("scripts/lib/private-dockerd.sh not found above " + AppContext.BaseDirectory);
    }

    public void Dispose()
    {
        try
        {
            _shell.StandardInput.Close();
            if (!_shell.WaitForExit(60_000)) _shell.Kill();
        }
        catch (InvalidOperationException)
        {
        }
        _shell.Dispose();
    }
}
