using System.Text.Json;

namespace Skiff.Integration.Tests;

/// <summary>
/// skiffd's <c>--insecure-registry</c> and daemon.json <c>insecure-registries</c> against docker-registry on an address
/// that is not loopback: a 198.18.N.1/32 (benchmarking range) on a veth pair made for the test and deleted after it (this
/// kernel has no dummy links). One registry speaks plain http, one https with a self-signed certificate. A daemon without the setting refuses
/// both (https is required and verified); a daemon with the registries by host:port, and one with their /24 as a CIDR in
/// its configuration file, push and pull through both; GET /info and <c>docker info</c> show them as dockerd does.
/// </summary>
[Collection("registry")]
public sealed class InsecureRegistryTests(RegistryFixture f)
{
    private static void Ok(ProcResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    [Fact]
    public void InsecureRegistriesByHostAndByCidrAreReachedOverHttpAndUnverifiedTls()
    {
        string link = "skpf" + Guid.NewGuid().ToString("N")[..8];
        int n = Random.Shared.Next(1, 250);
        string ip = $"198.18.{n}.1";
        string dir = Path.Combine(f.Root, link);
        Directory.CreateDirectory(dir);
        DaemonFixture? byHost = null, byCidr = null;
        try
        {
            Ok(Proc.Run("/sbin/ip", ["link", "add", link, "type", "veth", "peer", "name", link.Replace("skpf", "skpq")]));
            Ok(Proc.Run("/sbin/ip", ["addr", "add", ip + "/32", "dev", link]));
            Ok(Proc.Run("/sbin/ip", ["link", "set", link, "up"]));
            Ok(Proc.Run("/sbin/ip", ["link", "set", link.Replace("skpf", "skpq"), "up"]));
            string cert = Path.Combine(dir, "cert.pem"), key = Path.Combine(dir, "key.pem");
            Ok(Proc.Run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=" + ip,
                "-addext", "subjectAltName=IP:" + ip, "-keyout", key, "-out", cert]));
            string plain = $"{ip}:{f.StartRegistryWithAuth(link + "-http", null, ip)}";
            string tls = $"{ip}:{f.StartRegistryWithAuth(link + "-tls", null, ip, cert, key)}";

            // The fixture's daemon has only the loopback default: https, verified.
            Ok(f.Docker("tag", "busybox:latest", $"{plain}/sec/busybox:1"));
            var refused = f.Docker("push", $"{plain}/sec/busybox:1");
            Assert.NotEqual(0, refused.ExitCode);
            Assert.Contains($"https://{plain}/v2/", refused.Stderr);
            Ok(f.Docker("tag", "busybox:latest", $"{tls}/sec/busybox:1"));
            var untrusted = f.Docker("push", $"{tls}/sec/busybox:1");
            Assert.NotEqual(0, untrusted.ExitCode);
            Ok(f.Docker("rmi", $"{plain}/sec/busybox:1", $"{tls}/sec/busybox:1"));

            byHost = new DaemonFixture(["--insecure-registry", plain, "--insecure-registry", "https://" + tls]);
            foreach (var registry in new[] { plain, tls })
            {
                string image = $"{registry}/insecure/busybox:1";
                Ok(byHost.Docker("tag", "busybox:latest", image));
                var push = byHost.Docker("push", image);
                Ok(push);
                Assert.Contains("1: digest: sha256:", push.Stdout);
                Ok(byHost.Docker("rmi", image));
                var pull = byHost.Docker("pull", image);
                Ok(pull);
                Assert.Contains("Status: Downloaded newer image for " + image, pull.Stdout);
            }
            var info = byHost.Docker("info");
            Ok(info);
            // The Docker CLI prints the index entries in Go map order, then the CIDRs.
            Assert.Contains(" Insecure Registries:\n", info.Stdout);
            Assert.Contains($"\n  {plain}\n", info.Stdout);
            Assert.Contains($"\n  {tls}\n", info.Stdout);
            Assert.Contains("\n  127.0.0.0/8\n", info.Stdout);
            var raw = Proc.Run("/usr/bin/curl", ["-sf", "--unix-socket", byHost.Socket, "http://d/v1.41/info"]);
            Ok(raw);
            using (var doc = JsonDocument.Parse(raw.Stdout))
            {
                var reg = doc.RootElement.GetProperty("RegistryConfig");
                Assert.Equal(["127.0.0.0/8"], reg.GetProperty("InsecureRegistryCIDRs").EnumerateArray().Select(e => e.GetString()!));
                var index = reg.GetProperty("IndexConfigs");
                Assert.False(index.GetProperty(plain).GetProperty("Secure").GetBoolean());
                Assert.False(index.GetProperty(tls).GetProperty("Official").GetBoolean());
                Assert.True(index.GetProperty("docker.io").GetProperty("Secure").GetBoolean());
                Assert.True(index.GetProperty("docker.io").GetProperty("Official").GetBoolean());
            }
            byHost.Dispose();
            byHost = null;

            string config = Path.Combine(dir, "daemon.json");
            File.WriteAllText(config, $$"""{"insecure-registries": ["198.18.{{n}}.0/24"]}""");
            byCidr = new DaemonFixture(["--config-file", config]);
            foreach (var registry in new[] { plain, tls })
            {
                var pull = byCidr.Docker("pull", $"{registry}/insecure/busybox:1");
                Ok(pull);
                Assert.Contains("1: Pulling from insecure/busybox", pull.Stdout);
            }
            var cidrInfo = byCidr.Docker("info", "--format", "{{json .RegistryConfig.InsecureRegistryCIDRs}}");
            Ok(cidrInfo);
            Assert.Equal($"[\"198.18.{n}.0/24\",\"127.0.0.0/8\"]\n", cidrInfo.Stdout);
        }
        finally
        {
            byHost?.Dispose();
            byCidr?.Dispose();
            Proc.Run("/sbin/ip", ["link", "delete", link]);
        }
    }

    [Fact]
    public void BadInsecureRegistryValuesAndConfigFilesStopTheDaemon()
    {
        string skiffd = Path.Combine(f.Daemon.BinDir, "skiffd");
        string dir = Path.Combine(f.Root, "badconfig-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(dir);
        string[] Roots() => ["--data-root", Path.Combine(dir, "data"), "--exec-root", Path.Combine(dir, "exec"), "--pidfile", Path.Combine(dir, "pid"), "-H", "unix://" + Path.Combine(dir, "s.sock")];

        var scheme = Proc.Run(skiffd, [.. Roots(), "--insecure-registry", "ftp://example.test"]);
        Assert.Equal(1, scheme.ExitCode);
        Assert.Contains("insecure registry ftp://example.test should not contain '://'", scheme.Stderr);

        string unknown = Path.Combine(dir, "unknown.json");
        File.WriteAllText(unknown, """{"insecure-registries": ["r.test:5000"], "no-such-option": 1}""");
        var bad = Proc.Run(skiffd, [.. Roots(), "--config-file", unknown]);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("the following directives don't match any configuration option: no-such-option", bad.Stderr);

        string both = Path.Combine(dir, "both.json");
        File.WriteAllText(both, """{"insecure-registries": ["r.test:5000"]}""");
        var conflict = Proc.Run(skiffd, [.. Roots(), "--config-file", both, "--insecure-registry", "q.test:5000"]);
        Assert.Equal(1, conflict.ExitCode);
        Assert.Contains("the following directives are specified both as a flag and in the configuration file: insecure-registries: (from flag: [q.test:5000], from file: [r.test:5000])", conflict.Stderr);

        var missing = Proc.Run(skiffd, [.. Roots(), "--config-file", Path.Combine(dir, "nope.json")]);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("no such file or directory", missing.Stderr);
    }
}
