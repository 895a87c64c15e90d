using System.Net;
using System.Text;
using Skiff.Distribution;

namespace Skiff.Distribution.Tests;

public sealed class TagListAndInsecureTests
{
    /// <summary>Answers tags/list in pages of two, linking each page to the next as docker-registry does with <c>n</c>.</summary>
    private sealed class PagedTags(string[] all) : HttpMessageHandler
    {
        public List<string> Requests { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            Requests.Add(request.RequestUri!.PathAndQuery);
            var query = System.Web.HttpUtility.ParseQueryString(request.RequestUri.Query);
            int start = query["last"] is { } last ? Array.IndexOf(all, last) + 1 : 0;
            var page = all.Skip(start).Take(2).ToArray();
            var r = new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent("{\"name\":\"x/y\",\"tags\":[" + string.Join(",", page.Select(t => "\"" + t + "\"")) + "]}", Encoding.UTF8, "application/json"),
            };
            if (start + 2 < all.Length) r.Headers.TryAddWithoutValidation("Link", $"</v2/x/y/tags/list?n=2&last={page[^1]}>; rel=\"next\"");
            return Task.FromResult(r);
        }
    }

    [Fact]
    public async Task TagListFollowsLinkHeaders()
    {
        var handler = new PagedTags(["1.0", "1.1", "2.0", "latest", "edge"]);
        using var http = new HttpClient(handler);
        var tags = await new RegistryClient(http, "127.0.0.1:5000", null).ListTagsAsync("x/y", CancellationToken.None);
        Assert.Equal(["1.0", "1.1", "2.0", "latest", "edge"], tags);
        Assert.Equal(["/v2/x/y/tags/list", "/v2/x/y/tags/list?n=2&last=1.1", "/v2/x/y/tags/list?n=2&last=latest"], handler.Requests);
    }

    [Fact]
    public void NextPageParsesLinkHeaderVariants()
    {
        var r = new HttpResponseMessage();
        r.Headers.TryAddWithoutValidation("Link", "<https://other/v2/a/tags/list?last=b>; rel=\"prev\", </v2/a/tags/list?n=5&last=z>;rel=next");
        Assert.Equal("http://r:5000/v2/a/tags/list?n=5&last=z", RegistryClient.NextPage(r, new Uri("http://r:5000/v2/a/tags/list"))!.ToString());
        Assert.Null(RegistryClient.NextPage(new HttpResponseMessage(), new Uri("http://r/")));
    }

    [Theory]
    [InlineData("10.1.2.3:5000", "10.1.2.3:5000", true)]
    [InlineData("10.1.2.3:5000", "10.1.2.3:5001", false)]
    [InlineData("http://r.test:5000", "r.test:5000", true)]
    [InlineData("10.1.0.0/16", "10.1.200.3:443", true)]
    [InlineData("10.1.2.3/16", "10.1.9.9", true)]
    [InlineData("10.1.0.0/16", "10.2.0.1", false)]
    [InlineData("[fd00::1]:5000", "[fd00::1]:5000", true)]
    [InlineData("fd00::/8", "[fd12::7]:5000", true)]
    [InlineData("r.test", "127.0.0.5:5000", true)]
    [InlineData("r.test", "localhost:5000", true)]
    public void InsecureMatchesHostsAndCidrs(string entry, string registry, bool insecure) =>
        Assert.Equal(insecure, InsecureRegistries.Parse([entry]).IsInsecure(registry));

    [Fact]
    public void InsecureListsAsDockerdDoes()
    {
        var i = InsecureRegistries.Parse(["b.test:5000", "10.0.0.0/8", "a.test", "10.0.0.0/8", "https://b.test:5000"]);
        Assert.Equal(["b.test:5000", "a.test"], i.Hosts);
        Assert.Equal(["10.0.0.0/8", "127.0.0.0/8"], i.Cidrs.Select(c => c.ToString()));
        Assert.Equal(["127.0.0.0/8"], InsecureRegistries.Default.Cidrs.Select(c => c.ToString()));
    }

    [Theory]
    [InlineData("ftp://r.test", "insecure registry ftp://r.test should not contain '://'")]
    [InlineData("r.test:port", "insecure registry r.test:port is not valid")]
    [InlineData("r.test/path", "insecure registry r.test/path is not valid")]
    [InlineData("-r.test", "invalid index name (-r.test)")]
    public void InvalidInsecureEntriesAreRefused(string entry, string message) =>
        Assert.StartsWith(message, Assert.Throws<ArgumentException>(() => InsecureRegistries.Parse([entry])).Message);
}
