using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Skiff.Api;
using Skiff.Daemon;

namespace Skiff.Daemon.Host;

/// <summary><c>skiffd</c>: dockerd's flags for the parts Skiff has.</summary>
public static class Program
{
    private const string Usage = """
        Usage:	skiffd [OPTIONS]

        A self-sufficient runtime for containers, Docker Engine API compatible.

        Options:
          -H, --host list          Daemon socket(s) to connect to (default unix:///run/skiff/skiff.sock)
              --data-root string   Root directory of persistent state (default "/var/lib/skiff")
              --exec-root string   Root directory for execution state files (default "/run/skiff")
          -p, --pidfile string     Path to use for daemon PID file (default "/run/skiff/skiffd.pid")
              --runtime string     Path of skiff-runtime (default: next to skiffd, else on PATH)
          -b, --bridge string      Attach containers to a network bridge (default "skiff0"; "none": no default bridge)
              --bip string         Gateway address and prefix of the default bridge (default "172.31.0.1/16")
              --default-address-pool base=CIDR,size=N
                                   Where user-defined networks get subnets (default base=10.210.0.0/16,size=24)
              --iptables           Install NAT rules (nftables) for outbound traffic and published ports (default true)
              --userland-proxy     Serve published ports from skiffd when --iptables=false (default true)
              --userns-remap string
                                   User/Group setting for user namespaces ("default": dockremap; user[:group] or uid[:gid])
              --insecure-registry list
                                   Enable insecure registry communication (host[:port] or CIDR; repeatable)
              --config-file string Daemon configuration file (default "/etc/skiff/daemon.json")
          -D, --debug              Enable debug mode
          -v, --version            Print version information and quit
        """;

