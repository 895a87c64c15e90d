using System.Text;
using Skiff.Runtime.Spec;

namespace Skiff.Runtime.Init;

/// <summary>
/// A compact binary encoding of <see cref="InitConfig"/> for the sync socket. The init is on the critical
/// path of every container start and System.Text.Json's first deserialization in a fresh process costs
/// about 2 ms of metadata setup, so the init reads this instead. It carries only what the init uses
/// (cgroup limits stay with the parent). Both ends are the same binary, so there is no versioning.
/// </summary>
internal static class InitConfigCodec
{
    public static byte[] Encode(InitConfig c)
    {
        using var ms = new MemoryStream(4096);
        using var w = new BinaryWriter(ms, Encoding.UTF8);
        w.Write(c.Mode);
        Str(w, c.BundlePath);
        Str(w, c.FifoPath);
        Dict(w, c.CgroupDirs);
        w.Write(c.CgroupV2);
        w.Write(c.NamespacePid);
        Str(w, c.User);
        w.Write(c.SeccompFilter?.Length ?? -1);
        if (c.SeccompFilter is { } f) w.Write(f);

        OciSpec s = c.Spec;
        Str(w, s.Hostname);
        Str(w, s.Domainname);
        w.Write(s.Root is not null);
        if (s.Root is { } root) { w.Write(root.Path); w.Write(root.Readonly); }
        Dict(w, s.Annotations);
        List(w, s.Mounts, (w, m) => { w.Write(m.Destination); Str(w, m.Type); Str(w, m.Source); Strings(w, m.Options); });

        w.Write(s.Process is not null);
        if (s.Process is { } p)
        {
            w.Write(p.Terminal);
            w.Write(p.ConsoleSize?.Height ?? 0);
            w.Write(p.ConsoleSize?.Width ?? 0);
            w.Write(p.User.Uid);
            w.Write(p.User.Gid);
            w.Write(p.User.Umask ?? uint.MaxValue);
            List(w, p.User.AdditionalGids, (w, g) => w.Write(g));
            Strings(w, p.Args);
            Strings(w, p.Env);
            w.Write(p.Cwd);
            w.Write(p.Capabilities is not null);
            if (p.Capabilities is { } caps)
                foreach (var set in new[] { caps.Bounding, caps.Effective, caps.Permitted, caps.Inheritable, caps.Ambient }) Strings(w, set);
            List(w, p.Rlimits, (w, r) => { w.Write(r.Type); w.Write(r.Hard); w.Write(r.Soft); });
            w.Write(p.NoNewPrivileges);
            w.Write(p.OomScoreAdj.HasValue);
            w.Write(p.OomScoreAdj ?? 0);
        }

        w.Write(s.Linux is not null);
        if (s.Linux is { } l)
        {
            List(w, l.Namespaces, (w, n) => { w.Write(n.Type); Str(w, n.Path); });
            List(w, l.Devices, (w, d) =>
            {
                w.Write(d.Path); w.Write(d.Type); w.Write(d.Major); w.Write(d.Minor);
                w.Write(d.FileMode ?? uint.MaxValue); w.Write(d.Uid ?? uint.MaxValue); w.Write(d.Gid ?? uint.MaxValue);
            });
            Dict(w, l.Sysctl);
            Strings(w, l.MaskedPaths);
            Strings(w, l.ReadonlyPaths);
            Str(w, l.RootfsPropagation);
        }
        w.Flush();
        return ms.ToArray();
    }

