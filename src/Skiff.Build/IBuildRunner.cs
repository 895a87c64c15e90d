namespace Skiff.Build;

/// <summary>What a RUN step asks the engine to run.</summary>
public sealed class BuildRunRequest
{
    /// <summary>A short unique name for the step's container (shown as "Running in &lt;id&gt;").</summary>
    public required string Id { get; init; }
    /// <summary>The read-only layer directories of the step's parent image, topmost first (may be empty for scratch).</summary>
    public required IReadOnlyList<string> LowerDirs { get; init; }
    /// <summary>An empty directory that receives the step's changes (the overlay upper dir) and its overlay work dir.</summary>
    public required string UpperDir { get; init; }
    public required string WorkDir { get; init; }
    /// <summary>The full command line (already wrapped in the SHELL for the shell form).</summary>
    public required IReadOnlyList<string> Args { get; init; }
    public required IReadOnlyList<string> Env { get; init; }
    /// <summary>Docker's user syntax (<c>name</c>, <c>uid:gid</c>, ...) resolved inside the container; "" is root.</summary>
    public string User { get; init; } = "";
    public string WorkingDir { get; init; } = "/";
    /// <summary>RUN <c>--network</c>: "default", "none" or "host".</summary>
    public string Network { get; init; } = "default";
    /// <summary><c>--add-host</c>: <c>host:ip</c> entries appended to the step's /etc/hosts.</summary>
    public IReadOnlyList<string> ExtraHosts { get; init; } = [];
    /// <summary>RUN <c>--mount</c>s, resolved to host directories/files (bind) or tmpfs, mounted in this order.</summary>
    public IReadOnlyList<BuildMount> Mounts { get; init; } = [];
}

/// <summary>A mount of a RUN step: a bind of <see cref="Source"/> (a host path the builder prepared) or a tmpfs.</summary>
/// <param name="Type">"bind" or "tmpfs".</param>
/// <param name="Destination">Absolute path in the container.</param>
/// <param name="TmpfsSize">tmpfs size in bytes (null: the kernel's default).</param>
public sealed record BuildMount(string Type, string Source, string Destination, bool ReadOnly, long? TmpfsSize = null);

/// <summary>
/// Runs the command of a RUN step in a container whose root filesystem is an overlay of <see cref="BuildRunRequest.LowerDirs"/>
/// under <see cref="BuildRunRequest.UpperDir"/>. The engine implements it with its runtime (Docker's default spec: namespaces,
/// capabilities, seccomp, masked paths, and whatever network it gives containers); the builder turns the upper dir into the
/// step's layer afterwards. Mount points the runtime creates (<c>/etc/hosts</c>, <c>/proc</c>, ...) must not end up in the
/// upper dir: the implementation adds them below it.
/// </summary>
public interface IBuildRunner
{
    /// <summary>Runs the command to completion; its stdout and stderr go to <paramref name="output"/> as they come. Returns the exit code.</summary>
    Task<int> RunAsync(BuildRunRequest request, Action<ReadOnlyMemory<byte>> output, CancellationToken ct);
}

/// <summary>Finds base images the store does not have (a registry pull); null when the engine cannot.</summary>
public interface IBaseImageSource
{
    /// <summary>Makes <paramref name="reference"/> available in the image store (pulling it) and returns its image ID.</summary>
    Task<string> PullAsync(string reference, string? platform, Action<string> progress, CancellationToken ct);
}
