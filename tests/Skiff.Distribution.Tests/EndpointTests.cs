using Skiff.Distribution;

namespace Skiff.Distribution.Tests;

public sealed class EndpointTests
{
    [Theory]
    [InlineData("localhost:5000", true)]
    [InlineData("localhost", true)]
    [InlineData("127.0.0.1:5000", true)]
    [InlineData("127.8.9.10", true)]
    [InlineData("[::1]:5000", true)]
    [InlineData("registry.example.com:5000", false)]
    [InlineData("10.0.0.1:5000", false)]
    [InlineData("docker.io", false)]
    public void LoopbackRegistriesAreDetected(string host, bool loopback) => Assert.Equal(loopback, RegistryClient.IsLoopback(host));

    [Theory]
    [InlineData("docker.io", "https://registry-1.docker.io/")]
    [InlineData("127.0.0.1:5000", "http://127.0.0.1:5000/")]
    [InlineData("localhost:5000", "http://localhost:5000/")]
    [InlineData("quay.io", "https://quay.io/")]
    public void Endpoints(string registry, string uri) => Assert.Equal(uri, RegistryClient.EndpointFor(registry).ToString());

    [Theory]
    [InlineData("https://index.docker.io/v1/", "docker.io")]
    [InlineData("", "docker.io")]
    [InlineData("127.0.0.1:5000", "127.0.0.1:5000")]
    [InlineData("http://localhost:5000/v2/", "localhost:5000")]
    [InlineData("https://registry.example.com", "registry.example.com")]
    public void LoginServerAddresses(string server, string host) => Assert.Equal(host, DistributionService.RegistryHost(server));
}