    public static InitConfig Decode(byte[] data)
    {
        using var r = new BinaryReader(new MemoryStream(data), Encoding.UTF8);
        var c = new InitConfig
        {
            Mode = r.ReadString(), BundlePath = Str(r) ?? "", FifoPath = Str(r), CgroupDirs = Dict(r),
            CgroupV2 = r.ReadBoolean(), NamespacePid = r.ReadInt32(), User = Str(r),
        };
        int filterLength = r.ReadInt32();
        if (filterLength >= 0) c.SeccompFilter = r.ReadBytes(filterLength);

        var s = new OciSpec { Hostname = Str(r), Domainname = Str(r) };
        if (r.ReadBoolean()) s.Root = new OciRoot { Path = r.ReadString(), Readonly = r.ReadBoolean() };
        s.Annotations = Dict(r);
        s.Mounts = List(r, r => new OciMount { Destination = r.ReadString(), Type = Str(r), Source = Str(r), Options = Strings(r) });

        if (r.ReadBoolean())
        {
            var p = new OciProcess { Terminal = r.ReadBoolean() };
            uint height = r.ReadUInt32(), width = r.ReadUInt32();
            if (height > 0 || width > 0) p.ConsoleSize = new OciConsoleSize { Height = height, Width = width };
            p.User = new OciUser { Uid = r.ReadUInt32(), Gid = r.ReadUInt32() };
            uint umask = r.ReadUInt32();
            if (umask != uint.MaxValue) p.User.Umask = umask;
            p.User.AdditionalGids = List(r, r => r.ReadUInt32());
            p.Args = Strings(r) ?? [];
            p.Env = Strings(r);
            p.Cwd = r.ReadString();
            if (r.ReadBoolean())
                p.Capabilities = new OciCapabilities
                {
                    Bounding = Strings(r), Effective = Strings(r), Permitted = Strings(r), Inheritable = Strings(r), Ambient = Strings(r),
                };
            p.Rlimits = List(r, r => new OciRlimit { Type = r.ReadString(), Hard = r.ReadUInt64(), Soft = r.ReadUInt64() });
            p.NoNewPrivileges = r.ReadBoolean();
            bool hasOom = r.ReadBoolean();
            int oom = r.ReadInt32();
            if (hasOom) p.OomScoreAdj = oom;
            s.Process = p;
        }

        if (r.ReadBoolean())
        {
            s.Linux = new OciLinux
            {
                Namespaces = List(r, r => new OciNamespace { Type = r.ReadString(), Path = Str(r) }),
                Devices = List(r, r =>
                {
                    var d = new OciDevice { Path = r.ReadString(), Type = r.ReadString(), Major = r.ReadInt64(), Minor = r.ReadInt64() };
                    uint mode = r.ReadUInt32(), uid = r.ReadUInt32(), gid = r.ReadUInt32();
                    if (mode != uint.MaxValue) d.FileMode = mode;
                    if (uid != uint.MaxValue) d.Uid = uid;
                    if (gid != uint.MaxValue) d.Gid = gid;
                    return d;
                }),
                Sysctl = Dict(r),
                MaskedPaths = Strings(r),
                ReadonlyPaths = Strings(r),
                RootfsPropagation = Str(r),
            };
        }
        c.Spec = s;
        return c;
    }

    private static void Str(BinaryWriter w, string? s)
    {
        w.Write(s is not null);
        if (s is not null) w.Write(s);
    }

    private static string? Str(BinaryReader r) => r.ReadBoolean() ? r.ReadString() : null;

    private static void Strings(BinaryWriter w, List<string>? list) => List(w, list, (w, s) => w.Write(s));

    private static List<string>? Strings(BinaryReader r) => List(r, r => r.ReadString());

    private static void List<T>(BinaryWriter w, List<T>? list, Action<BinaryWriter, T> item)
    {
        w.Write(list?.Count ?? -1);
        foreach (T x in list ?? []) item(w, x);
    }

    private static List<T>? List<T>(BinaryReader r, Func<BinaryReader, T> item)
    {
        int n = r.ReadInt32();
        if (n < 0) return null;
        var list = new List<T>(n);
        for (int i = 0; i < n; i++) list.Add(item(r));
        return list;
    }

    private static void Dict(BinaryWriter w, Dictionary<string, string>? d)
    {
        w.Write(d?.Count ?? -1);
        foreach (var (k, v) in d ?? []) { w.Write(k); w.Write(v); }
    }

    private static Dictionary<string, string>? Dict(BinaryReader r)
    {
        int n = r.ReadInt32();
        if (n < 0) return null;
        var d = new Dictionary<string, string>(n);
        for (int i = 0; i < n; i++) d[r.ReadString()] = r.ReadString();
        return d;
    }
}
