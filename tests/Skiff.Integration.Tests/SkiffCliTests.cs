namespace Skiff.Integration.Tests;

/// <summary>The skiff CLI against a real skiffd.</summary>
[Collection("daemon")]
public sealed class SkiffCliTests(DaemonFixture f)
{
    [Fact]
    public void RunRmEchoesHello()
    {
        var r = f.SkiffCli("run", "--rm", "busybox", "echo", "hello");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("hello\n", r.Stdout);
    }

    [Fact]
    public void DetachedPsLogsRm()
    {
        var run = f.SkiffCli("run", "-d", "--name", "it-skiff-d", "busybox", "sh", "-c", "echo ready; sleep 30");
        Assert.True(run.ExitCode == 0, run.ToString());
        try
        {
            Assert.Contains("it-skiff-d", f.SkiffCli("ps").Stdout);
            ProcResult logs = default!;
            for (var i = 0; i < 100 && !(logs?.Stdout.Contains("ready") ?? false); i++)
            {
                logs = f.SkiffCli("logs", "it-skiff-d");
                Thread.Sleep(20);
            }
            Assert.Equal("ready\n", logs.Stdout);
        }
        finally
        {
            Assert.Equal(0, f.SkiffCli("rm", "-f", "it-skiff-d").ExitCode);
        }
        Assert.DoesNotContain("it-skiff-d", f.SkiffCli("ps", "-a").Stdout);
    }

    [Fact]
    public void ExitCodesAndErrors()
    {
        Assert.Equal(3, f.SkiffCli("run", "--rm", "busybox", "sh", "-c", "exit 3").ExitCode);
        var missing = f.SkiffCli("run", "--rm", "busybox", "nosuchcommand");
        Assert.Equal(127, missing.ExitCode);
        Assert.Contains("executable file not found", missing.Stderr);
        var badFlag = f.SkiffCli("run", "--no-such-flag", "busybox");
        Assert.Equal(125, badFlag.ExitCode);
    }

    [Fact]
    public void ImagesListsBusybox()
    {
        var r = f.SkiffCli("images", "--format", "{{.Repository}}:{{.Tag}}");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("busybox:latest", r.Stdout.Split('\n'));
    }
}
