using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using Skiff.Linux;
using Skiff.Runtime.Spec;

namespace Skiff.Runtime.Cli;

/// <summary>
/// runc-compatible verbs: <c>create|start|state|kill|delete|run|exec|ps|list</c> with the global
/// <c>--root</c> (default /run/skiff-runtime). Errors go to stderr as one line; the exit status is 1,
/// except <c>run</c> and foreground <c>exec</c>, which exit with the container process's status.
/// </summary>
internal static class Commands
{
    public const string DefaultRoot = "/run/skiff-runtime";

    public static int Run(string[] argv)
    {
        var args = new Args(argv);
        string root = DefaultRoot;
        while (args.PeekFlag())
        {
            string flag = args.Next();
            switch (Args.Name(flag))
            {
                case "--root": root = args.Value(flag); break;
                case "--log" or "--log-format" or "--criu": args.Value(flag); break;
                case "--debug" or "--systemd-cgroup" or "--rootless": break;
                case "--version" or "-v": Console.WriteLine("skiff-runtime version 0.1.0\nspec: 1.0.2"); return 0;
                case "--help" or "-h": Usage(); return 0;
                default: return Fail($"unknown global flag {flag}");
            }
        }
        if (!args.HasMore) { Usage(); return 1; }
        string verb = args.Next();
        try
        {
            return verb switch
            {
                "create" => Create(root, args, start: false),
                "run" => Create(root, args, start: true),
                "start" => Start(root, args),
                "state" => State(root, args),
                "kill" => Kill(root, args),
                "delete" => Delete(root, args),
                "exec" => Exec(root, args),
                "ps" => Ps(root, args),
                "list" => List(root, args),
                "spec" => WriteSpec(args),
                "update" => Update(root, args),
                "pause" => WithContainer(root, args, c => c.Pause()),
                "resume" => WithContainer(root, args, c => c.Resume()),
                _ => Fail($"unknown command {verb}"),
            };
        }
        catch (Exception e) when (e is ContainerException or ContainerNotFoundException or LinuxException or ArgumentException
                                      or IOException or UnauthorizedAccessException or JsonException or FormatException or OverflowException)
        {
            return Fail(e.Message);
        }
    }

