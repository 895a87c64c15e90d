namespace Skiff.Daemon;

/// <summary>What a container takes from its image's config.</summary>
public sealed class ImageDefaults
{
    public string Id { get; init; } = "";
    public string User { get; init; } = "";
    public IReadOnlyList<string> Env { get; init; } = [];
    public List<string>? Cmd { get; init; }
    public List<string>? Entrypoint { get; init; }
    public string WorkingDir { get; init; } = "";
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    public IReadOnlyList<string> ExposedPorts { get; init; } = [];
    public IReadOnlyList<string> Volumes { get; init; } = [];
    public string? StopSignal { get; init; }
    public HealthcheckConfig? Healthcheck { get; init; }
    public IReadOnlyList<string>? OnBuild { get; init; }
    public IReadOnlyList<string>? Shell { get; init; }
}

/// <summary>One line of an image's history, newest first (Docker's history order).</summary>
public sealed class ImageHistoryEntry
{
    /// <summary>The image that added this step, or "&lt;missing&gt;" when it is not in the store.</summary>
    public string Id { get; init; } = "<missing>";
    public IReadOnlyList<string> Tags { get; init; } = [];
    public DateTimeOffset Created { get; init; }
    public string CreatedBy { get; init; } = "";
    public string Comment { get; init; } = "";
    public bool EmptyLayer { get; init; }
    public long Size { get; init; }
}

/// <summary>An image as the daemon reports it.</summary>
public sealed class ImageView
{
    public string Id { get; init; } = "";
    public IReadOnlyList<string> RepoTags { get; init; } = [];
    public IReadOnlyList<string> RepoDigests { get; init; } = [];
    public string Parent { get; init; } = "";
    public string Comment { get; init; } = "";
    public string Author { get; init; } = "";
    public DateTimeOffset Created { get; init; }
    public long Size { get; init; }
    public string Architecture { get; init; } = "amd64";
    public string Os { get; init; } = "linux";
    public ImageDefaults Config { get; init; } = new();
    public IReadOnlyList<string> Layers { get; init; } = [];
}

/// <summary>One line of an image removal's answer: a tag removed, or an image deleted.</summary>
public readonly record struct ImageDeleteItem(string? Untagged, string? Deleted);
