using Skiff.Cgroups;

namespace Skiff.Runtime.Tests;

/// <summary>The cgroup v2 device program, attached to a cgroup of this host's unified hierarchy.</summary>
public sealed class DeviceFilterTests
{
    [Fact]
    public void OnlyAllowedDevicesCanBeOpenedInTheCgroup()
    {
        string unified = File.Exists("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
        Assert.True(Directory.Exists(unified), "no cgroup2 mount");
        string dir = Path.Combine(unified, "skiff-test-dev-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            DeviceFilter.Attach(dir,
            [
                new DeviceRule(false, 'a', null, null, "rwm"),
                new DeviceRule(true, 'c', 1, 3, "rwm"),
                new DeviceRule(true, 'c', 1, 9, "r"),
                new DeviceRule(true, 'c', 1, 5, "rwm"),
                new DeviceRule(false, 'c', 1, 5, "w"),
            ]);
            RunResult r = Runner.Run("/bin/sh", ["-c",
                $"echo $$ > {dir}/cgroup.procs; " +
                "head -c1 /dev/null && echo null-ok; " +
                "head -c1 /dev/urandom >/dev/null && echo urandom-read-ok; " +
                "(echo x > /dev/urandom) 2>/dev/null || echo urandom-write-denied; " +
                "head -c1 /dev/zero >/dev/null && echo zero-read-ok; " +
                "(echo x > /dev/zero) 2>/dev/null || echo zero-write-denied; " +
                "head -c1 /dev/full 2>/dev/null || echo full-denied"]);
            Assert.Equal("null-ok\nurandom-read-ok\nurandom-write-denied\nzero-read-ok\nzero-write-denied\nfull-denied\n", r.Stdout);
        }
        finally
        {
            for (int i = 0; i < 50 && Directory.Exists(dir); i++)
            {
                try { Directory.Delete(dir); } catch (IOException) { Thread.Sleep(20); }
            }
        }
    }
}
