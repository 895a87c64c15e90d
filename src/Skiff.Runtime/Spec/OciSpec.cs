using System.Text.Json;
using System.Text.Json.Serialization;

namespace Skiff.Runtime.Spec;

/// <summary>
/// The subset of the OCI runtime-spec <c>config.json</c> that Docker produces. Property names follow the
/// spec (camelCase, with the spec's own spellings such as <c>containerID</c>); unknown properties are
/// ignored when reading and nulls are omitted when writing, so runc and crun accept what we write.
/// </summary>
public sealed class OciSpec
{
    public string OciVersion { get; set; } = "1.0.2";
    public OciProcess? Process { get; set; }
    public OciRoot? Root { get; set; }
    public string? Hostname { get; set; }
    public string? Domainname { get; set; }
    public List<OciMount>? Mounts { get; set; }
    public Dictionary<string, string>? Annotations { get; set; }
    public OciLinux? Linux { get; set; }

    /// <summary>Reads <c>config.json</c> from <paramref name="bundlePath"/>.</summary>
    public static OciSpec Load(string bundlePath) => Parse(File.ReadAllBytes(Path.Combine(bundlePath, "config.json")));

    /// <summary>Reads <c>config.json</c> from <paramref name="bundlePath"/>, also returning its bytes.</summary>
    public static OciSpec Load(string bundlePath, out byte[] json)
    {
        json = File.ReadAllBytes(Path.Combine(bundlePath, "config.json"));
        return Parse(json);
    }

    /// <summary>Parses a spec (see <see cref="OciSpecReader"/>: no System.Text.Json metadata on the start path).</summary>
    public static OciSpec Parse(ReadOnlySpan<byte> json) => OciSpecReader.Read(json);

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, OciJsonContext.Default.OciSpec);

    /// <summary>Writes <c>config.json</c> into <paramref name="bundlePath"/>.</summary>
    public void Save(string bundlePath) => File.WriteAllBytes(Path.Combine(bundlePath, "config.json"), ToJson());
}

public sealed class OciProcess
{
    public bool Terminal { get; set; }
    /// <summary>Initial window size of the pty in terminal mode (Docker sets it for <c>-t</c>).</summary>
    public OciConsoleSize? ConsoleSize { get; set; }
    public OciUser User { get; set; } = new();
    public List<string> Args { get; set; } = [];
    public List<string>? Env { get; set; }
    public string Cwd { get; set; } = "/";
    public OciCapabilities? Capabilities { get; set; }
    public List<OciRlimit>? Rlimits { get; set; }
    public bool NoNewPrivileges { get; set; }
    public int? OomScoreAdj { get; set; }
    public string? ApparmorProfile { get; set; }
}

public sealed class OciConsoleSize
{
    public uint Height { get; set; }
    public uint Width { get; set; }
}

public sealed class OciUser
{
    public uint Uid { get; set; }
    public uint Gid { get; set; }
    public uint? Umask { get; set; }
    public List<uint>? AdditionalGids { get; set; }
}

public sealed class OciCapabilities
{
    public List<string>? Bounding { get; set; }
    public List<string>? Effective { get; set; }
    public List<string>? Permitted { get; set; }
    public List<string>? Inheritable { get; set; }
    public List<string>? Ambient { get; set; }
}

public sealed class OciRlimit
{
    public string Type { get; set; } = "";
    public ulong Hard { get; set; }
    public ulong Soft { get; set; }
}

public sealed class OciRoot
{
    public string Path { get; set; } = "rootfs";
    public bool Readonly { get; set; }
}

public sealed class OciMount
{
    public string Destination { get; set; } = "";
    public string? Type { get; set; }
    public string? Source { get; set; }
    public List<string>? Options { get; set; }
}

public sealed class OciLinux
{
    public List<OciNamespace>? Namespaces { get; set; }
    public List<OciIdMapping>? UidMappings { get; set; }
    public List<OciIdMapping>? GidMappings { get; set; }
    public List<OciDevice>? Devices { get; set; }
    public string? CgroupsPath { get; set; }
    public OciResources? Resources { get; set; }
    public Dictionary<string, string>? Sysctl { get; set; }
    public List<string>? MaskedPaths { get; set; }
    public List<string>? ReadonlyPaths { get; set; }
    public OciSeccomp? Seccomp { get; set; }
    public string? RootfsPropagation { get; set; }
}

public sealed class OciNamespace
{
    /// <summary>pid, network, mount, ipc, uts, user or cgroup.</summary>
    public string Type { get; set; } = "";
    /// <summary>When set, the container joins this namespace instead of creating one.</summary>
    public string? Path { get; set; }
}

public sealed class OciIdMapping
{
    [JsonPropertyName("containerID")] public uint ContainerId { get; set; }
    [JsonPropertyName("hostID")] public uint HostId { get; set; }
    public uint Size { get; set; }
}

public sealed class OciDevice
{
    public string Path { get; set; } = "";
    /// <summary>c, b, u or p.</summary>
    public string Type { get; set; } = "c";
    public long Major { get; set; }
    public long Minor { get; set; }
    public uint? FileMode { get; set; }
    public uint? Uid { get; set; }
    public uint? Gid { get; set; }
}

public sealed class OciResources
{
    public List<OciDeviceRule>? Devices { get; set; }
    public OciMemory? Memory { get; set; }
    public OciCpu? Cpu { get; set; }
    public OciPids? Pids { get; set; }
    [JsonPropertyName("blockIO")] public OciBlockIo? BlockIO { get; set; }
}

public sealed class OciDeviceRule
{
    public bool Allow { get; set; }
    /// <summary>a (all), c or b; null means all.</summary>
    public string? Type { get; set; }
    /// <summary>null means any (<c>*</c>).</summary>
    public long? Major { get; set; }
    public long? Minor { get; set; }
    public string? Access { get; set; }
}

public sealed class OciMemory
{
    public long? Limit { get; set; }
    public long? Reservation { get; set; }
    /// <summary>Memory plus swap, as in runc (-1: unlimited).</summary>
    public long? Swap { get; set; }
    public ulong? Swappiness { get; set; }
    public bool? DisableOOMKiller { get; set; }
}

public sealed class OciCpu
{
    public ulong? Shares { get; set; }
    public long? Quota { get; set; }
    public ulong? Period { get; set; }
    public string? Cpus { get; set; }
    public string? Mems { get; set; }
}

public sealed class OciPids
{
    public long Limit { get; set; }
}

public sealed class OciBlockIo
{
    public ushort? Weight { get; set; }
}

public sealed class OciSeccomp
{
    public string DefaultAction { get; set; } = "SCMP_ACT_ALLOW";
    public uint? DefaultErrnoRet { get; set; }
    public List<string>? Architectures { get; set; }
    public List<string>? Flags { get; set; }
    public List<OciSyscall>? Syscalls { get; set; }
}

public sealed class OciSyscall
{
    public List<string> Names { get; set; } = [];
    public string Action { get; set; } = "SCMP_ACT_ALLOW";
    public uint? ErrnoRet { get; set; }
    public List<OciSyscallArg>? Args { get; set; }
}

public sealed class OciSyscallArg
{
    public uint Index { get; set; }
    public ulong Value { get; set; }
    public ulong ValueTwo { get; set; }
    /// <summary>SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT or _MASKED_EQ.</summary>
    public string Op { get; set; } = "SCMP_CMP_EQ";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = false)]
[JsonSerializable(typeof(OciSpec))]
public sealed partial class OciJsonContext : JsonSerializerContext;
