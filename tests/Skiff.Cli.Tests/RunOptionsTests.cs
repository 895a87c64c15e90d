using System.Text.Json;
using System.Text.Json.Nodes;
using Skiff.Cli;
using Skiff.Client.Models;

namespace Skiff.Cli.Tests;

public class RunOptionsTests
{
    private static ContainerSpec Build(params string[] args)
        => RunOptions.Build(FlagParser.Parse(args, RunOptions.Flags, true), k => k == "B" ? "A_VAL" : null, f => throw new FileNotFoundException(f));

    /// <summary>
    /// Drops zero values (null, "", 0, false, [] and empty struct objects) so bodies that differ
    /// only in explicitly sent defaults compare equal. Map keys that are not Go field names
    /// (ports, paths) keep their {} values.
    /// </summary>
    private static JsonNode? Normalize(JsonNode? n)
    {
        switch (n)
        {
            case JsonObject o:
            {
                var r = new JsonObject();
                foreach (var (k, v) in o.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    var nv = Normalize(v);
                    bool structField = k.Length > 0 && char.IsAsciiLetterUpper(k[0]);
                    if (nv is null) continue;
                    if (nv is JsonValue jv && jv.ToJsonString() is "\"\"" or "0" or "false") continue;
                    if (nv is JsonArray { Count: 0 }) continue;
                    if (nv is JsonObject { Count: 0 } && structField) continue;
                    r[k] = nv;
                }
                return r;
            }
            case JsonArray a:
                return new JsonArray(a.Select(x => Normalize(x)).ToArray());
            default:
                return n?.DeepClone();
        }
    }

    [Fact]
    public void CreateBodyMatchesDockerCliForTheSameFlags()
    {
        string golden = Path.Combine(AppContext.BaseDirectory, "golden");
        string[] args = File.ReadAllText(Path.Combine(golden, "create_flags.txt")).Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        var docker = JsonNode.Parse(File.ReadAllText(Path.Combine(golden, "create_docker_v28.json")))!.AsObject();
        // Docker fills in fields this CLI leaves to the daemon's defaults.
        docker.Remove("NetworkingConfig");
        docker["HostConfig"]!.AsObject().Remove("ConsoleSize");
        docker["HostConfig"]!.AsObject().Remove("MemorySwappiness");
        docker.Remove("OnBuild");
        var spec = Build(args);
        var ours = JsonNode.Parse(JsonSerializer.Serialize(spec.Body, ApiJson.Default.ContainerCreateRequest));
        Assert.Equal(Normalize(docker)!.ToJsonString(), Normalize(ours)!.ToJsonString());
        Assert.Equal("n1", spec.Name);
        Assert.True(spec.Detach);
    }

    [Fact]
    public void AttachedRunAttachesStdoutAndStderr()
    {
        var b = Build("busybox", "echo", "hi").Body;
        Assert.True(b.AttachStdout && b.AttachStderr);
        Assert.False(b.AttachStdin || b.OpenStdin || b.StdinOnce);
        Assert.Equal(["echo", "hi"], b.Cmd!);
        var i = Build("-i", "busybox").Body;
        Assert.True(i.AttachStdin && i.OpenStdin && i.StdinOnce);
        var onlyErr = Build("-a", "stderr", "busybox").Body;
        Assert.False(onlyErr.AttachStdout);
        Assert.True(onlyErr.AttachStderr);
    }

    [Fact]
    public void EntrypointEmptyStringResets()
    {
        Assert.Equal([""], Build("--entrypoint", "", "busybox").Body.Entrypoint!);
        Assert.Null(Build("busybox").Body.Entrypoint);
    }

    [Theory]
    [InlineData("80", "80/tcp", "", "")]
    [InlineData("8080:80", "80/tcp", "", "8080")]
    [InlineData("127.0.0.1:8080:80/udp", "80/udp", "127.0.0.1", "8080")]
    [InlineData("127.0.0.1::80", "80/tcp", "127.0.0.1", "")]
    [InlineData("[::1]:8080:80", "80/tcp", "::1", "8080")]
    public void PublishSpecs(string spec, string key, string ip, string port)
    {
        var hc = Build("-p", spec, "busybox").Body.HostConfig!;
        var binding = Assert.Single(hc.PortBindings![key]);
        Assert.Equal(ip, binding.HostIp);
        Assert.Equal(port, binding.HostPort);
    }

    [Fact]
    public void PortRangesMapOneToOne()
    {
        var hc = Build("-p", "8000-8001:80-81", "busybox").Body.HostConfig!;
        Assert.Equal("8000", hc.PortBindings!["80/tcp"][0].HostPort);
        Assert.Equal("8001", hc.PortBindings!["81/tcp"][0].HostPort);
    }

    [Theory]
    [InlineData("always", "always", 0)]
    [InlineData("on-failure:3", "on-failure", 3)]
    [InlineData("unless-stopped", "unless-stopped", 0)]
    public void RestartPolicies(string flag, string name, int count)
    {
        var p = Build("--restart", flag, "busybox").Body.HostConfig!.RestartPolicy!;
        Assert.Equal(name, p.Name);
        Assert.Equal(count, p.MaximumRetryCount);
    }

    [Theory]
    [InlineData(new[] { "--rm", "--restart", "always", "busybox" }, "Conflicting options: cannot specify both --restart and --rm")]
    [InlineData(new[] { "--restart", "sometimes", "busybox" }, "invalid restart policy format: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'")]
    [InlineData(new[] { "--no-healthcheck", "--health-cmd", "x", "busybox" }, "--no-healthcheck conflicts with --health-* options")]
    [InlineData(new[] { "-a", "stdout", "-d", "busybox" }, "Conflicting options: -a and -d")]
    [InlineData(new[] { "--ulimit", "nofile=200:100", "busybox" }, "invalid argument \"nofile=200:100\" for \"--ulimit\" flag: ulimit soft limit must be less than or equal to hard limit: 200 > 100")]
    public void InvalidCombinations(string[] args, string message)
        => Assert.Equal(message, Assert.Throws<FlagException>(() => Build(args)).Message);

