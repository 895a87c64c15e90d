namespace Skiff.Daemon;

public sealed class ImageService
{
    public ImageService(string dataRoot) { _ = dataRoot; }
    public int Count => 0;
    public Task<ImageView> ImportAsync(Stream tar, string? reference, string? message, IReadOnlyList<string> changes, CancellationToken ct) => throw null!;
    public IReadOnlyList<ImageView> List() => throw null!;
    public ImageView Get(string reference) => throw null!;
    public void Tag(string source, string target) => throw null!;
    public IReadOnlyList<ImageDeleteItem> Remove(string reference, bool force, Func<string, bool> inUse) => throw null!;
    internal ImageDefaults ResolveForContainer(string reference) => throw null!;
    internal string OverlayOptions(string imageId, string containerDir) => throw null!;
    internal void PrepareWritableLayer(string containerDir) => throw null!;
    internal void RemoveWritableLayer(string containerDir) => throw null!;
}
