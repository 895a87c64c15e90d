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
            // Started over a raw hijacked connection (Docker's exec start with a JSON body and an upgrade).
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(f.Socket));
            await using var stream = new System.Net.Sockets.NetworkStream(socket);
            const string body = "{\"Detach\":false,\"Tty\":true}";
            var request = $"POST /v1.50/exec/{exec.ID}/start HTTP/1.1\r\nHost: skiff\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n{body}";
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(request));
            var received = new MemoryStream();
            var buffer = new byte[4096];
            var reading = Task.Run(async () =>
            {
                int n;
                while ((n = await stream.ReadAsync(buffer)) > 0) received.Write(buffer, 0, n);
            });
            var running = await client.Exec.InspectContainerExecAsync(exec.ID);
            for (var i = 0; i < 100 && !running.Running; i++)
            {
                await Task.Delay(50);
                running = await client.Exec.InspectContainerExecAsync(exec.ID);
            }
            Assert.True(running.Running);
            Assert.True(running.Pid > 0);
            await client.Exec.ResizeContainerExecTtyAsync(exec.ID, new ContainerResizeParameters { Height = 33, Width = 111 });
            await reading.WaitAsync(TimeSpan.FromSeconds(20));
            var text = System.Text.Encoding.UTF8.GetString(received.ToArray());
            Assert.StartsWith("HTTP/1.1 101", text);
            Assert.Contains("33 111", text);
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
    public async Task DetachKeysEndARawHijackedAttachButNotTheContainer()
    {
        using var client = Client();
        var name = Unique("dn-rawdetach");
        var id = await RunAsync(client, name, "cat");
        try
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(f.Socket));
            await using var stream = new System.Net.Sockets.NetworkStream(socket);
            var request = $"POST /v1.50/containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1&detachKeys=ctrl-x,x HTTP/1.1\r\nHost: skiff\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n";
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(request));
            var head = new System.Text.StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                Assert.Equal(1, await stream.ReadAsync(one).AsTask().WaitAsync(TimeSpan.FromSeconds(15)));
                head.Append((char)one[0]);
            }
            Assert.StartsWith("HTTP/1.1 101", head.ToString());
            await stream.WriteAsync("\u0018x"u8.ToArray());
            var rest = new byte[4096];
            Assert.Equal(0, await stream.ReadAsync(rest).AsTask().WaitAsync(TimeSpan.FromSeconds(15)));
            Assert.True((await client.Containers.InspectContainerAsync(id)).State.Running);
        }
        finally
        {
            await client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true });
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
