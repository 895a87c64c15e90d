namespace Skiff.Integration.Tests;

/// <summary><c>docker system df</c> against skiffd: every kind (images, containers, volumes, build cache) is counted.</summary>
[Collection("daemon")]
public sealed class SystemDfTests(DaemonFixture f)
{
    private static void Ok(ProcResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    [Fact]
    public void SystemDfCountsContainersVolumesAndImages()
    {
        string vol = "it-df-" + Guid.NewGuid().ToString("N")[..8];
        string name = "it-df-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            Ok(f.Docker("volume", "create", vol));
            Ok(f.Docker("run", "--name", name, "-v", vol + ":/data", "busybox", "sh", "-c", "head -c 100000 /dev/zero > /data/f; echo x > /rw"));
            var df = f.Docker("system", "df", "--format", "{{.Type}}={{.TotalCount}}");
            Ok(df);
            var counts = df.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split('=')).ToDictionary(p => p[0], p => int.Parse(p[1]));
            Assert.True(counts["Images"] >= 1, df.Stdout);
            Assert.True(counts["Containers"] >= 1, df.Stdout);
            Assert.True(counts["Local Volumes"] >= 1, df.Stdout);
            Assert.True(counts.ContainsKey("Build Cache"), df.Stdout);
            var verbose = f.Docker("system", "df", "-v");
            Ok(verbose);
            Assert.Contains(vol, verbose.Stdout);
            Assert.Contains(name, verbose.Stdout);
        }
        finally
        {
            f.Docker("rm", "-f", name);
            f.Docker("volume", "rm", "-f", vol);
        }
    }
}
