namespace Skiff.Integration.Tests;

/// <summary>
/// <c>docker rmi</c> and <c>docker images REPO</c> with the messages and exit codes dockerd 20.10 gives (compared by hand
/// against a private dockerd): one of several tags is untagged while a container runs the image; by ID, a running
/// container's image cannot be removed even forced, several references need force, then a stopped container does; the
/// reference filter lists only the matching names of an image.
/// </summary>
[Collection("daemon")]
public sealed class ImageRemoveCompatTests(DaemonFixture f)
{
    private static void Ok(ProcResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    [Fact]
    public void RmiConflictsFollowDockerd()
    {
        string suffix = Guid.NewGuid().ToString("N")[..6];
        string repo = "rmit" + suffix, other = "other" + suffix + "/rmit";
        string run = "rmirun" + suffix, stop = "rmistop" + suffix, src = "rmisrc" + suffix;
        try
        {
            Ok(f.Docker("run", "--name", src, "busybox", "true"));
            Ok(f.Docker("commit", src, repo + ":a"));
            string id = f.Docker("image", "inspect", "-f", "{{.Id}}", repo + ":a").Stdout.Trim();
            string shortId = id["sha256:".Length..][..12];
            Ok(f.Docker("tag", repo + ":a", repo + ":b"));
            Ok(f.Docker("tag", repo + ":a", other + ":c"));

            var listed = f.Docker("images", "--format", "{{.Repository}}:{{.Tag}}", repo);
            Ok(listed);
            Assert.Equal([repo + ":a", repo + ":b"], listed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
            var quiet = f.Docker("images", "-q", other);
            Assert.Equal(shortId + "\n", quiet.Stdout);

            string runId = f.Docker("run", "-d", "--name", run, repo + ":a", "sleep", "60").Stdout.Trim();
            var untag = f.Docker("rmi", repo + ":b");
            Ok(untag);
            Assert.Equal($"Untagged: {repo}:b\n", untag.Stdout);
            var running = f.Docker("rmi", "-f", shortId);
            Assert.Equal(1, running.ExitCode);
            Assert.Equal($"Error response from daemon: conflict: unable to delete {shortId} (cannot be forced) - image is being used by running container {runId[..12]}\n", running.Stderr);
            Ok(f.Docker("rm", "-f", run));

            string stopId = f.Docker("create", "--name", stop, repo + ":a").Stdout.Trim();
            var several = f.Docker("rmi", shortId);
            Assert.Equal(1, several.ExitCode);
            Assert.Equal($"Error response from daemon: conflict: unable to delete {shortId} (must be forced) - image is referenced in multiple repositories\n", several.Stderr);
            Ok(f.Docker("rmi", other + ":c"));
            var stopped = f.Docker("rmi", shortId);
            Assert.Equal(1, stopped.ExitCode);
            Assert.Equal($"Error response from daemon: conflict: unable to delete {shortId} (must be forced) - image is being used by stopped container {stopId[..12]}\n", stopped.Stderr);
            var lastTag = f.Docker("rmi", repo + ":a");
            Assert.Equal(1, lastTag.ExitCode);
            Assert.Equal($"Error response from daemon: conflict: unable to remove repository reference \"{repo}:a\" (must force) - container {stopId[..12]} is using its referenced image {shortId}\n", lastTag.Stderr);
        }
        finally
        {
            f.Docker("rm", "-f", run, stop, src);
            f.Docker("rmi", "-f", repo + ":a", repo + ":b", other + ":c");
        }
    }
}
