using Skiff.Archive;
using Skiff.Images;

namespace Skiff.Daemon;

/// <summary>A <c>docker diff</c> line: a path inside the container and Docker's kind (0 modified, 1 added, 2 deleted).</summary>
public readonly record struct FileChange(string Path, int Kind);

public sealed partial class ImageService
{
    /// <summary>The merged view of a container's upper dir over its image's layers, as a tar (docker export).</summary>
    internal void ExportRootfs(string imageId, string upperDir, Stream output) =>
        Guard(() => { _store.ExportRootfs(imageId, upperDir, output); return 0; });

    /// <summary>What a container's writable layer changed relative to its image, sorted by path.</summary>
    internal IReadOnlyList<FileChange> Changes(string imageId, string upperDir) =>
        Guard(() => _store.Changes(imageId, upperDir).Select(c => new FileChange(c.Path, (int)c.Kind)).ToList());

    /// <summary>Turns a container's writable layer into a new image on top of its image (docker commit); returns the new image's ID.</summary>
    internal string Commit(string parentImageId, string upperDir, ContainerConfig config, IReadOnlyList<string> changes,
        string? reference, string? author, string? comment, string createdBy)
    {
        var image = Guard(() => _store.Commit(new CommitOptions
        {
            ParentImageId = parentImageId,
            UpperDir = upperDir,
            Config = ToImageConfig(config),
            Changes = changes,
            Reference = reference,
            Author = author,
            Comment = comment,
            CreatedBy = createdBy,
        }));
        return image.Id;
    }

    private static Images.ContainerConfig ToImageConfig(ContainerConfig c) => new()
    {
        Hostname = c.Hostname,
        Domainname = c.Domainname,
        User = c.User,
        Env = [.. c.Env],
        Cmd = c.Cmd is null ? null : [.. c.Cmd],
        Entrypoint = c.Entrypoint is null ? null : [.. c.Entrypoint],
        WorkingDir = c.WorkingDir,
        Labels = c.Labels.Count == 0 ? null : new Dictionary<string, string>(c.Labels),
        StopSignal = c.StopSignal,
        Image = c.Image,
        ExposedPorts = c.ExposedPorts.Count == 0 ? null : c.ExposedPorts.ToDictionary(p => p, _ => new EmptyObject()),
        Volumes = c.Volumes.Count == 0 ? null : c.Volumes.ToDictionary(p => p, _ => new EmptyObject()),
        Healthcheck = c.Healthcheck is null ? null : new HealthConfig
        {
            Test = [.. c.Healthcheck.Test],
            Interval = c.Healthcheck.Interval == 0 ? null : c.Healthcheck.Interval,
            Timeout = c.Healthcheck.Timeout == 0 ? null : c.Healthcheck.Timeout,
            Retries = c.Healthcheck.Retries == 0 ? null : c.Healthcheck.Retries,
            StartPeriod = c.Healthcheck.StartPeriod == 0 ? null : c.Healthcheck.StartPeriod,
            StartInterval = c.Healthcheck.StartInterval == 0 ? null : c.Healthcheck.StartInterval,
        },
    };
}
