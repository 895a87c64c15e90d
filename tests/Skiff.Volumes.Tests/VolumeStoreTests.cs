using Skiff.Linux;

namespace Skiff.Volumes.Tests;

public sealed class VolumeNameTests
{
    [Theory]
    [InlineData("ab", true)]
    [InlineData("a.b-c_d9", true)]
    [InlineData("9x", true)]
    [InlineData("a", false)]
    [InlineData(".", false)]
    [InlineData("..", false)]
    [InlineData("..x", false)]
    [InlineData("_ab", false)]
    [InlineData("a/b", false)]
    [InlineData("../../etc", false)]
    [InlineData("a b", false)]
    [InlineData("", false)]
    public void NamesFollowDockersRule(string name, bool valid) => Assert.Equal(valid, VolumeNames.IsValid(name));

    [Fact]
    public void AnonymousNamesAre64Hex() => Assert.Matches("^[0-9a-f]{64}$", VolumeNames.NewAnonymous());
}

public sealed class LocalDriverTests
{
    [Fact]
    public void OptionsSplitIntoFlagsAndData()
    {
        var (flags, data) = LocalDriver.Parse("size=4m,ro,nosuid,uid=1000");
        Assert.Equal(Libc.MS_RDONLY | Libc.MS_NOSUID, flags);
        Assert.Equal("size=4m,uid=1000", data);
        Assert.Equal(Libc.MS_BIND | Libc.MS_REC, LocalDriver.Parse("rbind").Flags);
    }

    [Fact]
    public void UnknownKeysAndHalfDevicesAreRefused()
    {
        Assert.Equal("invalid option key: \"foo\"", Assert.Throws<VolumeException>(() => LocalDriver.Validate(new Dictionary<string, string> { ["foo"] = "x" })).Message);
        Assert.Throws<VolumeException>(() => LocalDriver.Validate(new Dictionary<string, string> { ["type"] = "tmpfs" }));
        Assert.Throws<VolumeException>(() => LocalDriver.Validate(new Dictionary<string, string> { ["o"] = "bind", ["device"] = "relative" }));
        LocalDriver.Validate(new Dictionary<string, string> { ["type"] = "tmpfs", ["device"] = "tmpfs", ["o"] = "size=1m" });
        LocalDriver.Validate(new Dictionary<string, string> { ["type"] = "none", ["o"] = "bind", ["device"] = "/tmp" });
    }
}

public sealed class VolumeStoreTests
{
    [Fact]
    public void CreatePersistsDockersLayoutAndReloads()
    {
        using var t = new TempDir();
        var store = new VolumeStore(t.Path);
        var v = store.Create("data1", labels: new Dictionary<string, string> { ["com.docker.compose.project"] = "p" });
        Assert.True(Directory.Exists(Path.Combine(t.Path, "data1", "_data")));
        Assert.True(File.Exists(Path.Combine(t.Path, "data1", "volume.json")));
        Assert.Equal(Path.Combine(t.Path, "data1", "_data"), v.Mountpoint);
        Assert.False(v.Anonymous);

        var reloaded = new VolumeStore(t.Path).Get("data1");
        Assert.Equal("p", reloaded.Labels["com.docker.compose.project"]);
        Assert.Equal("local", reloaded.Driver);
        Assert.Equal(v.CreatedAt.ToUnixTimeSeconds(), reloaded.CreatedAt.ToUnixTimeSeconds());
    }

    [Fact]
    public void CreatingAnExistingNameReturnsIt()
    {
        using var t = new TempDir();
        var store = new VolumeStore(t.Path);
        var a = store.Create("same");
        File.WriteAllText(Path.Combine(a.Mountpoint, "f"), "x");
        var b = store.Create("same", labels: new Dictionary<string, string> { ["x"] = "y" });
        Assert.Same(a, b);
        Assert.True(File.Exists(Path.Combine(b.Mountpoint, "f")));
        Assert.Single(store.List());
    }

    [Fact]
    public void AnonymousVolumesAreLabelled()
    {
        using var t = new TempDir();
        var v = new VolumeStore(t.Path).Create(null);
        Assert.True(v.Anonymous);
        Assert.Equal("", v.Labels[Volume.AnonymousLabel]);
        Assert.Matches("^[0-9a-f]{64}$", v.Name);
    }

