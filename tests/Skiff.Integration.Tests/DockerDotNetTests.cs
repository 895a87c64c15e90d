using Docker.DotNet;
using Docker.DotNet.Models;

namespace Skiff.Integration.Tests;

/// <summary>Docker.DotNet, an unmodified third-party client, against skiffd.</summary>
[Collection("daemon")]
public sealed class DockerDotNetTests(DaemonFixture f)
{
    private DockerClient Client() => new DockerClientConfiguration(new Uri(f.Host)).CreateClient();

    [Fact]
    public async Task CreateStartWaitLogsRemove()
    {
        using var client = Client();
        var version = await client.System.GetVersionAsync();
        Assert.Equal("1.50", version.APIVersion);

        var created = await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = "busybox",
            Cmd = ["sh", "-c", "echo from-dotnet; exit 4"],
            Name = "it-dotnet",
            Labels = new Dictionary<string, string> { ["suite"] = "integration" },
        });
        try
        {
            Assert.True(await client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters()));
            var wait = await client.Containers.WaitContainerAsync(created.ID);
            Assert.Equal(4, wait.StatusCode);

            var inspect = await client.Containers.InspectContainerAsync(created.ID);
            Assert.Equal("exited", inspect.State.Status);
            Assert.Equal("/it-dotnet", inspect.Name);
            Assert.Equal("integration", inspect.Config.Labels["suite"]);

            var list = await client.Containers.ListContainersAsync(new ContainersListParameters
            {
                All = true,
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { ["suite=integration"] = true } },
            });
            Assert.Contains(list, c => c.ID == created.ID);

            using var logs = await client.Containers.GetContainerLogsAsync(created.ID, false, new ContainerLogsParameters { ShowStdout = true, ShowStderr = true });
            var (stdout, _) = await logs.ReadOutputToEndAsync(CancellationToken.None);
            Assert.Equal("from-dotnet\n", stdout);
        }
        finally
        {
            await client.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true });
        }
        await Assert.ThrowsAsync<DockerContainerNotFoundException>(() => client.Containers.InspectContainerAsync(created.ID));
    }
}