    public static async Task<int> Main(string[] args)
    {
        var hosts = new List<string>();
        string dataRoot = "/var/lib/skiff", execRoot = "/run/skiff";
        string? pidFile = null, runtime = null;
        var debug = false;
        var net = new DaemonOptions();
        string bridge = net.Bridge, bip = net.BridgeIp, pool = net.AddressPool;
        int poolSize = net.AddressPoolSize;
        var iptables = true;
        var userlandProxy = true;
        string? usernsRemap = null;
        var insecure = new List<string>();
        string configFile = DaemonConfigFile.DefaultPath;
        bool explicitConfig = false;
        // daemon.json keys whose flags were given, with the flag values (for dockerd's conflict message).
        var flagsSet = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string? inline = null;
            var eq = arg.IndexOf('=');
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0) { inline = arg[(eq + 1)..]; arg = arg[..eq]; }
            string Value()
            {
                if (inline is not null) return inline;
                if (i + 1 >= args.Length) throw new ArgumentException($"flag needs an argument: {arg}");
                return args[++i];
            }
            // A boolean flag: bare (true) or --flag=true|false; recorded for daemon.json's conflict check under its key.
            bool Bool(string key)
            {
                bool on = inline switch { null or "true" => true, "false" => false, _ => throw new ArgumentException($"invalid {arg} value: {inline}") };
                flagsSet[key] = on ? "true" : "false";
                return on;
            }
            try
            {
                switch (arg)
                {
                    case "-H" or "--host": hosts.Add(Value()); flagsSet["hosts"] = "[" + string.Join(" ", hosts) + "]"; break;
                    case "--data-root" or "-g" or "--graph": dataRoot = flagsSet["data-root"] = Value(); break;
                    case "--exec-root": execRoot = flagsSet["exec-root"] = Value(); break;
                    case "-p" or "--pidfile": pidFile = flagsSet["pidfile"] = Value(); break;
                    case "--runtime": runtime = Value(); break;
                    case "-D" or "--debug": debug = true; flagsSet["debug"] = "true"; break;
                    case "-b" or "--bridge": bridge = flagsSet["bridge"] = Value(); break;
                    case "--bip": bip = flagsSet["bip"] = Value(); break;
                    case "--iptables": iptables = Bool("iptables"); break;
                    case "--userns-remap": usernsRemap = flagsSet["userns-remap"] = Value(); break;
                    case "--insecure-registry": insecure.Add(Value()); flagsSet["insecure-registries"] = "[" + string.Join(" ", insecure) + "]"; break;
                    case "--config-file": configFile = Value(); explicitConfig = true; break;
                    case "--userland-proxy": userlandProxy = Bool("userland-proxy"); break;
                    case "--default-address-pool":
                        foreach (var kv in Value().Split(','))
                        {
                            var parts = kv.Split('=', 2);
                            if (parts.Length == 2 && parts[0] == "base") pool = parts[1];
                            else if (parts.Length == 2 && parts[0] == "size" && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var size) && size is >= 8 and <= 30) poolSize = size;
                            else throw new ArgumentException($"invalid --default-address-pool: {kv}");
                        }
                        break;
                    case "-v" or "--version": Console.WriteLine($"Skiff version {Skiff.Daemon.Daemon.Version}"); return 0;
                    case "-h" or "--help": Console.WriteLine(Usage); return 0;
                    default: throw new ArgumentException($"unknown flag: {arg}");
                }
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"skiffd: {e.Message}\nSee 'skiffd --help'.");
                return 125;
            }
        }
        Skiff.Distribution.InsecureRegistries insecureRegistries;
        try
        {
            foreach (var (key, value) in DaemonConfigFile.Read(configFile, explicitConfig, flagsSet))
            {
                switch (key)
                {
                    case "hosts": hosts.AddRange(DaemonConfigFile.Strings(value, key)); break;
                    case "data-root": dataRoot = DaemonConfigFile.String(value, key); break;
                    case "exec-root": execRoot = DaemonConfigFile.String(value, key); break;
                    case "pidfile": pidFile = DaemonConfigFile.String(value, key); break;
                    case "debug": debug = DaemonConfigFile.Bool(value, key); break;
                    case "bridge": bridge = DaemonConfigFile.String(value, key); break;
                    case "bip": bip = DaemonConfigFile.String(value, key); break;
                    case "iptables": iptables = DaemonConfigFile.Bool(value, key); break;
                    case "userland-proxy": userlandProxy = DaemonConfigFile.Bool(value, key); break;
                    case "userns-remap": usernsRemap = DaemonConfigFile.String(value, key); break;
                    case "insecure-registries": insecure.AddRange(DaemonConfigFile.Strings(value, key)); break;
                }
            }
            insecureRegistries = Skiff.Distribution.InsecureRegistries.Parse(insecure);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"skiffd: {e.Message}");
            return 1;
        }
        if (hosts.Count == 0) hosts.Add($"unix://{Path.Combine(execRoot, "skiff.sock")}");
        pidFile ??= Path.Combine(execRoot, "skiffd.pid");
        runtime ??= FindRuntime();

        Directory.CreateDirectory(execRoot);
        Directory.CreateDirectory(dataRoot);
        if (!ClaimPidFile(pidFile)) return 1;
        try
        {
            Skiff.Archive.IdMap? remap = null;
            string remapUser = "";
            if (!string.IsNullOrEmpty(usernsRemap))
            {
                (remap, remapUser) = UsernsRemap.Resolve(usernsRemap);
                string remappedRoot = UsernsRemap.DataRoot(dataRoot, remap);
                UsernsRemap.PrepareDataRoot(dataRoot, remappedRoot, remap);
                UsernsRemap.CheckTraversable(remappedRoot, remap);
                UsernsRemap.CheckTraversable(Path.Combine(execRoot, "containers"), remap);
                dataRoot = remappedRoot;
            }
            using var daemon = new Daemon(new DaemonOptions
            {
                DataRoot = dataRoot, ExecRoot = execRoot, RuntimePath = runtime,
                Bridge = bridge, BridgeIp = bip, AddressPool = pool, AddressPoolSize = poolSize, Iptables = iptables, UserlandProxy = userlandProxy,
                Remap = remap, RemapUser = remapUser, InsecureRegistries = insecureRegistries,
            });
            daemon.Restore();
            var app = ApiServer.Build(daemon, hosts, debug);
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; _ = app.StopAsync(); });
            using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; _ = app.StopAsync(); });
            await app.StartAsync().ConfigureAwait(false);
            foreach (var h in hosts)
                if (h.StartsWith("unix://", StringComparison.Ordinal)) File.SetUnixFileMode(h[7..], UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
            Console.Error.WriteLine($"skiffd {Skiff.Daemon.Daemon.Version}: API listening on {string.Join(", ", hosts)}");
            await app.WaitForShutdownAsync().ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or Skiff.Linux.LinuxException or FormatException)
        {
            Console.Error.WriteLine($"skiffd: {e.Message}");
            return 1;
        }
        finally
        {
            try { File.Delete(pidFile); } catch (IOException) { }
        }
    }

    private static string FindRuntime()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "skiff-runtime");
        if (File.Exists(beside)) return beside;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin").Split(':'))
        {
            var p = Path.Combine(dir, "skiff-runtime");
            if (File.Exists(p)) return p;
        }
        return "/usr/local/bin/skiff-runtime";
    }

    /// <summary>Refuses to start when another live skiffd holds the pid file (two daemons on one data root corrupt it).</summary>
    private static bool ClaimPidFile(string path)
    {
        try
        {
            var text = File.ReadAllText(path).Trim();
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid != Environment.ProcessId && Directory.Exists($"/proc/{pid}"))
            {
                var comm = File.ReadAllText($"/proc/{pid}/comm").Trim();
                if (comm.StartsWith("skiffd", StringComparison.Ordinal))
                {
                    Console.Error.WriteLine($"skiffd: pid file found, ensure skiffd is not running or delete {path}");
                    return false;
                }
            }
        }
        catch (IOException)
        {
        }
        File.WriteAllText(path, Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        return true;
    }
}