    [Fact]
    public void EnvFileParsing()
    {
        var env = RunOptions.ParseEnvFile("# comment\nA=1\n\nB\nC\nD=x=y\n", k => k == "B" ? "from-env" : null);
        Assert.Equal(["A=1", "B=from-env", "D=x=y"], env);
        Assert.Equal("K", RunOptions.ParseEnvValue("K", _ => null));
        Assert.Equal("K=v", RunOptions.ParseEnvValue("K", _ => "v"));
    }

    [Fact]
    public void DevicesAndCapabilities()
    {
        var d = RunOptions.ParseDevice("/dev/fuse");
        Assert.Equal(("/dev/fuse", "/dev/fuse", "rwm"), (d.PathOnHost, d.PathInContainer, d.CgroupPermissions));
        d = RunOptions.ParseDevice("/dev/fuse:r");
        Assert.Equal(("/dev/fuse", "r"), (d.PathInContainer, d.CgroupPermissions));
        Assert.Equal("CAP_SYS_ADMIN", RunOptions.NormalizeCapability("sys_admin"));
        Assert.Equal("ALL", RunOptions.NormalizeCapability("all"));
    }

    [Theory]
    [InlineData("exec: \"nosuchcmd\": executable file not found in $PATH: unknown", 127)]
    [InlineData("open /x: no such file or directory", 127)]
    [InlineData("exec: \"/etc\": permission denied: unknown", 126)]
    [InlineData("cannot execute binary file", 126)]
    [InlineData("driver failed programming external connectivity", 125)]
    public void StartErrorExitCodes(string message, int code) => Assert.Equal(code, ContainerCommands.StartErrorExitCode(message));
}

public class ReferenceTests
{
    [Theory]
    [InlineData("busybox")]
    [InlineData("busybox:latest")]
    [InlineData("library/busybox:1.36")]
    [InlineData("localhost:5000/a/b:tag")]
    [InlineData("registry.example.com/x_y/z-w:v1.0")]
    [InlineData("busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("[::1]:5000/img")]
    public void Valid(string r) => Assert.Null(Reference.Validate(r));

    [Theory]
    [InlineData("Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase")]
    [InlineData("bus box", "invalid reference format")]
    [InlineData("busybox:bad^tag", "invalid reference format")]
    [InlineData("nosuch:latest@sha256:abc", "invalid reference format")]
    [InlineData("", "invalid reference format")]
    public void Invalid(string r, string message) => Assert.Equal(message, Reference.Validate(r));
}

public class ApiHelperTests
{
    [Theory]
    [InlineData("busybox", "busybox:latest")]
    [InlineData("docker.io/library/busybox", "busybox:latest")]
    [InlineData("docker.io/user/app:2", "user/app:2")]
    [InlineData("localhost:5000/app", "localhost:5000/app:latest")]
    [InlineData("app@sha256:abc", "app@sha256:abc")]
    public void FamiliarNames(string image, string expected) => Assert.Equal(expected, Api.FamiliarWithTag(image));

    [Theory]
    [InlineData("busybox", "busybox", "latest")]
    [InlineData("localhost:5000/app", "localhost:5000/app", "latest")]
    [InlineData("localhost:5000/app:1", "localhost:5000/app", "1")]
    [InlineData("app@sha256:abc", "app", "sha256:abc")]
    public void SplitReferences(string image, string repo, string tag) => Assert.Equal((repo, tag), Api.SplitReference(image));

    [Fact]
    public void FiltersEncodeAsMapsOfBooleans()
    {
        Assert.Null(Api.Filters([]));
        Assert.Equal("{\"label\":{\"a=b\":true,\"c\":true},\"status\":{\"exited\":true}}", Api.Filters(["status=exited", "label=c", "label=a=b"]));
    }

    [Fact]
    public void QueryStringsEscapeAndSkipNulls()
        => Assert.Equal("?a=1&c=x%20y%2Fz", Api.Q(("a", "1"), ("b", null), ("c", "x y/z")));
}

public class MountOptionTests
{
    [Fact]
    public void MountOptionsMapToTheirApiStructs()
    {
        var m = RunOptions.ParseMount("type=tmpfs,target=/cache,tmpfs-size=64m,tmpfs-mode=1770");
        Assert.Equal(("tmpfs", "/cache", 64L << 20, Convert.ToInt32("1770", 8)), (m.Type, m.Target, m.TmpfsOptions!.SizeBytes!.Value, m.TmpfsOptions.Mode!.Value));
        var b = RunOptions.ParseMount("type=bind,src=/a,dst=/b,readonly,bind-propagation=rslave");
        Assert.Equal(("bind", "/a", "/b", true, "rslave"), (b.Type, b.Source, b.Target, b.ReadOnly!.Value, b.BindOptions!.Propagation));
        var v = RunOptions.ParseMount("source=data,target=/data,volume-nocopy");
        Assert.Equal(("volume", true), (v.Type, v.VolumeOptions!.NoCopy!.Value));
        Assert.Throws<FlagException>(() => RunOptions.ParseMount("type=bind,src=/a"));
        Assert.Throws<FlagException>(() => RunOptions.ParseMount("type=bind,src=/a,target=/b,bogus=1"));
    }
}
