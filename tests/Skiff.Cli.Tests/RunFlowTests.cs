using System.Text;
using Skiff.Cli;
using Skiff.Client;

namespace Skiff.Cli.Tests;

/// <summary>
/// The request sequence of <c>skiff run</c> against a scripted daemon: the order Docker's CLI
/// uses (create, attach before start, wait before start), the pull fallback and exit statuses.
/// </summary>
public class RunFlowTests
{
    private sealed record Outcome(int Code, string Out, string Err, string Raw, string RawErr, List<string> Requests);

    private static async Task<Outcome> RunCli(FakeDaemon d, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var raw = new MemoryStream();
        var rawErr = new MemoryStream();
        int code = await App.RunAsync(["-H", "unix://" + d.Path, .. args], stdout, stderr, raw, rawErr);
        List<string> requests;
        lock (d.Requests) requests = [.. d.Requests];
        return new Outcome(code, stdout.ToString(), stderr.ToString(), Encoding.UTF8.GetString(raw.ToArray()), Encoding.UTF8.GetString(rawErr.ToArray()), requests);
    }

    private static byte[] Upgraded(params byte[][] frames)
        => [.. Encoding.ASCII.GetBytes("HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"), .. frames.SelectMany(f => f)];

    private static byte[] Json(int status, string body) => FakeDaemon.Http(status, status < 300 ? "OK" : "Error", body, "Content-Type: application/json");

    [Fact]
    public async Task AttachedRunFollowsDockersOrderAndExitsWithContainerStatus()
    {
        using var d = new FakeDaemon((head, body) =>
        {
            if (head.Contains("/_ping")) return FakeDaemon.Http(200, "OK", "", "Api-Version: 1.50");
            if (head.Contains("/containers/create")) return Json(201, "{\"Id\":\"abc123\",\"Warnings\":[]}");
            if (head.Contains("/attach")) return Upgraded(MultiplexedStreamReader.EncodeFrame(StdStream.Stdout, "hi\n"u8), MultiplexedStreamReader.EncodeFrame(StdStream.Stderr, "warn\n"u8));
            if (head.Contains("/wait")) return Json(200, "{\"StatusCode\":3,\"Error\":null}");
            if (head.Contains("/start")) return FakeDaemon.Http(204, "No Content");
            return Json(404, "{\"message\":\"unexpected\"}");
        });
        var r = await RunCli(d, "run", "--rm", "--name", "n1", "busybox", "echo", "hi");
        Assert.Equal(3, r.Code);
        Assert.Equal("hi\n", r.Raw);
        Assert.Equal("warn\n", r.RawErr);
        Assert.Equal(
        [
            "HEAD /_ping HTTP/1.1",
            "POST /v1.50/containers/create?name=n1 HTTP/1.1",
            "POST /v1.50/containers/abc123/attach?stream=1&stdout=1&stderr=1 HTTP/1.1",
            "POST /v1.50/containers/abc123/wait?condition=removed HTTP/1.1",
            "POST /v1.50/containers/abc123/start HTTP/1.1",
        ], r.Requests);
    }

    [Fact]
    public async Task MissingImageIsPulledThenCreated()
    {
        int creates = 0;
        using var d = new FakeDaemon((head, body) =>
        {
            if (head.Contains("/_ping")) return FakeDaemon.Http(200, "OK", "", "Api-Version: 1.50");
            if (head.Contains("/containers/create"))
                return Interlocked.Increment(ref creates) == 1 ? Json(404, "{\"message\":\"No such image: busybox:latest\"}") : Json(201, "{\"Id\":\"abc\"}");
            if (head.Contains("/images/create")) return Json(200, "{\"status\":\"Pulling from library/busybox\",\"id\":\"latest\"}\n{\"status\":\"Status: Downloaded newer image for busybox:latest\"}\n");
            if (head.Contains("/start")) return FakeDaemon.Http(204, "No Content");
            return Json(404, "{\"message\":\"unexpected\"}");
        });
        var r = await RunCli(d, "run", "-d", "busybox");
        Assert.Equal(0, r.Code);
        Assert.Equal("abc\n", r.Out);
        Assert.Equal("Unable to find image 'busybox:latest' locally\nlatest: Pulling from library/busybox\nStatus: Downloaded newer image for busybox:latest\n", r.Err);
        Assert.Contains("POST /v1.50/images/create?fromImage=busybox&tag=latest HTTP/1.1", r.Requests);
    }

