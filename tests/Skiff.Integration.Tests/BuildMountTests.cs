using System.Text.RegularExpressions;

namespace Skiff.Integration.Tests;

/// <summary>
/// <c>RUN --mount</c> (bind from the context and from a stage, cache, tmpfs, secret) through <c>skiff build</c> and the Docker
/// CLI's classic build, and the step output Docker 20.10's classic builder prints.
/// </summary>
[Collection("daemon")]
public sealed class BuildMountTests(DaemonFixture f)
{
    private static void Ok(ProcResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    [Fact]
    public void EveryMountTypeWorksAndLeavesNoTraceInTheLayer()
    {
        using var tmp = new TempDir();
        string cacheId = "it-cache-" + Guid.NewGuid().ToString("N")[..8];
        string ctx = tmp.Context($$"""
            FROM busybox AS src
            RUN mkdir -p /out && echo from-stage > /out/s.txt

            FROM busybox
            RUN --mount=type=bind,target=/ctx sh -c 'cat /ctx/data.txt > /copied && ! touch /ctx/x 2>/dev/null'
            RUN --mount=type=bind,source=data.txt,target=/one/file.txt,rw sh -c 'echo changed > /one/file.txt && cat /one/file.txt > /rw'
            RUN --mount=type=bind,from=src,source=/out,target=/stage cp /stage/s.txt /from-stage
            RUN --mount=type=cache,id={{cacheId}},target=/var/cache/demo sh -c 'echo run >> /var/cache/demo/log; wc -l < /var/cache/demo/log | tr -d " " > /cache-count'
            RUN --mount=type=tmpfs,target=/scratch sh -c 'grep -q " /scratch tmpfs" /proc/mounts && echo x > /scratch/f'
            RUN --mount=type=secret,id=token,required sh -c 'test "$(cat /run/secrets/token)" = s3cret && stat -c %a /run/secrets/token > /secret-mode'
            """, ("data.txt", "from-context\n"));
        string secret = Path.Combine(tmp.Path, "token.txt");
        File.WriteAllText(secret, "s3cret");
        var r = f.SkiffCli("build", "--secret", "id=token,src=" + secret, "-t", "it-mounts", ctx);
        Ok(r);

        var check = f.Docker("run", "--rm", "it-mounts", "sh", "-c",
            "cat /copied /rw /from-stage /cache-count /secret-mode; for p in /ctx /one /stage /var/cache/demo /scratch /run/secrets; do test -e $p && echo leaked $p; done; true");
        Ok(check);
        Assert.Equal("from-context\nchanged\nfrom-stage\n1\n400\n", check.Stdout);

        // The context file the rw bind changed is untouched, and a rebuild without changes is fully cached.
        Assert.Equal("from-context\n", File.ReadAllText(Path.Combine(ctx, "data.txt")));
        var again = f.SkiffCli("build", "--secret", "id=token,src=" + secret, "-t", "it-mounts", ctx);
        Ok(again);
        Assert.DoesNotContain("Running in", again.Stdout);

        // A bind-mounted context file is part of the step's cache key.
        File.WriteAllText(Path.Combine(ctx, "data.txt"), "edited\n");
        var edited = f.SkiffCli("build", "--secret", "id=token,src=" + secret, "-t", "it-mounts", ctx);
        Ok(edited);
        Assert.Matches(new Regex(@"Step 4/9 : RUN --mount=type=bind,target=/ctx[^\n]*\n ---> Cache miss"), edited.Stdout);
        Assert.Equal("edited\n", f.Docker("run", "--rm", "it-mounts", "cat", "/copied").Stdout);

        // The cache mount keeps its content between builds (the edit above re-ran the step after it: a second line),
        // shows in system df and goes with builder prune.
        Assert.Equal("2\n", f.Docker("run", "--rm", "it-mounts", "cat", "/cache-count").Stdout);
        var df = f.Docker("system", "df", "-v");
        Ok(df);
        Assert.Contains("exec.cachemount", df.Stdout);
        Ok(f.Docker("builder", "prune", "-f"));
        Ok(f.SkiffCli("build", "--no-cache", "--secret", "id=token,src=" + secret, "-t", "it-mounts", ctx));
        Assert.Equal("1\n", f.Docker("run", "--rm", "it-mounts", "cat", "/cache-count").Stdout);

        // A required secret that was not given fails the build; the Docker CLI cannot send secrets at all.
        var missing = f.SkiffCli("build", "-t", "it-mounts-missing", ctx);
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("secret token not found", missing.Stderr);
        Ok(f.Docker("rmi", "it-mounts"));
    }

    [Fact]
    public void TheDockerCliBuildsWithCacheMountsAndSeesBadMountsWithTheirLine()
    {
        using var tmp = new TempDir();
        string id = "it-dcache-" + Guid.NewGuid().ToString("N")[..8];
        string ctx = tmp.Context($$"""
            FROM busybox
            RUN --mount=type=cache,id={{id}},target=/cache,sharing=locked sh -c 'echo hit >> /cache/n; cat /cache/n | wc -l | tr -d " " > /n'
            RUN --mount=type=tmpfs,target=/tmp/t,size=1048576 sh -c 'echo ok > /tmp/t/f'
            """);
        Ok(f.Docker("build", "-t", "it-dmounts", ctx));
        Ok(f.Docker("build", "--no-cache", "-t", "it-dmounts", ctx));
        var n = f.Docker("run", "--rm", "it-dmounts", "sh", "-c", "cat /n; test -e /cache && echo leaked; test -e /tmp/t && echo leaked; true");
        Ok(n);
        Assert.Equal("2\n", n.Stdout);
        Ok(f.Docker("rmi", "it-dmounts"));

        string bad = tmp.Context("FROM busybox\nRUN echo ok\nRUN --mount=type=cache,target=/x,colour=blue true\n");
        var r = f.Docker("build", bad);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("dockerfile parse error on line 3: unexpected key 'colour' in 'colour=blue'", r.Stderr);
    }

    [Fact]
    public void StepOutputIsWhatDockers2010ClassicBuilderPrints()
    {
        using var tmp = new TempDir();
        string ctx = tmp.Context("FROM busybox\nENV A=1\nCOPY f /f\nRUN echo hi\nLABEL x=y\n", ("f", Guid.NewGuid().ToString()));
        var r = f.Docker("build", "-t", "it-output", ctx);
        Ok(r);
        var steps = Regex.Split(r.Stdout, "(?=Step [0-9]/5 : )").Where(s => s.StartsWith("Step", StringComparison.Ordinal)).ToList();
        Assert.Equal(5, steps.Count);
        Assert.Matches(new Regex(@"^Step 1/5 : FROM busybox\n ---> [0-9a-f]{12}\n$"), steps[0]);
        foreach (int i in new[] { 1, 3, 4 })
            Assert.Matches(new Regex(@" ---> Running in ([0-9a-f]{12})\n(.*\n)*Removing intermediate container \1\n ---> [0-9a-f]{12}\n"), steps[i]);
        Assert.Contains("hi\n", steps[3]);
        Assert.DoesNotContain("Running in", steps[2]);
        Assert.Matches(new Regex(@"Successfully built [0-9a-f]{12}\nSuccessfully tagged it-output:latest\n$"), r.Stdout);
        Ok(f.Docker("rmi", "it-output"));
    }
}
