namespace Skiff.Integration.Tests;

/// <summary>Containers outlive the daemon: kill -9 skiffd, start it again, the container is still there.</summary>
[Collection("daemon")]
public sealed class DaemonRestartTests(DaemonFixture f)
{
    [Fact]
    public void RunningContainerSurvivesDaemonKill()
    {
        var run = f.Docker("run", "-d", "--name", "it-survivor", "busybox", "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done");
        Assert.True(run.ExitCode == 0, run.ToString());
        var exited = f.Docker("run", "-d", "--name", "it-exits-while-down", "busybox", "sh", "-c", "sleep 1; exit 5");
        Assert.True(exited.ExitCode == 0, exited.ToString());
        try
        {
            Thread.Sleep(400);
            f.KillDaemon();
            Thread.Sleep(1500);
            f.StartDaemon();

            var ps = f.Docker("ps", "--format", "{{.Names}} {{.State}}");
            Assert.Contains("it-survivor running", ps.Stdout);
            var before = CountTicks();
            Thread.Sleep(1000);
            Assert.True(CountTicks() > before, "logs continue after the daemon restart");

            var status = f.Docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "it-exits-while-down");
            Assert.Equal("exited 5\n", status.Stdout);
        }
        finally
        {
            f.Docker("rm", "-f", "it-survivor");
            f.Docker("rm", "-f", "it-exits-while-down");
        }
    }

    private int CountTicks() => f.Docker("logs", "it-survivor").Stdout.Split('\n').Count(l => l.StartsWith("tick"));
}
