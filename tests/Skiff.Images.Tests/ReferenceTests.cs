namespace Skiff.Images.Tests;

public class ReferenceTests
{
    [Theory]
    [InlineData("busybox", "docker.io/library/busybox", null, "busybox")]
    [InlineData("busybox:latest", "docker.io/library/busybox:latest", "latest", "busybox:latest")]
    [InlineData("library/busybox:1.36", "docker.io/library/busybox:1.36", "1.36", "busybox:1.36")]
    [InlineData("docker.io/library/busybox", "docker.io/library/busybox", null, "busybox")]
    [InlineData("index.docker.io/library/busybox:x", "docker.io/library/busybox:x", "x", "busybox:x")]
    [InlineData("user/app:v1", "docker.io/user/app:v1", "v1", "user/app:v1")]
    [InlineData("localhost:5000/x/y:tag", "localhost:5000/x/y:tag", "tag", "localhost:5000/x/y:tag")]
    [InlineData("localhost/x", "localhost/x", null, "localhost/x")]
    [InlineData("gcr.io/proj/img:1.0-rc_1", "gcr.io/proj/img:1.0-rc_1", "1.0-rc_1", "gcr.io/proj/img:1.0-rc_1")]
    [InlineData("my-registry.example.com:443/a.b/c__d/e--f", "my-registry.example.com:443/a.b/c__d/e--f", null, "my-registry.example.com:443/a.b/c__d/e--f")]
    [InlineData("busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "docker.io/library/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", null,
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    public void Normalises(string input, string full, string? tag, string familiar)
    {
        var r = ImageReference.Parse(input);
        Assert.Equal(full, r.ToString());
        Assert.Equal(tag, r.Tag);
        Assert.Equal(familiar, r.Familiar);
    }

    [Fact]
    public void DefaultTagIsLatest()
    {
        Assert.Equal("busybox:latest", ImageReference.Parse("busybox").WithDefaultTag().Familiar);
        Assert.Equal("docker.io/library/busybox:latest", ImageReference.Parse("busybox").WithDefaultTag().ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("Busybox")]
    [InlineData("user/App")]
    [InlineData("a:b:c")]
    [InlineData("busybox:")]
    [InlineData("busybox:-x")]
    [InlineData("-busybox")]
    [InlineData("a//b")]
    [InlineData("busybox@sha256:123")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    public void RejectsInvalid(string input)
    {
        var ex = Assert.Throws<InvalidImageArgumentException>(() => ImageReference.Parse(input));
        Assert.Equal(ImageErrorKind.InvalidArgument, ex.Kind);
    }

    [Fact]
    public void UppercaseDomainIsAllowed() =>
        Assert.Equal("Example.COM/x:1", ImageReference.Parse("Example.COM/x:1").Familiar);
}

public class ConfigChangesTests
{
    [Fact]
    public void AppliesDockerfileInstructions()
    {
        var c = new ContainerConfig();
        ConfigChanges.Apply(c,
        [
            "CMD [\"sh\", \"-c\", \"echo hi\"]",
            "ENTRYPOINT /bin/entry --flag",
            "ENV A=1 B=\"two words\" C=x\\ y",
            "ENV LEGACY some value here",
            "ENV A=override",
            "EXPOSE 80 443/udp 8000-8002",
            "LABEL maintainer=me \"com.example.x\"=\"y z\"",
            "USER nobody:nogroup",
            "WORKDIR /srv",
            "WORKDIR app",
            "VOLUME [\"/data\", \"/logs\"]",
            "VOLUME /cache",
            "STOPSIGNAL SIGINT",
            "HEALTHCHECK --interval=30s --timeout=1m30s --retries=3 CMD curl -f http://localhost/",
            "onbuild RUN make",
        ]);
        Assert.Equal(["sh", "-c", "echo hi"], c.Cmd);
        Assert.Equal(["/bin/sh", "-c", "/bin/entry --flag"], c.Entrypoint);
        Assert.Equal(["B=two words", "C=x y", "LEGACY=some value here", "A=override"], c.Env);
        Assert.Equal(["443/udp", "80/tcp", "8000/tcp", "8001/tcp", "8002/tcp"], c.ExposedPorts!.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("me", c.Labels!["maintainer"]);
        Assert.Equal("y z", c.Labels["com.example.x"]);
        Assert.Equal("nobody:nogroup", c.User);
        Assert.Equal("/srv/app", c.WorkingDir);
        Assert.Equal(["/cache", "/data", "/logs"], c.Volumes!.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("SIGINT", c.StopSignal);
        Assert.Equal(["CMD-SHELL", "curl -f http://localhost/"], c.Healthcheck!.Test);
        Assert.Equal(30_000_000_000L, c.Healthcheck.Interval);
        Assert.Equal(90_000_000_000L, c.Healthcheck.Timeout);
        Assert.Equal(3, c.Healthcheck.Retries);
        Assert.Equal(["RUN make"], c.OnBuild);
    }

    [Theory]
    [InlineData("RUN echo")]
    [InlineData("FROM busybox")]
    [InlineData("EXPOSE 80/foo")]
    [InlineData("USER a b")]
    [InlineData("ENV A=\"unterminated")]
    public void RejectsInvalidChanges(string change) =>
        Assert.Throws<InvalidImageArgumentException>(() => ConfigChanges.Apply(new ContainerConfig(), [change]));
}