    private static void Usage() => Console.Error.WriteLine(
        "usage: skiff-runtime [--root DIR] create|start|state|kill|delete|run|exec|ps|list|pause|resume [options] ID");

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"skiff-runtime: {message}");
        return 1;
    }

    private static int Create(string root, Args args, bool start)
    {
        string bundle = ".";
        string? consoleSocket = null, pidFile = null;
        bool detach = false, keep = false;
        string? id = null;
        while (args.HasMore)
        {
            string a = args.Next();
            switch (Args.Name(a))
            {
                case "--bundle" or "-b": bundle = args.Value(a); break;
                case "--console-socket": consoleSocket = args.Value(a); break;
                case "--pid-file": pidFile = args.Value(a); break;
                case "--detach" or "-d": detach = true; break;
                case "--keep": keep = true; break;
                case "--no-pivot" or "--no-new-keyring" or "--no-subreaper": break;
                case "--preserve-fds": args.Value(a); break;
                default:
                    if (a.StartsWith('-')) return Fail($"unknown flag {a}");
                    id = a; break;
            }
        }
        if (id is null) return Fail("container id required");
        OciSpec spec = OciSpec.Load(bundle, out byte[] specJson);
        Trace.Mark("spec loaded");
        bool terminal = spec.Process?.Terminal == true;
        if (terminal && consoleSocket is null && (!start || detach))
            return Fail("cannot allocate tty if runc will detach without setting console socket");

        LinuxContainer container;
        try { container = LinuxContainer.Create(new CreateOptions { Id = id, BundlePath = bundle, Spec = spec, SpecJson = specJson, StateRoot = root }); }
        catch (ContainerException e) when (start)
        {
            Console.Error.WriteLine($"skiff-runtime: {e.Message}");
            return ExitCodeFor(e);
        }
        using var _ = container;
        if (pidFile is not null) WritePidFile(pidFile, container.Pid);
        if (consoleSocket is not null && container.ConsoleMaster is { } master)
        {
            int sock = Libc.ConnectUnix(consoleSocket);
            try { Libc.SendFd(sock, "/dev/ptmx"u8, (int)master.DangerousGetHandle()); }
            finally { Libc.close(sock); }
            master.Dispose();
        }
        if (!start) return 0;
        if (detach)
        {
            container.Start();
            return 0;
        }
        return RunForeground(container, keep);
    }

    /// <summary>Foreground <c>run</c>: forwards signals to the init, copies a pty if any, exits with its status.</summary>
    private static int RunForeground(LinuxContainer container, bool keep)
    {
        var registrations = new List<PosixSignalRegistration>();
        int pid = container.Pid;
        foreach (var (sig, num) in new[] { (PosixSignal.SIGINT, 2), (PosixSignal.SIGTERM, 15), (PosixSignal.SIGHUP, 1), (PosixSignal.SIGQUIT, 3) })
            registrations.Add(PosixSignalRegistration.Create(sig, ctx => { ctx.Cancel = true; Libc.kill(pid, num); }));
        TerminalRelay? relay = container.ConsoleMaster is { } m ? new TerminalRelay(m) : null;
        int code;
        try
        {
            container.Start();
            relay?.Begin();
            Trace.Mark("run: started");
            code = container.WaitForExit();
            Trace.Mark("run: exited");
            relay?.Finish();
        }
        catch (ContainerException e)
        {
            container.WaitForExit();
            if (!keep) container.Delete(force: true);
            Console.Error.WriteLine($"skiff-runtime: {e.Message}");
            return ExitCodeFor(e);
        }
        finally
        {
            foreach (var r in registrations) r.Dispose();
            relay?.Dispose();
        }
        if (!keep) container.Delete(force: true);
        Trace.Mark("run: deleted");
        return code;
    }

    /// <summary>Docker's exit codes for a command that could not be started: 127 not found, 126 not executable.</summary>
    private static int ExitCodeFor(ContainerException e)
    {
        string m = e.Message;
        if (!m.StartsWith("exec: ", StringComparison.Ordinal)) return 1;
        if (m.Contains("executable file not found", StringComparison.Ordinal) || m.Contains("no such file or directory", StringComparison.Ordinal)) return 127;
        if (m.EndsWith("permission denied", StringComparison.Ordinal) || m.EndsWith("is a directory", StringComparison.Ordinal)) return 126;
        return 1;
    }

    private static void WritePidFile(string path, int pid)
    {
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, pid.ToString());
        File.Move(tmp, path, overwrite: true);
    }

    private static string RequireId(Args args)
    {
        string? id = null;
        while (args.HasMore)
        {
            string a = args.Next();
            if (a.StartsWith('-')) throw new ArgumentException($"unknown flag {a}");
            id ??= a;
        }
        return id ?? throw new ArgumentException("container id required");
    }

    private static int WithContainer(string root, Args args, Action<LinuxContainer> action)
    {
        using var c = LinuxContainer.Load(root, RequireId(args));
        action(c);
        return 0;
    }

    /// <summary><c>spec [--bundle DIR] [--rootless] [ARGS...]</c>: writes Docker's default spec as config.json (runc's verb, Docker's defaults).</summary>
    private static int WriteSpec(Args args)
    {
        string bundle = ".";
        var command = new List<string>();
        while (args.HasMore)
        {
            string a = args.Next();
            if (Args.Name(a) is "--bundle" or "-b") bundle = args.Value(a);
            else if (a == "--") command.AddRange(args.Rest());
            else command.Add(a);
        }
        if (File.Exists(Path.Combine(bundle, "config.json"))) return Fail("File config.json exists. Remove it first.");
        DockerDefaults.CreateSpec(command.Count > 0 ? command : ["sh"]).Save(bundle);
        return 0;
    }

    private static int Start(string root, Args args) => WithContainer(root, args, c =>
    {
        ContainerStatus status = c.Status();
        if (status != ContainerStatus.Created) throw new ContainerException($"cannot start a container in the {status.ToString().ToLowerInvariant()} state");
        c.Start();
    });

    private static int State(string root, Args args)
    {
        using var c = LinuxContainer.Load(root, RequireId(args));
        Console.WriteLine(JsonSerializer.Serialize(ToState(c), CliJsonContext.Default.RuncState));
        return 0;
    }

    private static RuncState ToState(LinuxContainer c)
    {
        ContainerStatus status = c.Status();
        return new RuncState
        {
            Id = c.Id,
            Pid = status == ContainerStatus.Stopped ? 0 : c.Pid,
            Status = status.ToString().ToLowerInvariant(),
            Bundle = c.Bundle,
            Rootfs = c.State.Rootfs,
            Created = c.Created,
            Annotations = c.State.Annotations,
        };
    }

    private static int Kill(string root, Args args)
    {
        bool all = false;
        var positional = new List<string>();
        while (args.HasMore)
        {
            string a = args.Next();
            if (a is "--all" or "-a") all = true;
            else if (a.StartsWith('-') && a.Length > 1 && !char.IsDigit(a[1])) return Fail($"unknown flag {a}");
            else positional.Add(a);
        }
        if (positional.Count == 0) return Fail("container id required");
        int signal = positional.Count > 1 ? Libc.ParseSignal(positional[1]) : Libc.SIGTERM;
        using var c = LinuxContainer.Load(root, positional[0]);
        c.Kill(signal, all);
        return 0;
    }

    private static int Delete(string root, Args args)
    {
        bool force = false;
        string? id = null;
        while (args.HasMore)
        {
            string a = args.Next();
            if (a is "--force" or "-f") force = true;
            else if (a.StartsWith('-')) return Fail($"unknown flag {a}");
            else id = a;
        }
        if (id is null) return Fail("container id required");
        LinuxContainer c;
        try { c = LinuxContainer.Load(root, id); }
        catch (ContainerNotFoundException) when (force) { return 0; }
        using (c) c.Delete(force);
        return 0;
    }

    private static int Exec(string root, Args args)
    {
        bool tty = false, detach = false;
        string? cwd = null, user = null, processFile = null, pidFile = null, consoleSocket = null;
        var env = new List<string>();
        var caps = new List<string>();
        bool? nnp = null;
        string? id = null;
        var command = new List<string>();
        while (args.HasMore)
        {
            string a = args.Next();
            if (id is not null) { command.Add(a); command.AddRange(args.Rest()); break; }
            switch (Args.Name(a))
            {
                case "--tty" or "-t": tty = true; break;
                case "--detach" or "-d": detach = true; break;
                case "--cwd": cwd = args.Value(a); break;
                case "--env" or "-e": env.Add(args.Value(a)); break;
                case "--user" or "-u": user = args.Value(a); break;
                case "--process" or "-p": processFile = args.Value(a); break;
                case "--pid-file": pidFile = args.Value(a); break;
                case "--console-socket": consoleSocket = args.Value(a); break;
                case "--cap" or "-c": caps.Add(args.Value(a)); break;
                case "--no-new-privs": nnp = true; break;
                case "--": break;
                default:
                    if (a.StartsWith('-')) return Fail($"unknown flag {a}");
                    id = a; break;
            }
        }
        if (id is null) return Fail("container id required");
        using var c = LinuxContainer.Load(root, id);
        ExecOptions options;
        if (processFile is not null)
        {
            var p = JsonSerializer.Deserialize(File.ReadAllBytes(processFile), OciJsonContext.Default.OciProcess)
                ?? throw new ArgumentException("empty process file");
            options = new ExecOptions
            {
                Args = p.Args, Env = p.Env, Cwd = p.Cwd, Terminal = p.Terminal, ConsoleSize = p.ConsoleSize,
                User = $"{p.User.Uid}:{p.User.Gid}", NoNewPrivileges = p.NoNewPrivileges,
                Capabilities = p.Capabilities?.Bounding,
            };
        }
        else
        {
            if (command.Count == 0) return Fail("exec requires a command");
            var baseEnv = new List<string>(c.Spec.Process?.Env ?? []);
            foreach (string e in env)
            {
                string key = e.Split('=')[0] + "=";
                baseEnv.RemoveAll(x => x.StartsWith(key, StringComparison.Ordinal));
                baseEnv.Add(e);
            }
            options = new ExecOptions
            {
                Args = command, Env = baseEnv, Cwd = cwd, Terminal = tty, User = user, NoNewPrivileges = nnp,
                Capabilities = caps.Count > 0 ? Capabilities.Adjust(c.Spec.Process?.Capabilities?.Bounding ?? [], caps, null) : null,
            };
        }
        if (options.Terminal && consoleSocket is null && detach)
            return Fail("cannot allocate tty if runc will detach without setting console socket");
        ExecProcess proc;
        try { proc = c.Exec(options); }
        catch (ContainerException e)
        {
            Console.Error.WriteLine($"skiff-runtime: {e.Message}");
            return ExitCodeFor(e);
        }
        if (pidFile is not null) WritePidFile(pidFile, proc.Pid);
        if (consoleSocket is not null && proc.ConsoleMaster is { } master)
        {
            int sock = Libc.ConnectUnix(consoleSocket);
            try { Libc.SendFd(sock, "/dev/ptmx"u8, (int)master.DangerousGetHandle()); }
            finally { Libc.close(sock); }
            master.Dispose();
        }
        if (detach) return 0;
        using var relay = proc.ConsoleMaster is { } m ? new TerminalRelay(m) : null;
        relay?.Begin();
        int code = LinuxContainer.Reap(proc.Pid);
        relay?.Finish();
        return code;
    }

    /// <summary><c>update [-r resources.json | --memory N --memory-swap N --cpu-shares N --cpu-quota N --cpu-period N --cpuset-cpus S --pids-limit N] ID</c>.</summary>
    private static int Update(string root, Args args)
    {
        var r = new OciResources();
        string? id = null;
        while (args.HasMore)
        {
            string a = args.Next();
            switch (Args.Name(a))
            {
                case "--resources" or "-r":
                    string file = args.Value(a);
                    byte[] json = file == "-" ? ReadAllStdin() : File.ReadAllBytes(file);
                    var wrapper = OciSpec.Parse([.. "{\"linux\":{\"resources\":"u8, .. json, .. "}}"u8]);
                    r = wrapper.Linux?.Resources ?? r;
                    break;
                case "--memory": (r.Memory ??= new()).Limit = long.Parse(args.Value(a)); break;
                case "--memory-swap": (r.Memory ??= new()).Swap = long.Parse(args.Value(a)); break;
                case "--memory-reservation": (r.Memory ??= new()).Reservation = long.Parse(args.Value(a)); break;
                case "--cpu-shares": (r.Cpu ??= new()).Shares = ulong.Parse(args.Value(a)); break;
                case "--cpu-quota": (r.Cpu ??= new()).Quota = long.Parse(args.Value(a)); break;
                case "--cpu-period": (r.Cpu ??= new()).Period = ulong.Parse(args.Value(a)); break;
                case "--cpuset-cpus": (r.Cpu ??= new()).Cpus = args.Value(a); break;
                case "--cpuset-mems": (r.Cpu ??= new()).Mems = args.Value(a); break;
                case "--pids-limit": r.Pids = new OciPids { Limit = long.Parse(args.Value(a)) }; break;
                case "--blkio-weight": r.BlockIO = new OciBlockIo { Weight = ushort.Parse(args.Value(a)) }; break;
                default:
                    if (a.StartsWith('-')) return Fail($"unknown flag {a}");
                    id = a; break;
            }
        }
        if (id is null) return Fail("container id required");
        using var c = LinuxContainer.Load(root, id);
        c.Update(r);
        return 0;
    }

    private static byte[] ReadAllStdin()
    {
        using var stdin = Console.OpenStandardInput();
        using var ms = new MemoryStream();
        stdin.CopyTo(ms);
        return ms.ToArray();
    }

    private static int Ps(string root, Args args)
    {
        string format = "table";
        string? id = null;
        while (args.HasMore)
        {
            string a = args.Next();
            if (Args.Name(a) is "--format" or "-f") format = args.Value(a);
            else if (a.StartsWith('-')) return Fail($"unknown flag {a}");
            else id ??= a;
        }
        if (id is null) return Fail("container id required");
        using var c = LinuxContainer.Load(root, id);
        var pids = c.Pids();
        if (format == "json")
        {
            Console.WriteLine(JsonSerializer.Serialize(pids.ToArray(), CliJsonContext.Default.Int32Array));
            return 0;
        }
        Console.WriteLine("PID\tCMD");
        foreach (int pid in pids)
        {
            string cmd = "";
            try { cmd = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim(); } catch (IOException) { }
            Console.WriteLine($"{pid}\t{cmd}");
        }
        return 0;
    }

    private static int List(string root, Args args)
    {
        string format = "table";
        bool quiet = false;
        while (args.HasMore)
        {
            string a = args.Next();
            if (Args.Name(a) is "--format" or "-f") format = args.Value(a);
            else if (a is "--quiet" or "-q") quiet = true;
            else return Fail($"unknown flag {a}");
        }
        var states = new List<RuncState>();
        foreach (string id in LinuxContainer.List(root))
        {
            try { using var c = LinuxContainer.Load(root, id); states.Add(ToState(c)); }
            catch (Exception e) when (e is IOException or JsonException or ContainerNotFoundException) { }
        }
        if (quiet) { foreach (var s in states) Console.WriteLine(s.Id); return 0; }
        if (format == "json") { Console.WriteLine(JsonSerializer.Serialize(states, CliJsonContext.Default.ListRuncState)); return 0; }
        Console.WriteLine("ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER");
        foreach (var s in states) Console.WriteLine($"{s.Id}\t{s.Pid}\t{s.Status}\t{s.Bundle}\t{s.Created:O}\troot");
        return 0;
    }
}

