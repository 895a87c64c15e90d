using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace Skiff.Images;

/// <summary>
/// A normalised image reference, following Docker's distribution reference grammar:
/// <c>[domain[:port]/]path[:tag][@digest]</c>. A name without a domain belongs to <c>docker.io</c>, and a
/// single-component Docker Hub name to <c>library/</c>: <c>busybox</c> is <c>docker.io/library/busybox</c>.
/// <see cref="ToString"/> gives the full form (used as the key in <c>repositories.json</c>); <see cref="Familiar"/>
/// gives what users see (<c>busybox:latest</c>, <c>localhost:5000/x/y:tag</c>).
/// </summary>
public sealed partial class ImageReference
{
    public const string DefaultDomain = "docker.io";
    public const string DefaultTag = "latest";

    private ImageReference(string domain, string path, string? tag, string? digest)
    {
        Domain = domain;
        Path = path;
        Tag = tag;
        Digest = digest;
    }

    public string Domain { get; }
    /// <summary>Repository path inside the domain, e.g. <c>library/busybox</c>.</summary>
    public string Path { get; }
    public string? Tag { get; }
    /// <summary><c>sha256:&lt;hex&gt;</c> when the reference pins a digest.</summary>
    public string? Digest { get; }

    /// <summary>Full repository name: <c>docker.io/library/busybox</c>.</summary>
    public string Repository => Domain + "/" + Path;

    /// <summary>Repository name as users write it: <c>busybox</c>, <c>user/app</c>, <c>localhost:5000/x/y</c>.</summary>
    public string FamiliarRepository
    {
        get
        {
            if (Domain != DefaultDomain) return Repository;
            return Path.StartsWith("library/", StringComparison.Ordinal) && Path.IndexOf('/', 8) < 0 ? Path[8..] : Path;
        }
    }

    /// <summary>The familiar form, e.g. <c>busybox:latest</c> or <c>busybox@sha256:...</c>.</summary>
    public string Familiar => FamiliarRepository + Suffix;

    private string Suffix => (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    public override string ToString() => Repository + Suffix;

    /// <summary>The same reference with tag <c>latest</c> when it has neither tag nor digest.</summary>
    public ImageReference WithDefaultTag() => Tag is null && Digest is null ? new(Domain, Path, DefaultTag, null) : this;

    public ImageReference WithTag(string tag) => new(Domain, Path, tag, null);

    /// <summary>Parses and normalises a reference.</summary>
    /// <exception cref="InvalidImageArgumentException">Not a valid reference (with Docker's reason).</exception>
    public static ImageReference Parse(string s) =>
        TryParse(s, out var r, out var error) ? r : throw new InvalidImageArgumentException(error);

    public static bool TryParse(string s, [NotNullWhen(true)] out ImageReference? reference, out string error)
    {
        reference = null;
        error = "";
        if (string.IsNullOrEmpty(s)) { error = "invalid reference format"; return false; }
        if (HexId().IsMatch(s))
        {
            error = $"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings";
            return false;
        }
        string rest = s;
        string? digest = null;
        int at = rest.IndexOf('@');
        if (at >= 0)
        {
            digest = rest[(at + 1)..];
            rest = rest[..at];
            if (!DigestPattern().IsMatch(digest)) { error = "invalid reference format"; return false; }
        }
        string? tag = null;
        int colon = rest.LastIndexOf(':');
        if (colon >= 0 && colon > rest.LastIndexOf('/'))
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
            if (!TagPattern().IsMatch(tag)) { error = "invalid reference format"; return false; }
        }
        string domain, path;
        int slash = rest.IndexOf('/');
        if (slash < 0 || (rest.AsSpan(0, slash).IndexOfAny('.', ':') < 0 && rest[..slash] != "localhost" && rest[..slash].ToLowerInvariant() == rest[..slash]))
        {
            domain = DefaultDomain;
            path = rest;
        }
        else
        {
            domain = rest[..slash];
            path = rest[(slash + 1)..];
            if (!DomainPattern().IsMatch(domain)) { error = "invalid reference format"; return false; }
        }
        if (domain == "index.docker.io") domain = DefaultDomain;
        if (path.Any(char.IsAsciiLetterUpper)) { error = "invalid reference format: repository name must be lowercase"; return false; }
        if (path.Length == 0 || !PathPattern().IsMatch(path)) { error = "invalid reference format"; return false; }
        if (domain == DefaultDomain && !path.Contains('/')) path = "library/" + path;
        if (domain.Length + 1 + path.Length > 255) { error = "repository name must not be more than 255 characters"; return false; }
        reference = new ImageReference(domain, path, tag, digest);
        return true;
    }

    [GeneratedRegex("^[a-f0-9]{64}$")]
    private static partial Regex HexId();

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")]
    private static partial Regex DigestPattern();

    [GeneratedRegex(@"^[\w][\w.-]{0,127}$")]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$")]
    private static partial Regex DomainPattern();

    [GeneratedRegex(@"^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*$")]
    private static partial Regex PathPattern();
}