    [Fact]
    public async Task PullFailureExits125()
    {
        using var d = new FakeDaemon((head, body) =>
        {
            if (head.Contains("/_ping")) return FakeDaemon.Http(200, "OK", "", "Api-Version: 1.50");
            if (head.Contains("/containers/create")) return Json(404, "{\"message\":\"No such image: nope:latest\"}");
            if (head.Contains("/images/create")) return Json(404, "{\"message\":\"pull access denied for nope\"}");
            return Json(404, "{\"message\":\"unexpected\"}");
        });
        var r = await RunCli(d, "run", "nope");
        Assert.Equal(125, r.Code);
        Assert.Equal("Unable to find image 'nope:latest' locally\nskiff: Error response from daemon: pull access denied for nope\n\nRun 'skiff run --help' for more information\n", r.Err);
    }

    [Theory]
    [InlineData("exec: \\\"nosuch\\\": executable file not found in $PATH", 127)]
    [InlineData("exec: \\\"/etc\\\": permission denied", 126)]
    [InlineData("something else", 125)]
    public async Task StartErrorsMapToDockerExitCodes(string message, int code)
    {
        using var d = new FakeDaemon((head, body) =>
        {
            if (head.Contains("/_ping")) return FakeDaemon.Http(200, "OK", "", "Api-Version: 1.50");
            if (head.Contains("/containers/create")) return Json(201, "{\"Id\":\"abc\"}");
            if (head.Contains("/attach")) return Upgraded();
            if (head.Contains("/wait")) return Json(200, "{\"StatusCode\":0}");
            if (head.Contains("/start")) return Json(400, "{\"message\":\"" + message + "\"}");
            return Json(404, "{\"message\":\"unexpected\"}");
        });
        var r = await RunCli(d, "run", "busybox", "x");
        Assert.Equal(code, r.Code);
        Assert.StartsWith("skiff: Error response from daemon: ", r.Err);
        Assert.EndsWith("\n\nRun 'skiff run --help' for more information\n", r.Err);
    }

    [Fact]
    public async Task FlagErrorsNeverContactTheDaemon()
    {
        var stderr = new StringWriter();
        int code = await App.RunAsync(["-H", "unix:///nonexistent.sock", "run", "--bogus", "busybox"], new StringWriter(), stderr);
        Assert.Equal(125, code);
        Assert.Equal("unknown flag: --bogus\n\nUsage:  skiff run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'skiff run --help' for more information\n", stderr.ToString());
    }

    [Fact]
    public async Task UnreachableDaemon()
    {
        var stderr = new StringWriter();
        Assert.Equal(1, await App.RunAsync(["-H", "unix:///nonexistent.sock", "ps"], new StringWriter(), stderr));
        Assert.Equal("Cannot connect to the Skiff daemon at unix:///nonexistent.sock. Is the skiff daemon running?\n", stderr.ToString());
        stderr = new StringWriter();
        Assert.Equal(125, await App.RunAsync(["-H", "unix:///nonexistent.sock", "run", "busybox"], new StringWriter(), stderr));
        Assert.StartsWith("skiff: Cannot connect to the Skiff daemon", stderr.ToString());
    }
}

public class PullOutputTests
{
    [Fact]
    public async Task PullPrintsStatusesWithoutProgressBarsAndTheFullName()
    {
        const string stream = """
            {"status":"Pulling from library/busybox","id":"latest"}
            {"status":"Pulling fs layer","progressDetail":{},"id":"90b9666d4aed"}
            {"status":"Downloading","progressDetail":{"current":100,"total":200},"progress":"[=====>     ]     100B/200B","id":"90b9666d4aed"}
            {"status":"Verifying Checksum","progressDetail":{},"id":"90b9666d4aed"}
            {"status":"Download complete","progressDetail":{},"id":"90b9666d4aed"}
            {"status":"Pull complete","progressDetail":{},"id":"90b9666d4aed"}
            {"status":"Digest: sha256:0123"}
            {"status":"Status: Downloaded newer image for busybox:latest"}

            """;
        using var d = new FakeDaemon((head, _) => head.Contains("/_ping")
            ? FakeDaemon.Http(200, "OK", "", "Api-Version: 1.50")
            : FakeDaemon.Http(200, "OK", stream, "Content-Type: application/json"));
        var stdout = new StringWriter();
        int code = await App.RunAsync(["-H", "unix://" + d.Path, "pull", "busybox"], stdout, new StringWriter());
        Assert.Equal(0, code);
        Assert.Equal("""
            Using default tag: latest
            latest: Pulling from library/busybox
            90b9666d4aed: Pulling fs layer
            90b9666d4aed: Verifying Checksum
            90b9666d4aed: Download complete
            90b9666d4aed: Pull complete
            Digest: sha256:0123
            Status: Downloaded newer image for busybox:latest
            docker.io/library/busybox:latest

            """, stdout.ToString());
    }