/// <summary>The state document runc prints for <c>state</c> and <c>list --format json</c>.</summary>
internal sealed class RuncState
{
    public string OciVersion { get; set; } = "1.0.2";
    public string Id { get; set; } = "";
    public int Pid { get; set; }
    public string Status { get; set; } = "";
    public string Bundle { get; set; } = "";
    public string Rootfs { get; set; } = "";
    public DateTime Created { get; set; }
    public string Owner { get; set; } = "";
    public Dictionary<string, string>? Annotations { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(RuncState))]
[JsonSerializable(typeof(List<RuncState>))]
[JsonSerializable(typeof(int[]))]
internal sealed partial class CliJsonContext : JsonSerializerContext;

/// <summary>A small argv cursor: flags may be given as <c>--flag value</c> or <c>--flag=value</c>.</summary>
internal sealed class Args(string[] argv)
{
    private int _i;
    private string? _inlineValue;

    public bool HasMore => _i < argv.Length;
    public bool PeekFlag() => HasMore && argv[_i].StartsWith('-') && argv[_i].Length > 1;

    public string Next()
    {
        string a = argv[_i++];
        _inlineValue = null;
        int eq = a.IndexOf('=');
        if (a.StartsWith("--", StringComparison.Ordinal) && eq > 0) { _inlineValue = a[(eq + 1)..]; }
        return a;
    }

    public static string Name(string flag) => flag.StartsWith("--", StringComparison.Ordinal) && flag.IndexOf('=') is > 0 and var eq ? flag[..eq] : flag;

    public string Value(string flag)
    {
        if (_inlineValue is not null) { string v = _inlineValue; _inlineValue = null; return v; }
        if (!HasMore) throw new ArgumentException($"flag {flag} needs a value");
        return argv[_i++];
    }

    public IEnumerable<string> Rest()
    {
        while (_i < argv.Length) yield return argv[_i++];
    }
}
