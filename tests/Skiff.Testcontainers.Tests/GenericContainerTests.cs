using System.Net.Sockets;
using System.Text;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Configurations;
using Skiff.Integration.Tests;

namespace Skiff.Testcontainers.Tests;

/// <summary>
/// Testcontainers for .NET, unmodified, against skiffd (its endpoint is the fixture's socket). Ryuk,
/// Testcontainers' resource reaper, is off: it runs the testcontainers/ryuk image, which cannot be
/// pulled on a machine without a registry; the test removes its container itself.
/// </summary>
[Collection("daemon")]
public sealed class GenericContainerTests(DaemonFixture f)
{
    [Fact]
    public async Task BusyboxWithWaitStrategyPortExecAndCopy()
    {
        TestcontainersSettings.ResourceReaperEnabled = false;
        var container = new ContainerBuilder("busybox:latest")
            .WithDockerEndpoint(f.Host)
            .WithName("tc-" + Guid.NewGuid().ToString("N")[..8])
            .WithResourceMapping(Encoding.UTF8.GetBytes("<p>from testcontainers</p>"), "/www/index.html")
            .WithCommand("sh", "-c", "echo starting; sleep 0.5; echo ready to serve; exec httpd -f -v -p 8080 -h /www")
            .WithPortBinding(8080, assignRandomHostPort: true)
            .WithWaitStrategy(Wait.ForUnixContainer().UntilMessageIsLogged("ready to serve").UntilInternalTcpPortIsAvailable(8080))
            .Build();
        string? name = null;
        try
        {
            await container.StartAsync().WaitAsync(TimeSpan.FromSeconds(120));
            name = container.Name.TrimStart('/');

            var port = container.GetMappedPublicPort(8080);
            Assert.NotEqual(8080, port);
            using (var tcp = new TcpClient())
            {
                await tcp.ConnectAsync(container.Hostname, port).WaitAsync(TimeSpan.FromSeconds(15));
                await using var stream = tcp.GetStream();
                await stream.WriteAsync("GET /index.html HTTP/1.0\r\nHost: test\r\n\r\n"u8.ToArray());
                var answer = await new StreamReader(stream).ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(15));
                Assert.StartsWith("HTTP/1.", answer);
                Assert.Contains(" 200 ", answer.Split('\n')[0]);
                Assert.Contains("<p>from testcontainers</p>", answer);
            }

            var exec = await container.ExecAsync(["sh", "-c", "echo out; echo err >&2; exit 3"]);
            Assert.Equal(3, exec.ExitCode);
            Assert.Equal("out\n", exec.Stdout);
            Assert.Equal("err\n", exec.Stderr);

            await container.CopyAsync(Encoding.UTF8.GetBytes("copied in\n"), "/tmp/copied.txt");
            var cat = await container.ExecAsync(["cat", "/tmp/copied.txt"]);
            Assert.Equal(0, cat.ExitCode);
            Assert.Equal("copied in\n", cat.Stdout);
            Assert.Equal("copied in\n", Encoding.UTF8.GetString(await container.ReadFileAsync("/tmp/copied.txt")));

            var (stdout, _) = await container.GetLogsAsync();
            Assert.Contains("ready to serve", stdout);
        }
        finally
        {
            await container.DisposeAsync();
        }
        Assert.NotNull(name);
        Assert.DoesNotContain(name, f.Docker("ps", "-a", "--format", "{{.Names}}").Stdout);
    }
}
