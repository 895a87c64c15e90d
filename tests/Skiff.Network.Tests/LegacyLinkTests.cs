namespace Skiff.Network.Tests;

public sealed class LegacyLinkTests
{
    /// <summary>
    /// dockerd 20.10's /proc/1/environ for `docker run --link r3:my-db` where r3 ran with
    /// `-e A=1 -e HOME=/h --expose 80 --expose 81 --expose 82/udp --expose 90` (a repeated name keeps
    /// its first place, so 80/tcp's _ADDR and _PROTO show once, in the range block).
    /// </summary>
    [Fact]
    public void VariablesFollowDockerd()
    {
        var env = LegacyLink.Variables("/focused_feistel/my-db", "10.77.0.4", ["90/tcp", "82/udp", "80/tcp", "81/tcp"], ["A=1", "HOME=/h", "PATH=/x", "BARE"]);
        var seen = new HashSet<string>();
        var dedup = env.Where(e => seen.Add(e.Split('=')[0])).ToList();
        Assert.Equal(
        [
            "MY_DB_PORT=tcp://10.77.0.4:80",
            "MY_DB_PORT_80_TCP_START=tcp://10.77.0.4:80",
            "MY_DB_PORT_80_TCP_ADDR=10.77.0.4",
            "MY_DB_PORT_80_TCP_PROTO=tcp",
            "MY_DB_PORT_80_TCP_PORT_START=80",
            "MY_DB_PORT_80_UDP_END=udp://10.77.0.4:82",
            "MY_DB_PORT_80_UDP_PORT_END=82",
            "MY_DB_PORT_80_TCP=tcp://10.77.0.4:80",
            "MY_DB_PORT_80_TCP_PORT=80",
            "MY_DB_PORT_81_TCP=tcp://10.77.0.4:81",
            "MY_DB_PORT_81_TCP_ADDR=10.77.0.4",
            "MY_DB_PORT_81_TCP_PORT=81",
            "MY_DB_PORT_81_TCP_PROTO=tcp",
            "MY_DB_PORT_82_UDP=udp://10.77.0.4:82",
            "MY_DB_PORT_82_UDP_ADDR=10.77.0.4",
            "MY_DB_PORT_82_UDP_PORT=82",
            "MY_DB_PORT_82_UDP_PROTO=udp",
            "MY_DB_PORT_90_TCP=tcp://10.77.0.4:90",
            "MY_DB_PORT_90_TCP_ADDR=10.77.0.4",
            "MY_DB_PORT_90_TCP_PORT=90",
            "MY_DB_PORT_90_TCP_PROTO=tcp",
            "MY_DB_NAME=/focused_feistel/my-db",
            "MY_DB_ENV_A=1",
        ], dedup);
    }

    [Fact]
    public void TwoConsecutivePortsAreNoRangeAndTcpComesFirst()
    {
        var env = LegacyLink.Variables("/me/al", "10.0.0.2", ["443/udp", "81/tcp", "80/udp", "80/tcp"], []);
        Assert.Equal("AL_PORT=tcp://10.0.0.2:80", env[0]);
        // 80/tcp, 80/udp, 81/tcp count as three consecutive entries, as dockerd counts them.
        Assert.Contains("AL_PORT_80_TCP_START=tcp://10.0.0.2:80", env);
        Assert.Contains("AL_PORT_80_TCP_END=tcp://10.0.0.2:81", env);
        var none = LegacyLink.Variables("/me/al", "10.0.0.2", ["80/tcp", "81/tcp"], []);
        Assert.DoesNotContain(none, e => e.Contains("_START", StringComparison.Ordinal));
        Assert.Equal("AL_NAME=/me/al", none[^1]);
        Assert.Equal(["AL_NAME=/me/al"], LegacyLink.Variables("/me/al", "10.0.0.2", [], []));
    }
}
