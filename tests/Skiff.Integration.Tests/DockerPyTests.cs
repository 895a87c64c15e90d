namespace Skiff.Integration.Tests;

/// <summary>docker-py (Debian's python3-docker, installed by scripts/test.sh) against skiffd: see docker_py_check.py.</summary>
[Collection("daemon")]
public sealed class DockerPyTests(DaemonFixture f)
{
    [Fact]
    public void DockerPyRunsContainersExecArchivesStatsNetworksVolumesImagesAndBuilds()
    {
        var script = Path.Combine(AppContext.BaseDirectory, "docker_py_check.py");
        var r = Proc.Run("/usr/bin/python3", [script], new Dictionary<string, string> { ["DOCKER_HOST"] = f.Host }, timeoutMs: 300_000);
        Assert.True(r.ExitCode == 0, r + "\n" + f.DaemonLog);
        Assert.EndsWith("docker-py: ok\n", r.Stdout);
    }
}
