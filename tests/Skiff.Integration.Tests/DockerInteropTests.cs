namespace Skiff.Integration.Tests;

/// <summary>
/// Images saved by Skiff load into a real Docker (Debian's docker.io 20.10 on a private dockerd) and run there; Docker's
/// own save of them loads back into skiffd and runs. Covers a pulled image (skiffd keeps only its compressed layer blobs
/// and decompresses them on save) and a committed one (its layer tar is stored).
/// </summary>
[Collection("registry")]
public sealed class DockerInteropTests(RegistryFixture f)
{
    private static void Ok(ProcResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    [Fact]
    public void SkiffSavedImagesLoadAndRunInDockerAndBack()
    {
        // A pulled image (its top layer exists only as the pulled compressed blob) with a committed layer on top.
        string pulled = $"{f.Registry}/interop/base:1";
        Ok(f.Docker("run", "--name", "interop-base", "busybox:latest", "sh", "-c", "echo pulled > /base"));
        Ok(f.Docker("commit", "interop-base", pulled));
        Ok(f.Docker("rm", "interop-base"));
        Ok(f.Docker("push", pulled));
        Ok(f.Docker("rmi", pulled));
        var pull = f.Docker("pull", pulled);
        Ok(pull);
        Assert.Contains("Pull complete", pull.Stdout);
        Ok(f.Docker("run", "--name", "interop-commit", pulled, "sh", "-c", "echo from-skiff > /marker"));
        Ok(f.Docker("commit", "interop-commit", "interop/app:1"));
        Ok(f.Docker("rm", "interop-commit"));
        string id = f.Docker("image", "inspect", "-f", "{{.Id}}", "interop/app:1").Stdout.Trim();

        string dir = Path.Combine(f.Root, "interop");
        Directory.CreateDirectory(dir);
        string fromSkiff = Path.Combine(dir, "from-skiff.tar");
        Ok(f.Docker("save", "-o", fromSkiff, "interop/app:1", pulled));

        using var docker = new PrivateDockerd();
        var load = docker.Docker("load", "-i", fromSkiff);
        Ok(load);
        Assert.Contains("Loaded image: interop/app:1", load.Stdout);
        Assert.Contains("Loaded image: " + pulled, load.Stdout);
        // Same config bytes, so the same image ID in Docker.
        Assert.Equal(id, docker.Docker("image", "inspect", "-f", "{{.Id}}", "interop/app:1").Stdout.Trim());
        var run = docker.Docker("run", "--rm", "--network", "none", "interop/app:1", "cat", "/marker");
        Ok(run);
        Assert.Equal("from-skiff\n", run.Stdout);
        var runPulled = docker.Docker("run", "--rm", "--network", "none", pulled, "cat", "/base");
        Ok(runPulled);
        Assert.Equal("pulled\n", runPulled.Stdout);

        // Docker adds a layer and saves; skiffd loads that and runs it.
        Ok(docker.Docker("run", "--name", "interop-docker", "--network", "none", "interop/app:1", "sh", "-c", "echo from-docker > /marker2"));
        Ok(docker.Docker("commit", "interop-docker", "interop/back:1"));
        Ok(docker.Docker("rm", "interop-docker"));
        string backId = docker.Docker("image", "inspect", "-f", "{{.Id}}", "interop/back:1").Stdout.Trim();
        string fromDocker = Path.Combine(dir, "from-docker.tar");
        Ok(docker.Docker("save", "-o", fromDocker, "interop/back:1"));

        Ok(f.Docker("rmi", "interop/app:1"));
        Ok(f.Docker("rmi", pulled));
        var back = f.Docker("load", "-i", fromDocker);
        Ok(back);
        Assert.Contains("Loaded image: interop/back:1", back.Stdout);
        Assert.Equal(backId, f.Docker("image", "inspect", "-f", "{{.Id}}", "interop/back:1").Stdout.Trim());
        var runBack = f.Docker("run", "--rm", "interop/back:1", "cat", "/base", "/marker", "/marker2");
        Ok(runBack);
        Assert.Equal("pulled\nfrom-skiff\nfrom-docker\n", runBack.Stdout);

        // Saved again by skiffd (layers now stored from Docker's archive), it still loads into Docker unchanged.
        string again = Path.Combine(dir, "again.tar");
        Ok(f.Docker("save", "-o", again, "interop/back:1"));
        Ok(docker.Docker("rmi", "interop/back:1"));
        Ok(docker.Docker("load", "-i", again));
        Assert.Equal(backId, docker.Docker("image", "inspect", "-f", "{{.Id}}", "interop/back:1").Stdout.Trim());
        Ok(f.Docker("rmi", "interop/back:1"));
    }

    [Fact]
    public void DockerRefusesAnOciOnlyLayoutThatSkiffLoads()
    {
        // An OCI image layout without Docker's manifest.json (skopeo's oci-archive of an image skiffd pushed): Docker 20.10's
        // load looks for manifest.json, then for the legacy layout's files, and refuses it; skiffd loads it. (Skiff's own
        // save writes both layouts in one tar, which is what Docker 20.10 reads above.)
        string image = $"{f.Registry}/interop/oci:1";
        Ok(f.Docker("tag", "busybox:latest", image));
        Ok(f.Docker("push", image));
        string tar = Path.Combine(f.Root, "interop-oci.tar");
        Ok(Proc.Run("skopeo", ["copy", "--src-tls-verify=false", "docker://" + image, "oci-archive:" + tar + ":interop/oci:2"]));
        using var docker = new PrivateDockerd();
        var load = docker.Docker("load", "-i", tar);
        Assert.NotEqual(0, load.ExitCode);
        Assert.True(load.Stderr.Contains("no such file or directory"), load.ToString());
        var skiffLoad = f.Docker("load", "-i", tar);
        Ok(skiffLoad);
        Assert.Contains("Loaded image: interop/oci:2", skiffLoad.Stdout);
        Ok(f.Docker("run", "--rm", "interop/oci:2", "true"));
        Ok(f.Docker("rmi", "interop/oci:2"));
        Ok(f.Docker("rmi", image));
    }
}
