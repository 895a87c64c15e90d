using System.Runtime.InteropServices;

namespace Skiff.Build;

/// <summary>
/// An <c>os/arch[/variant]</c> platform as builds use it: <c>--platform</c>, <c>FROM --platform</c> and BuildKit's automatic
/// platform arguments (<c>TARGETPLATFORM</c>, <c>TARGETOS</c>, <c>TARGETARCH</c>, <c>TARGETVARIANT</c> and the same for
/// <c>BUILD*</c>), which every Dockerfile may use in FROM lines and, once declared with <c>ARG NAME</c>, in a stage.
/// </summary>
public sealed record BuildPlatform(string Os, string Arch, string Variant)
{
    /// <summary>The engine's own platform (linux on this process's architecture; arm64 carries variant v8 as BuildKit reports it).</summary>
    public static BuildPlatform Host { get; } = RuntimeInformation.OSArchitecture switch
    {
        Architecture.Arm64 => new("linux", "arm64", "v8"),
        Architecture.Arm => new("linux", "arm", "v7"),
        Architecture.X86 => new("linux", "386", ""),
        Architecture.S390x => new("linux", "s390x", ""),
        Architecture.Ppc64le => new("linux", "ppc64le", ""),
        Architecture.RiscV64 => new("linux", "riscv64", ""),
        _ => new("linux", "amd64", ""),
    };

    public override string ToString() => Os + "/" + Arch + (Variant.Length > 0 ? "/" + Variant : "");

    /// <summary>Normalises <c>os[/arch[/variant]]</c> as containerd's platform parser does (x86_64 = amd64, aarch64 = arm64).</summary>
    /// <exception cref="BuildException">Not a platform.</exception>
    public static BuildPlatform Parse(string text)
    {
        var parts = text.Trim().ToLowerInvariant().Split('/');
        if (parts.Length > 3 || parts.Any(p => p.Length == 0))
            throw new BuildException($"\"{text}\": unknown operating system or architecture: invalid argument");
        string arch = parts.Length > 1 ? parts[1] switch { "x86_64" or "x86-64" => "amd64", "aarch64" => "arm64", "armhf" => "arm", var a => a } : Host.Arch;
        string variant = parts.Length > 2 ? parts[2] : arch == Host.Arch ? Host.Variant : arch == "arm64" ? "v8" : arch == "arm" ? "v7" : "";
        if (arch == "amd64" && variant == "v1") variant = "";
        return new BuildPlatform(parts[0], arch, variant);
    }

    /// <summary>The automatic arguments for a build targeting <paramref name="target"/> on <see cref="Host"/>.</summary>
    public static IEnumerable<KeyValuePair<string, string>> AutomaticArgs(BuildPlatform target)
    {
        foreach (var (prefix, p) in new[] { ("TARGET", target), ("BUILD", Host) })
        {
            yield return new(prefix + "PLATFORM", p.ToString());
            yield return new(prefix + "OS", p.Os);
            yield return new(prefix + "ARCH", p.Arch);
            yield return new(prefix + "VARIANT", p.Variant);
        }
    }
}
