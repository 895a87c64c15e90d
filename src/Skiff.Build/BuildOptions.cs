namespace Skiff.Build;

/// <summary>What <c>docker build</c> asks for (the query of <c>POST /build</c>).</summary>
public sealed class BuildOptions
{
    /// <summary>Path of the Dockerfile inside the context.</summary>
    public string Dockerfile { get; init; } = "Dockerfile";
    /// <summary>Names to tag the result with (<c>-t</c>, several allowed).</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];
    /// <summary><c>--build-arg</c>: a null value means "take it from the client's environment", which the client already did, so unset.</summary>
    public IReadOnlyDictionary<string, string?> BuildArgs { get; init; } = new Dictionary<string, string?>();
    /// <summary><c>--label</c>: added to the final image.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    /// <summary><c>--target</c>: the stage to stop at (default: the last).</summary>
    public string? Target { get; init; }
    public bool NoCache { get; init; }
    /// <summary><c>--pull</c>: always ask the base image source for a newer base image.</summary>
    public bool Pull { get; init; }
    /// <summary><c>-q</c>: only the image ID is printed (by the client); step output is suppressed.</summary>
    public bool Quiet { get; init; }
    /// <summary><c>skiff build --secret id=...,src=...</c>: secret contents by id, for <c>RUN --mount=type=secret</c> (never stored in an image or the cache).</summary>
    public IReadOnlyDictionary<string, byte[]> Secrets { get; init; } = new Dictionary<string, byte[]>();
    /// <summary><c>--platform</c>: the target platform (null: the engine's); the default for FROM without <c>--platform</c>.</summary>
    public string? Platform { get; init; }
    /// <summary><c>--network</c>: the network RUN steps get unless they say <c>RUN --network</c> ("default", "host", "none").</summary>
    public string Network { get; init; } = "default";
    /// <summary><c>--add-host host:ip</c>: extra lines of RUN steps' /etc/hosts.</summary>
    public IReadOnlyList<string> ExtraHosts { get; init; } = [];
    /// <summary><c>skiff build --ssh</c>: the client's SSH agents, reached through its build session (null: none forwarded).</summary>
    public Session.ISshAgentSource? Ssh { get; init; }
}

/// <summary>The outcome of a build.</summary>
public sealed record BuildResult(string ImageId, IReadOnlyList<string> Tags);

/// <summary>Where a build reports progress: text lines as Docker's classic builder prints them, and the final image ID.</summary>
public interface IBuildProgress
{
    /// <summary>A piece of output text (Docker's <c>{"stream": ...}</c>).</summary>
    void Stream(string text);
    /// <summary>The built image (Docker's <c>{"aux":{"ID": ...}}</c>).</summary>
    void ImageId(string id);
}
