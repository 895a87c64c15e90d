using System.Formats.Tar;
using System.Text.RegularExpressions;

namespace Skiff.Integration.Tests;

/// <summary>
/// <c>docker pull --all-tags</c> and <c>skiff pull -a</c> against docker-registry: every tag of the repository is pulled,
/// each with its own "Pulling from"/"Digest" lines, then one status line for the repository, as dockerd prints them.
/// </summary>
[Collection("registry")]
public sealed class PullAllTagsTests(RegistryFixture f)
{
    private static void Ok(ProcResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    [Fact]
    public void PullAllTagsPullsEveryTagOfTheRepository()
    {
        string repo = $"{f.Registry}/alltags/busybox";
        // a3 differs from a1/a2: a one-layer image of its own.
        string tar = Path.Combine(f.Root, "alltags-a3.tar");
        using (var fs = File.Create(tar))
        using (var w = new TarWriter(fs, TarEntryFormat.Pax))
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "only-in-a3") { DataStream = new MemoryStream("a3\n"u8.ToArray()) });
        Ok(f.Docker("import", tar, repo + ":a3"));
        Ok(f.Docker("tag", "busybox:latest", repo + ":a1"));
        Ok(f.Docker("tag", "busybox:latest", repo + ":a2"));
        foreach (var t in new[] { "a1", "a2", "a3" }) Ok(f.Docker("push", $"{repo}:{t}"));
        Ok(f.Docker("rmi", repo + ":a1", repo + ":a2", repo + ":a3"));

        var pull = f.Docker("pull", "--all-tags", repo);
        Ok(pull);
        foreach (var t in new[] { "a1", "a2", "a3" }) Assert.Contains($"{t}: Pulling from alltags/busybox\n", pull.Stdout);
        Assert.Equal(3, Regex.Matches(pull.Stdout, @"Digest: sha256:[0-9a-f]{64}\n").Count);
        Assert.Single(Regex.Matches(pull.Stdout, "Status: "));
        Assert.EndsWith($"Status: Downloaded newer image for {repo}\n{repo}\n", pull.Stdout);
        Assert.DoesNotContain("Using default tag", pull.Stdout);
        var tags = f.Docker("images", "--format", "{{.Tag}}", repo);
        Ok(tags);
        Assert.Equal(["a1", "a2", "a3"], tags.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
        var run = f.Docker("run", "--rm", repo + ":a1", "echo", "a1-ok");
        Ok(run);
        Assert.Equal("a1-ok\n", run.Stdout);

        var again = f.Docker("pull", "-a", repo);
        Ok(again);
        Assert.EndsWith($"Status: Image is up to date for {repo}\n{repo}\n", again.Stdout);
        var skiff = f.Daemon.SkiffCli("pull", "-a", repo);
        Ok(skiff);
        Assert.Equal(again.Stdout, skiff.Stdout);

        var tagged = f.Docker("pull", "-a", repo + ":a1");
        Assert.Equal(1, tagged.ExitCode);
        Assert.Contains("tag can't be used with --all-tags/-a", tagged.Stderr);
        var skiffTagged = f.Daemon.SkiffCli("pull", "-a", repo + ":a1");
        Assert.Equal(1, skiffTagged.ExitCode);
        Assert.Contains("tag can't be used with --all-tags/-a", skiffTagged.Stderr);

        var missing = f.Docker("pull", "-a", $"{f.Registry}/alltags/nothing-here");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("not found", missing.Stderr);

        // A plain pull of a name without tag still means latest.
        var latest = f.Docker("pull", repo);
        Assert.Equal(1, latest.ExitCode);
        Assert.Contains("Using default tag: latest", latest.Stdout);
        Assert.Contains("manifest for " + repo + ":latest not found", latest.Stderr);
        Ok(f.Docker("rmi", repo + ":a1", repo + ":a2", repo + ":a3"));
    }
}