    [Fact]
    public async Task StreamErrorFailsThePull()
    {
        using var d = new FakeDaemon((head, _) => head.Contains("/_ping")
            ? FakeDaemon.Http(200, "OK", "", "Api-Version: 1.50")
            : FakeDaemon.Http(200, "OK", "{\"errorDetail\":{\"message\":\"manifest unknown\"},\"error\":\"manifest unknown\"}\n", "Content-Type: application/json"));
        var stderr = new StringWriter();
        int code = await App.RunAsync(["-H", "unix://" + d.Path, "pull", "busybox:nope"], new StringWriter(), stderr);
        Assert.Equal(1, code);
        Assert.Equal("manifest unknown\n", stderr.ToString());
    }

    [Theory]
    [InlineData("busybox", "docker.io/library/busybox:latest")]
    [InlineData("user/app:1", "docker.io/user/app:1")]
    [InlineData("localhost:5000/x", "localhost:5000/x:latest")]
    [InlineData("ghcr.io/o/r@sha256:abc", "ghcr.io/o/r@sha256:abc")]
    public void FullyQualifiedNames(string input, string expected) => Assert.Equal(expected, Api.FullyQualified(input));
}

public class LoginTests
{
    [Fact]
    public async Task LoginStoresCredentialsUsedByPullAndLogoutRemovesThem()
    {
        string dir = Path.Combine(Path.GetTempPath(), "skiff-cfg-" + Guid.NewGuid().ToString("N")[..8]);
        string? old = Environment.GetEnvironmentVariable("SKIFF_CONFIG");
        Environment.SetEnvironmentVariable("SKIFF_CONFIG", dir);
        string? authHeader = null;
        string? authBody = null;
        try
        {
            using var d = new FakeDaemon((head, body) =>
            {
                if (head.Contains("/_ping")) return FakeDaemon.Http(200, "OK", "", "Api-Version: 1.50");
                if (head.Contains("/auth")) { authBody = body; return FakeDaemon.Http(200, "OK", "{\"Status\":\"Login Succeeded\"}", "Content-Type: application/json"); }
                authHeader = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("X-Registry-Auth:", StringComparison.OrdinalIgnoreCase))?[16..].Trim();
                return FakeDaemon.Http(200, "OK", "{\"status\":\"Status: Image is up to date for localhost:5000/app:1\"}\n", "Content-Type: application/json");
            });
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            Assert.Equal(0, await App.RunAsync(["-H", "unix://" + d.Path, "login", "-u", "alice", "-p", "s3cret", "localhost:5000"], stdout, stderr));
            Assert.Equal("Login Succeeded\n", stdout.ToString());
            Assert.Equal("{\"username\":\"alice\",\"password\":\"s3cret\",\"serveraddress\":\"localhost:5000\"}", authBody);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, "config.json")));

            Assert.Equal(0, await App.RunAsync(["-H", "unix://" + d.Path, "pull", "-q", "localhost:5000/app:1"], new StringWriter(), new StringWriter()));
            string json = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(authHeader!.Replace('-', '+').Replace('_', '/')));
            Assert.Equal("{\"username\":\"alice\",\"password\":\"s3cret\",\"serveraddress\":\"localhost:5000\"}", json);

            stdout = new StringWriter();
            Assert.Equal(0, await App.RunAsync(["-H", "unix://" + d.Path, "logout", "localhost:5000"], stdout, new StringWriter()));
            Assert.Equal("Removing login credentials for localhost:5000\n", stdout.ToString());
            Assert.Null(Credentials.Lookup("localhost:5000"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("SKIFF_CONFIG", old);
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Theory]
    [InlineData("busybox", Credentials.DockerHub)]
    [InlineData("user/app", Credentials.DockerHub)]
    [InlineData("docker.io/user/app", Credentials.DockerHub)]
    [InlineData("localhost:5000/app", "localhost:5000")]
    [InlineData("ghcr.io/o/r:1", "ghcr.io")]
    public void ServerForImage(string image, string server) => Assert.Equal(server, Credentials.ServerFor(image));
}
