using System.Formats.Tar;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Skiff.Integration.Tests;

/// <summary>Docker.DotNet against skiffd for stats, events, archive, exec inspect/resize, detach keys, commit and update.</summary>
[Collection("daemon")]
public sealed class ApiSurfaceDotNetTests(DaemonFixture f)
{
    private DockerClient Client() => new DockerClientConfiguration(new Uri(f.Host)).CreateClient();

    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private static async Task<string> RunAsync(DockerClient client, string name, params string[] cmd)
    {
        var created = await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = "busybox", Name = name, Cmd = cmd, OpenStdin = true,
            HostConfig = new HostConfig { Memory = 64 * 1024 * 1024 },
        });
        Assert.True(await client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters()));
        return created.ID;
    }

    [Fact]
    public async Task StatsOneShotAndStream()
    {
        using var client = Client();
        var name = Unique("dn-stats");
        var id = await RunAsync(client, name, "sh", "-c", "while :; do :; done");
        try
        {
            ContainerStatsResponse? one = null;
            await client.Containers.GetContainerStatsAsync(id, new ContainerStatsParameters { Stream = false, OneShot = true }, new Progress<ContainerStatsResponse>(s => one = s));
            await Task.Delay(200);
            Assert.NotNull(one);
            Assert.Equal("/" + name, one!.Name);
            Assert.Equal(64UL * 1024 * 1024, one.MemoryStats.Limit);
            Assert.True(one.MemoryStats.Usage > 0);
            Assert.True(one.CPUStats.SystemUsage > 0);
            Assert.True(one.CPUStats.OnlineCPUs > 0);
            Assert.Equal(1UL, one.PidsStats.Current);

            var samples = new List<ContainerStatsResponse>();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3.5));
            try
            {
                await client.Containers.GetContainerStatsAsync(id, new ContainerStatsParameters { Stream = true }, new Progress<ContainerStatsResponse>(s => { lock (samples) samples.Add(s); }), cts.Token);
            }
            catch (OperationCanceledException)
            {
            }
            await Task.Delay(200);
            lock (samples)
            {
                Assert.InRange(samples.Count, 2, 6);
                var last = samples[^1];
                Assert.True(last.CPUStats.CPUUsage.TotalUsage > last.PreCPUStats.CPUUsage.TotalUsage);
                Assert.True(last.CPUStats.SystemUsage > last.PreCPUStats.SystemUsage);
            }
        }
        finally
        {
            await client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true });
        }
    }

    [Fact]
    public async Task EventsStreamLiveWithFilters()
    {
        using var client = Client();
        var name = Unique("dn-events");
        var seen = new List<Message>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var done = new TaskCompletionSource();
        var monitor = client.System.MonitorEventsAsync(new ContainerEventsParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["container"] = new Dictionary<string, bool> { [name] = true },
                ["type"] = new Dictionary<string, bool> { ["container"] = true },
            },
        }, new Progress<Message>(m =>
        {
            lock (seen) seen.Add(m);
            if (m.Action == "destroy") done.TrySetResult();
        }), cts.Token);
        await Task.Delay(300);
        var id = await RunAsync(client, name, "sleep", "300");
        await client.Containers.PauseContainerAsync(id);
        await client.Containers.UnpauseContainerAsync(id);
        await client.Containers.KillContainerAsync(id, new ContainerKillParameters { Signal = "KILL" });
        await client.Containers.WaitContainerAsync(id);
        await client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters());
        await Task.WhenAny(done.Task, Task.Delay(TimeSpan.FromSeconds(10)));
        cts.Cancel();
        try { await monitor; } catch (OperationCanceledException) { }
        lock (seen)
        {
            Assert.Equal(["create", "start", "pause", "unpause", "kill", "die", "destroy"], seen.Select(m => m.Action));
            Assert.All(seen, m => Assert.Equal(id, m.Actor.ID));
            Assert.Equal("9", seen.Single(m => m.Action == "kill").Actor.Attributes["signal"]);
            Assert.Equal("137", seen.Single(m => m.Action == "die").Actor.Attributes["exitCode"]);
            Assert.All(seen, m => Assert.True(m.TimeNano > 0));
        }
    }

    [Fact]
    public async Task ArchiveStatGetAndPut()
    {
        using var client = Client();
        var name = Unique("dn-archive");
        var id = await RunAsync(client, name, "sleep", "300");
        try
        {
            var stat = await client.Containers.GetArchiveFromContainerAsync(id, new GetArchiveFromContainerParameters { Path = "/etc/passwd" }, statOnly: true);
            Assert.Equal("passwd", stat.Stat.Name);
            Assert.True(stat.Stat.Size > 0);

            var tar = new MemoryStream();
            await using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
            {
                var entry = new PaxTarEntry(TarEntryType.RegularFile, "put.txt") { DataStream = new MemoryStream("from-dotnet\n"u8.ToArray()), Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
                await writer.WriteEntryAsync(entry);
            }
            tar.Position = 0;
            await client.Containers.ExtractArchiveToContainerAsync(id, new ContainerPathStatParameters { Path = "/tmp" }, tar);

            var got = await client.Containers.GetArchiveFromContainerAsync(id, new GetArchiveFromContainerParameters { Path = "/tmp/put.txt" }, statOnly: false);
            Assert.Equal("put.txt", got.Stat.Name);
            Assert.Equal(12, got.Stat.Size);
            var copy = new MemoryStream();
            await got.Stream.CopyToAsync(copy);
            copy.Position = 0;
            using var reader = new TarReader(copy);
            var read = await reader.GetNextEntryAsync();
            Assert.NotNull(read);
            Assert.Equal("put.txt", read!.Name);
            Assert.Equal("from-dotnet\n", new StreamReader(read.DataStream!).ReadToEnd());

            var missing = await Assert.ThrowsAsync<DockerContainerNotFoundException>(() =>
                client.Containers.GetArchiveFromContainerAsync(id, new GetArchiveFromContainerParameters { Path = "/nope" }, statOnly: true));
            Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);

            var changes = await client.Containers.InspectChangesAsync(id);
            Assert.Contains(changes, ch => ch.Path == "/tmp/put.txt" && ch.Kind == FileSystemChangeKind.Add);
        }
        finally
        {
            await client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true });
        }
    }

    [Fact]
    public async Task ExecInspectAndResize()
    {
        using var client = Client();
        var name = Unique("dn-exec");
        var id = await RunAsync(client, name, "sleep", "300");
        try
        {
            var exec = await client.Exec.ExecCreateContainerAsync(id, new ContainerExecCreateParameters
            {
                Cmd = ["sh", "-c", "sleep 1; stty size; exit 5"], Tty = true, AttachStdout = true, AttachStderr = true,
            });
            using var stream = await client.Exec.StartAndAttachContainerExecAsync(exec.ID, tty: true).WaitAsync(TimeSpan.FromSeconds(15));
            var reading = stream.ReadOutputToEndAsync(CancellationToken.None);
            var running = await client.Exec.InspectContainerExecAsync(exec.ID);
            for (var i = 0; i < 100 && !running.Running; i++)
            {
                await Task.Delay(50);
                running = await client.Exec.InspectContainerExecAsync(exec.ID);
            }
            Assert.True(running.Running);
            Assert.True(running.Pid > 0);
            await client.Exec.ResizeContainerExecTtyAsync(exec.ID, new ContainerResizeParameters { Height = 33, Width = 111 });
            var (stdout, _) = await reading.WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Contains("33 111", stdout);
            var ended = await client.Exec.InspectContainerExecAsync(exec.ID);
            Assert.False(ended.Running);
            Assert.Equal(5, ended.ExitCode);
            Assert.Equal(id, ended.ContainerID);
        }
        finally
        {
            await client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true });
        }
    }

    [Fact]
    public async Task AttachStreamsBothWaysAndDetachKeysEndItButNotTheContainer()
    {
        using var client = Client();
        var name = Unique("dn-attach");
        var id = await RunAsync(client, name, "sh", "-c", "while read l; do echo \"got $l\"; echo \"err $l\" >&2; done");
        try
        {
            using var stream = await client.Containers.AttachContainerAsync(id, tty: false, new ContainerAttachParameters
            {
                Stream = true, Stdin = true, Stdout = true, Stderr = true, DetachKeys = "ctrl-x,x",
            }).WaitAsync(TimeSpan.FromSeconds(15));
            var line = "hello\n"u8.ToArray();
            await stream.WriteAsync(line, 0, line.Length, CancellationToken.None);
            var stdout = new System.Text.StringBuilder();
            var stderr = new System.Text.StringBuilder();
            var buffer = new byte[4096];
            while (!stdout.ToString().Contains("got hello\n") || !stderr.ToString().Contains("err hello\n"))
            {
                var r = await stream.ReadOutputAsync(buffer, 0, buffer.Length, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15));
                Assert.False(r.EOF);
                (r.Target == MultiplexedStream.TargetStream.StandardError ? stderr : stdout).Append(System.Text.Encoding.UTF8.GetString(buffer, 0, r.Count));
            }
            var detach = "\u0018x"u8.ToArray();
            await stream.WriteAsync(detach, 0, detach.Length, CancellationToken.None);
            var end = await stream.ReadOutputAsync(buffer, 0, buffer.Length, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15));
            Assert.True(end.EOF);
            Assert.True((await client.Containers.InspectContainerAsync(id)).State.Running);
        }
        finally
        {
            await client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true });
        }
    }

    [Fact]
    public async Task AttachBeforeStartAndExecStdinThroughDockerDotNet()
    {
        using var client = Client();
        var created = await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = "busybox", Name = Unique("dn-attach-start"), Cmd = ["sh", "-c", "echo out; echo err >&2; exit 3"],
            AttachStdout = true, AttachStderr = true,
        });
        try
        {
            using var stream = await client.Containers.AttachContainerAsync(created.ID, tty: false, new ContainerAttachParameters
            {
                Stream = true, Stdout = true, Stderr = true,
            }).WaitAsync(TimeSpan.FromSeconds(15));
            var reading = stream.ReadOutputToEndAsync(CancellationToken.None);
            Assert.True(await client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters()));
            var (stdout, stderr) = await reading.WaitAsync(TimeSpan.FromSeconds(15));
            Assert.Equal("out\n", stdout);
            Assert.Equal("err\n", stderr);
            var wait = await client.Containers.WaitContainerAsync(created.ID);
            Assert.Equal(3, wait.StatusCode);

            var runner = await RunAsync(client, Unique("dn-exec-stdin"), "sleep", "300");
            try
            {
                var exec = await client.Exec.ExecCreateContainerAsync(runner, new ContainerExecCreateParameters
                {
                    Cmd = ["sh", "-c", "tr a-z A-Z; echo done >&2"], AttachStdin = true, AttachStdout = true, AttachStderr = true,
                });
                using var execStream = await client.Exec.StartAndAttachContainerExecAsync(exec.ID, tty: false).WaitAsync(TimeSpan.FromSeconds(15));
                var input = "shout\n"u8.ToArray();
                await execStream.WriteAsync(input, 0, input.Length, CancellationToken.None);
                execStream.CloseWrite();
                var (execOut, execErr) = await execStream.ReadOutputToEndAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15));
                Assert.Equal("SHOUT\n", execOut);
                Assert.Equal("done\n", execErr);
                var inspect = await client.Exec.InspectContainerExecAsync(exec.ID);
                Assert.Equal(0, inspect.ExitCode);
            }
            finally
            {
                await client.Containers.RemoveContainerAsync(runner, new ContainerRemoveParameters { Force = true });
            }
        }
        finally
        {
            await client.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true });
        }
    }

    [Fact]
    public async Task CommitAndUpdate()
    {
        using var client = Client();
        var name = Unique("dn-commit");
        var id = await RunAsync(client, name, "sh", "-c", "echo made > /made; sleep 300");
        try
        {
            await Task.Delay(300);
            var update = await client.Containers.UpdateContainerAsync(id, new ContainerUpdateParameters { Memory = 96 * 1024 * 1024, MemorySwap = 192 * 1024 * 1024, PidsLimit = 30 });
            Assert.NotNull(update);
            var inspect = await client.Containers.InspectContainerAsync(id);
            Assert.Equal(96L * 1024 * 1024, inspect.HostConfig.Memory);
            Assert.Equal(30L, inspect.HostConfig.PidsLimit);

            var repo = Unique("dn-image");
            var committed = await client.Images.CommitContainerChangesAsync(new CommitContainerChangesParameters
            {
                ContainerID = id, RepositoryName = repo, Tag = "t1", Comment = "by dotnet", Author = "tests",
                Config = new Config { Cmd = ["cat", "/made"] },
            });
            Assert.StartsWith("sha256:", committed.ID);
            var image = await client.Images.InspectImageAsync(repo + ":t1");
            Assert.Equal("by dotnet", image.Comment);
            Assert.Equal("tests", image.Author);
            Assert.Equal(["cat", "/made"], image.Config.Cmd);
            // Still running: commit paused and resumed it.
            Assert.True((await client.Containers.InspectContainerAsync(id)).State.Running);
            await client.Images.DeleteImageAsync(repo + ":t1", new ImageDeleteParameters { Force = true });
        }
        finally
        {
            await client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true });
        }
    }
}
