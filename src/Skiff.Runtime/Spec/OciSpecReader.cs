using System.Text.Json;

namespace Skiff.Runtime.Spec;

/// <summary>
/// Reads <c>config.json</c> with <see cref="Utf8JsonReader"/> into the <see cref="OciSpec"/> model. Every
/// container start reads the spec in a fresh process, and System.Text.Json's first deserialization there
/// costs about 1.9 ms of CPU building its type metadata (measured with perf stat on a 5 KB spec), a sixth
/// of a whole <c>skiff-runtime run</c>; this reader costs a few microseconds. It keeps System.Text.Json's
/// rules for the model: property names are case-sensitive, unknown properties are skipped, null is
/// accepted only where the model is nullable, numbers must be JSON numbers in range.
/// </summary>
internal static class OciSpecReader
{
    /// <exception cref="JsonException">Malformed JSON or a value of the wrong type or range.</exception>
    public static OciSpec Read(ReadOnlySpan<byte> json)
    {
        try { return ReadSpec(json); }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new JsonException($"config.json: {e.Message}", e);
        }
    }

    private static OciSpec ReadSpec(ReadOnlySpan<byte> json)
    {
        var r = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        r.Read();
        if (r.TokenType == JsonTokenType.Null) throw new InvalidDataException("config.json is null");
        var spec = new OciSpec();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "ociVersion": spec.OciVersion = String(ref r) ?? throw Null(name); break;
                case "process": spec.Process = Object(ref r, Process); break;
                case "root": spec.Root = Object(ref r, Root); break;
                case "hostname": spec.Hostname = String(ref r); break;
                case "domainname": spec.Domainname = String(ref r); break;
                case "mounts": spec.Mounts = List(ref r, Mount); break;
                case "annotations": spec.Annotations = Map(ref r); break;
                case "linux": spec.Linux = Object(ref r, Linux); break;
                default: r.Skip(); break;
            }
        });
        if (r.Read()) throw new JsonException("config.json has data after its top-level object");
        return spec;
    }

    private delegate void PropertyHandler(ref Utf8JsonReader r, string name);
    private delegate T ItemReader<T>(ref Utf8JsonReader r);

    /// <summary>With the reader on StartObject: calls <paramref name="handler"/> with the reader on each value; ends on EndObject.</summary>
    private static void ForEachProperty(ref Utf8JsonReader r, PropertyHandler handler)
    {
        if (r.TokenType != JsonTokenType.StartObject) throw new JsonException($"expected an object, got {r.TokenType}");
        while (r.Read() && r.TokenType != JsonTokenType.EndObject)
        {
            string name = r.GetString()!;
            r.Read();
            handler(ref r, name);
        }
    }

    private static JsonException Null(string name) => new($"\"{name}\" must not be null");

    private static T? Object<T>(ref Utf8JsonReader r, ItemReader<T> read) where T : class =>
        r.TokenType == JsonTokenType.Null ? null : read(ref r);

    private static List<T>? List<T>(ref Utf8JsonReader r, ItemReader<T> read)
    {
        if (r.TokenType == JsonTokenType.Null) return null;
        if (r.TokenType != JsonTokenType.StartArray) throw new JsonException($"expected an array, got {r.TokenType}");
        var list = new List<T>();
        while (r.Read() && r.TokenType != JsonTokenType.EndArray) list.Add(read(ref r));
        return list;
    }

    private static List<string>? Strings(ref Utf8JsonReader r) => List(ref r, (ref Utf8JsonReader r) => String(ref r) ?? throw Null("item"));

    private static Dictionary<string, string>? Map(ref Utf8JsonReader r)
    {
        if (r.TokenType == JsonTokenType.Null) return null;
        var map = new Dictionary<string, string>();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) => map[name] = String(ref r) ?? throw Null(name));
        return map;
    }

    private static string? String(ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Null ? null : r.GetString();

    private static bool Bool(ref Utf8JsonReader r) => r.GetBoolean();
    private static bool? NBool(ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Null ? null : r.GetBoolean();
    private static uint UInt(ref Utf8JsonReader r) => r.GetUInt32();
    private static uint? NUInt(ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Null ? null : r.GetUInt32();
    private static int? NInt(ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Null ? null : r.GetInt32();
    private static long Long(ref Utf8JsonReader r) => r.GetInt64();
    private static long? NLong(ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Null ? null : r.GetInt64();
    private static ulong ULong(ref Utf8JsonReader r) => r.GetUInt64();
    private static ulong? NULong(ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Null ? null : r.GetUInt64();

    private static OciProcess Process(ref Utf8JsonReader r)
    {
        var p = new OciProcess();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "terminal": p.Terminal = Bool(ref r); break;
                case "consoleSize": p.ConsoleSize = Object(ref r, ConsoleSize); break;
                case "user": p.User = Object(ref r, User) ?? throw Null(name); break;
                case "args": p.Args = Strings(ref r) ?? throw Null(name); break;
                case "env": p.Env = Strings(ref r); break;
                case "cwd": p.Cwd = String(ref r) ?? throw Null(name); break;
                case "capabilities": p.Capabilities = Object(ref r, Capabilities); break;
                case "rlimits": p.Rlimits = List(ref r, Rlimit); break;
                case "noNewPrivileges": p.NoNewPrivileges = Bool(ref r); break;
                case "oomScoreAdj": p.OomScoreAdj = NInt(ref r); break;
                case "apparmorProfile": p.ApparmorProfile = String(ref r); break;
                default: r.Skip(); break;
            }
        });
        return p;
    }

    private static OciConsoleSize ConsoleSize(ref Utf8JsonReader r)
    {
        var s = new OciConsoleSize();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "height": s.Height = UInt(ref r); break;
                case "width": s.Width = UInt(ref r); break;
                default: r.Skip(); break;
            }
        });
        return s;
    }

    private static OciUser User(ref Utf8JsonReader r)
    {
        var u = new OciUser();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "uid": u.Uid = UInt(ref r); break;
                case "gid": u.Gid = UInt(ref r); break;
                case "umask": u.Umask = NUInt(ref r); break;
                case "additionalGids": u.AdditionalGids = List(ref r, UInt); break;
                default: r.Skip(); break;
            }
        });
        return u;
    }

    private static OciCapabilities Capabilities(ref Utf8JsonReader r)
    {
        var c = new OciCapabilities();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "bounding": c.Bounding = Strings(ref r); break;
                case "effective": c.Effective = Strings(ref r); break;
                case "permitted": c.Permitted = Strings(ref r); break;
                case "inheritable": c.Inheritable = Strings(ref r); break;
                case "ambient": c.Ambient = Strings(ref r); break;
                default: r.Skip(); break;
            }
        });
        return c;
    }

    private static OciRlimit Rlimit(ref Utf8JsonReader r)
    {
        var l = new OciRlimit();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "type": l.Type = String(ref r) ?? throw Null(name); break;
                case "hard": l.Hard = ULong(ref r); break;
                case "soft": l.Soft = ULong(ref r); break;
                default: r.Skip(); break;
            }
        });
        return l;
    }

    private static OciRoot Root(ref Utf8JsonReader r)
    {
        var root = new OciRoot();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "path": root.Path = String(ref r) ?? throw Null(name); break;
                case "readonly": root.Readonly = Bool(ref r); break;
                default: r.Skip(); break;
            }
        });
        return root;
    }

    private static OciMount Mount(ref Utf8JsonReader r)
    {
        var m = new OciMount();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "destination": m.Destination = String(ref r) ?? throw Null(name); break;
                case "type": m.Type = String(ref r); break;
                case "source": m.Source = String(ref r); break;
                case "options": m.Options = Strings(ref r); break;
                default: r.Skip(); break;
            }
        });
        return m;
    }

    private static OciLinux Linux(ref Utf8JsonReader r)
    {
        var l = new OciLinux();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "namespaces": l.Namespaces = List(ref r, Namespace); break;
                case "uidMappings": l.UidMappings = List(ref r, IdMapping); break;
                case "gidMappings": l.GidMappings = List(ref r, IdMapping); break;
                case "devices": l.Devices = List(ref r, Device); break;
                case "cgroupsPath": l.CgroupsPath = String(ref r); break;
                case "resources": l.Resources = Object(ref r, Resources); break;
                case "sysctl": l.Sysctl = Map(ref r); break;
                case "maskedPaths": l.MaskedPaths = Strings(ref r); break;
                case "readonlyPaths": l.ReadonlyPaths = Strings(ref r); break;
                case "seccomp": l.Seccomp = Object(ref r, Seccomp); break;
                case "rootfsPropagation": l.RootfsPropagation = String(ref r); break;
                default: r.Skip(); break;
            }
        });
        return l;
    }

    private static OciNamespace Namespace(ref Utf8JsonReader r)
    {
        var n = new OciNamespace();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "type": n.Type = String(ref r) ?? throw Null(name); break;
                case "path": n.Path = String(ref r); break;
                default: r.Skip(); break;
            }
        });
        return n;
    }

    private static OciIdMapping IdMapping(ref Utf8JsonReader r)
    {
        var m = new OciIdMapping();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "containerID": m.ContainerId = UInt(ref r); break;
                case "hostID": m.HostId = UInt(ref r); break;
                case "size": m.Size = UInt(ref r); break;
                default: r.Skip(); break;
            }
        });
        return m;
    }

    private static OciDevice Device(ref Utf8JsonReader r)
    {
        var d = new OciDevice();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "path": d.Path = String(ref r) ?? throw Null(name); break;
                case "type": d.Type = String(ref r) ?? throw Null(name); break;
                case "major": d.Major = Long(ref r); break;
                case "minor": d.Minor = Long(ref r); break;
                case "fileMode": d.FileMode = NUInt(ref r); break;
                case "uid": d.Uid = NUInt(ref r); break;
                case "gid": d.Gid = NUInt(ref r); break;
                default: r.Skip(); break;
            }
        });
        return d;
    }

    private static OciResources Resources(ref Utf8JsonReader r)
    {
        var res = new OciResources();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "devices": res.Devices = List(ref r, DeviceRule); break;
                case "memory": res.Memory = Object(ref r, Memory); break;
                case "cpu": res.Cpu = Object(ref r, Cpu); break;
                case "pids": res.Pids = Object(ref r, Pids); break;
                case "blockIO": res.BlockIO = Object(ref r, BlockIo); break;
                default: r.Skip(); break;
            }
        });
        return res;
    }

    private static OciDeviceRule DeviceRule(ref Utf8JsonReader r)
    {
        var d = new OciDeviceRule();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "allow": d.Allow = Bool(ref r); break;
                case "type": d.Type = String(ref r); break;
                case "major": d.Major = NLong(ref r); break;
                case "minor": d.Minor = NLong(ref r); break;
                case "access": d.Access = String(ref r); break;
                default: r.Skip(); break;
            }
        });
        return d;
    }

    private static OciMemory Memory(ref Utf8JsonReader r)
    {
        var m = new OciMemory();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "limit": m.Limit = NLong(ref r); break;
                case "reservation": m.Reservation = NLong(ref r); break;
                case "swap": m.Swap = NLong(ref r); break;
                case "swappiness": m.Swappiness = NULong(ref r); break;
                case "disableOOMKiller": m.DisableOOMKiller = NBool(ref r); break;
                default: r.Skip(); break;
            }
        });
        return m;
    }

    private static OciCpu Cpu(ref Utf8JsonReader r)
    {
        var c = new OciCpu();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "shares": c.Shares = NULong(ref r); break;
                case "quota": c.Quota = NLong(ref r); break;
                case "period": c.Period = NULong(ref r); break;
                case "cpus": c.Cpus = String(ref r); break;
                case "mems": c.Mems = String(ref r); break;
                default: r.Skip(); break;
            }
        });
        return c;
    }

    private static OciPids Pids(ref Utf8JsonReader r)
    {
        var p = new OciPids();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            if (name == "limit") p.Limit = Long(ref r);
            else r.Skip();
        });
        return p;
    }

    private static OciBlockIo BlockIo(ref Utf8JsonReader r)
    {
        var b = new OciBlockIo();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            if (name == "weight") b.Weight = r.TokenType == JsonTokenType.Null ? null : r.GetUInt16();
            else r.Skip();
        });
        return b;
    }

    private static OciSeccomp Seccomp(ref Utf8JsonReader r)
    {
        var s = new OciSeccomp();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "defaultAction": s.DefaultAction = String(ref r) ?? throw Null(name); break;
                case "defaultErrnoRet": s.DefaultErrnoRet = NUInt(ref r); break;
                case "architectures": s.Architectures = Strings(ref r); break;
                case "flags": s.Flags = Strings(ref r); break;
                case "syscalls": s.Syscalls = List(ref r, Syscall); break;
                default: r.Skip(); break;
            }
        });
        return s;
    }

    private static OciSyscall Syscall(ref Utf8JsonReader r)
    {
        var s = new OciSyscall();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "names": s.Names = Strings(ref r) ?? throw Null(name); break;
                case "action": s.Action = String(ref r) ?? throw Null(name); break;
                case "errnoRet": s.ErrnoRet = NUInt(ref r); break;
                case "args": s.Args = List(ref r, SyscallArg); break;
                default: r.Skip(); break;
            }
        });
        return s;
    }

    private static OciSyscallArg SyscallArg(ref Utf8JsonReader r)
    {
        var a = new OciSyscallArg();
        ForEachProperty(ref r, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "index": a.Index = UInt(ref r); break;
                case "value": a.Value = ULong(ref r); break;
                case "valueTwo": a.ValueTwo = ULong(ref r); break;
                case "op": a.Op = String(ref r) ?? throw Null(name); break;
                default: r.Skip(); break;
            }
        });
        return a;
    }
}
