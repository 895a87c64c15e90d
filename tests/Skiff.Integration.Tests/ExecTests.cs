using Docker.DotNet;
using Docker.DotNet.Models;

namespace Skiff.Integration.Tests;

/// <summary>Exec through the shim: detached exit codes, output of many execs, and exec'd processes that leave children behind.</summary>
[Collection("daemon")]
public sealed class ExecTests(DaemonFixture f)
{
    private DockerClient Client() => new DockerClientConfiguration(new Uri(f.Host)).CreateClient();

    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private string RunDetached(string name)
    {
        var r = f.Docker("run", "-d", "--name", name, "busybox", "sleep", "300");
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.Stdout.Trim();
    }

    [Fact]
    public async Task DetachedExecRecordsItsExitCode()
    {
        var id = RunDetached(Unique("exec-detached"));
        using var client = Client();
        try
        {
            var exec = await client.Exec.ExecCreateContainerAsync(id, new ContainerExecCreateParameters { Cmd = ["sh", "-c", "sleep 0.3; exit 7"] });
            await client.Exec.StartContainerExecAsync(exec.ID);
            var inspect = await client.Exec.InspectContainerExecAsync(exec.ID);
            for (var i = 0; i < 200 && inspect.Running; i++)
            {
                await Task.Delay(50);
                inspect = await client.Exec.InspectContainerExecAsync(exec.ID);
            }
            Assert.False(inspect.Running);
            Assert.Equal(7, inspect.ExitCode);

            // The Docker CLI's -d: the process runs on after the command returns, and its effects show.
            var d = f.Docker("exec", "-d", id, "sh", "-c", "sleep 0.2; echo done > /tmp/detached");
            Assert.True(d.ExitCode == 0, d.ToString());
            string content = "";
            for (var i = 0; i < 100 && content != "done"; i++)
            {
                Thread.Sleep(50);
                content = f.Docker("exec", id, "cat", "/tmp/detached").Stdout.Trim();
            }
            Assert.Equal("done", content);
        }
        finally
        {
            f.Docker("rm", "-f", id);
        }
    }

    [Fact]
    public void ExecOutputExitCodesAndBackgroundChildren()
    {
        var id = RunDetached(Unique("exec-out"));
        try
        {
            // stdout and stderr apart, exit codes through, many in a row (each exec'd process and its output loop end cleanly).
            for (var i = 0; i < 5; i++)
            {
                var r = f.Docker("exec", id, "sh", "-c", $"echo out{i}; echo err{i} >&2; exit {i}");
                Assert.Equal(i, r.ExitCode);
                Assert.Equal($"out{i}", r.Stdout.Trim());
                Assert.Contains($"err{i}", r.Stderr);
            }
            var big = f.Docker("exec", id, "seq", "1", "50000");
            Assert.Equal(0, big.ExitCode);
            Assert.Equal(50000, big.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

            // A child that keeps the output pipe open must not hold the exec up for long after its parent exited.
            var started = DateTime.UtcNow;
            var bg = f.Docker("exec", id, "sh", "-c", "sleep 30 & echo parent; exit 3");
            Assert.Equal(3, bg.ExitCode);
            Assert.Equal("parent", bg.Stdout.Trim());
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(15), "exec waited for the background child");
        }
        finally
        {
            f.Docker("rm", "-f", id);
        }
    }
}