    [Fact]
    public void BadNamesAndDriversAreRefusedBeforeAnyPathIsMade()
    {
        using var t = new TempDir();
        var outside = Path.Combine(Path.GetDirectoryName(t.Path)!, "escaped-" + Guid.NewGuid().ToString("N")[..8]);
        var store = new VolumeStore(t.Path);
        var e = Assert.Throws<VolumeException>(() => store.Create("../" + Path.GetFileName(outside)));
        Assert.Equal(VolumeErrorKind.InvalidArgument, e.Kind);
        Assert.False(Directory.Exists(outside));
        Assert.Equal(VolumeErrorKind.NotFound, Assert.Throws<VolumeException>(() => store.Create("okname", driver: "nfs-plugin")).Kind);
        Assert.Equal("get nope: no such volume", Assert.Throws<VolumeException>(() => store.Get("nope")).Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(t.Path));
    }

    [Fact]
    public void RemoveDeletesDataAndLeftoversAreCleanedAtLoad()
    {
        using var t = new TempDir();
        var store = new VolumeStore(t.Path);
        var v = store.Create("gone");
        File.WriteAllText(Path.Combine(v.Mountpoint, "f"), "x");
        store.Remove("gone");
        Assert.False(Directory.Exists(v.Directory));
        Assert.Null(store.Find("gone"));
        Assert.Equal(VolumeErrorKind.NotFound, Assert.Throws<VolumeException>(() => store.Remove("gone")).Kind);

        Directory.CreateDirectory(Path.Combine(t.Path, ".trash-1234", "_data"));
        Directory.CreateDirectory(Path.Combine(t.Path, ".tmp-1234", "_data"));
        _ = new VolumeStore(t.Path);
        Assert.Empty(Directory.EnumerateFileSystemEntries(t.Path));
    }

    [Fact]
    public void SizeCountsFilesOnceAndEmptinessIsSeen()
    {
        using var t = new TempDir();
        var v = new VolumeStore(t.Path).Create("sized");
        Assert.True(VolumeStore.IsEmpty(v));
        File.WriteAllBytes(Path.Combine(v.Mountpoint, "a"), new byte[1000]);
        Directory.CreateDirectory(Path.Combine(v.Mountpoint, "d"));
        File.WriteAllBytes(Path.Combine(v.Mountpoint, "d", "b"), new byte[24]);
        Sh.Run("/bin/ln", Path.Combine(v.Mountpoint, "a"), Path.Combine(v.Mountpoint, "d", "hard"));
        File.CreateSymbolicLink(Path.Combine(v.Mountpoint, "link"), "/etc/passwd");
        Assert.Equal(1024, VolumeStore.Size(v));
        Assert.False(VolumeStore.IsEmpty(v));
    }

    [Fact]
    public void TmpfsVolumeIsMountedForItsUsersOnly()
    {
        using var t = new TempDir();
        var store = new VolumeStore(t.Path);
        var v = store.Create("tmp1", options: new Dictionary<string, string> { ["type"] = "tmpfs", ["device"] = "tmpfs", ["o"] = "size=1m" });
        try
        {
            Assert.False(VolumeStore.IsMounted(v.Mountpoint));
            Assert.Equal(v.Mountpoint, store.Mount("tmp1", "c1"));
            store.Mount("tmp1", "c2");
            Assert.True(VolumeStore.IsMounted(v.Mountpoint));
            Assert.Equal(VolumeErrorKind.Conflict, Assert.Throws<VolumeException>(() => store.Remove("tmp1")).Kind);
            store.Unmount("tmp1", "c1");
            Assert.True(VolumeStore.IsMounted(v.Mountpoint));
            store.Unmount("tmp1", "c2");
            Assert.False(VolumeStore.IsMounted(v.Mountpoint));
            store.Remove("tmp1");
        }
        finally
        {
            Libc.umount2(v.Mountpoint, Libc.MNT_DETACH);
        }
    }

    [Fact]
    public void RemovingABindDeviceVolumeKeepsTheDevicesFiles()
    {
        using var t = new TempDir();
        var device = t.Sub("device");
        File.WriteAllText(Path.Combine(device, "keep"), "precious");
        var store = new VolumeStore(t.Sub("volumes"));
        var v = store.Create("bound", options: new Dictionary<string, string> { ["type"] = "none", ["o"] = "bind", ["device"] = device });
        try
        {
            store.Mount("bound", "c1");
            Assert.Equal("precious", File.ReadAllText(Path.Combine(v.Mountpoint, "keep")));
            // A daemon that died with the volume mounted: the next store adopts and then clears the stale mount.
            var restarted = new VolumeStore(Path.Combine(t.Path, "volumes"));
            restarted.UnmountUnused();
            Assert.False(VolumeStore.IsMounted(v.Mountpoint));
            restarted.Mount("bound", "c1");
            restarted.Unmount("bound", "c1");
            restarted.Remove("bound");
            Assert.Equal("precious", File.ReadAllText(Path.Combine(device, "keep")));
        }
        finally
        {
            Libc.umount2(v.Mountpoint, Libc.MNT_DETACH);
        }
    }
}
