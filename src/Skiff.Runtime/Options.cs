using Microsoft.Win32.SafeHandles;
using Skiff.Cgroups;
using Skiff.Runtime.Spec;

namespace Skiff.Runtime;

/// <summary>Three file descriptors that become a process's stdin, stdout and stderr. The caller keeps ownership.</summary>
public readonly record struct StdioFds(int In, int Out, int Err);

/// <summary>Input of <see cref="LinuxContainer.Create"/>.</summary>
public sealed class CreateOptions
{
    /// <summary>Container id: letters, digits, '_', '-', '.'; unique under <see cref="StateRoot"/>.</summary>
    public required string Id { get; init; }
    /// <summary>The OCI bundle directory; relative <c>root.path</c> and bind sources resolve against it.</summary>
    public required string BundlePath { get; init; }
    /// <summary>The parsed spec; null reads <c>BundlePath/config.json</c>.</summary>
    public OciSpec? Spec { get; init; }
    /// <summary>
    /// The bytes <see cref="Spec"/> was parsed from, if the caller has them: kept as the state directory's copy of
    /// the spec instead of serialising it again (System.Text.Json's first use in a process costs milliseconds).
    /// Not used when <see cref="Terminal"/> changes the spec. Without <see cref="Spec"/>, Create reads both from the bundle.
    /// </summary>
    public byte[]? SpecJson { get; init; }
    /// <summary>Directory holding one state directory per container (the CLI uses <c>/run/skiff-runtime</c>).</summary>
    public required string StateRoot { get; init; }
    /// <summary>
    /// The init's stdio. Null inherits this process's 0/1/2. Ignored in terminal mode, where the pty slave
    /// becomes the init's stdio and <see cref="LinuxContainer.ConsoleMaster"/> returns the master.
    /// </summary>
    public StdioFds? Stdio { get; init; }
    /// <summary>Terminal mode; null follows <c>process.terminal</c>.</summary>
    public bool? Terminal { get; init; }
    /// <summary>The skiff-runtime binary that runs the <c>init</c> stage; null is <see cref="Environment.ProcessPath"/>.</summary>
    public string? InitPath { get; init; }
    /// <summary>The cgroup layout; null detects the host's.</summary>
    public CgroupHierarchy? Cgroups { get; init; }
}

/// <summary>Input of <see cref="LinuxContainer.Exec"/>; null fields take the container's process values.</summary>
public sealed class ExecOptions
{
    public required IReadOnlyList<string> Args { get; init; }
    public IReadOnlyList<string>? Env { get; init; }
    public string? Cwd { get; init; }
    /// <summary>Docker's <c>-u</c> syntax (<c>name</c>, <c>name:group</c>, <c>uid</c>, <c>uid:gid</c>), resolved inside the container.</summary>
    public string? User { get; init; }
    /// <summary>Create a pty in the container's devpts; the master comes back in <see cref="ExecProcess.ConsoleMaster"/>.</summary>
    public bool Terminal { get; init; }
    /// <summary>Initial pty size in terminal mode.</summary>
    public OciConsoleSize? ConsoleSize { get; init; }
    /// <summary>Null inherits this process's 0/1/2; ignored in terminal mode.</summary>
    public StdioFds? Stdio { get; init; }
    /// <summary>Capabilities for the process (all of bounding/effective/permitted); null keeps the container's.</summary>
    public IReadOnlyList<string>? Capabilities { get; init; }
    public bool? NoNewPrivileges { get; init; }
    public string? InitPath { get; init; }
}

/// <summary>A process started by <see cref="LinuxContainer.Exec"/>: a child of the caller, to be reaped with waitpid.</summary>
public sealed class ExecProcess
{
    public required int Pid { get; init; }
    /// <summary>The pty master in terminal mode, else null. The caller owns it.</summary>
    public SafeFileHandle? ConsoleMaster { get; init; }
}

/// <summary>Resource usage of a container, from its cgroup.</summary>
public sealed record ContainerStats(CgroupStats Cgroup, bool OomKilled);
