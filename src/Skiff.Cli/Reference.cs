using System.Text.RegularExpressions;

namespace Skiff.Cli;

/// <summary>
/// Client-side validation of image references with the distribution reference grammar, so
/// malformed names fail with Docker's wording before any request is made.
/// </summary>
public static partial class Reference
{
    // domain[:port]/path-component(/path-component)*[:tag][@digest]
    [GeneratedRegex(@"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?/|\[[a-fA-F0-9:]+\](?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$")]
    private static partial Regex Grammar();

    /// <summary>Returns Docker's error text for an invalid reference, or null when it is valid.</summary>
    public static string? Validate(string reference)
    {
        if (Grammar().IsMatch(reference)) return null;
        if (Grammar().IsMatch(reference.ToLowerInvariant()))
        {
            string name = reference;
            int at = name.IndexOf('@');
            if (at >= 0) name = name[..at];
            int slash = name.LastIndexOf('/');
            int colon = name.LastIndexOf(':');
            if (colon > slash) name = name[..colon];
            if (!name.Contains('/')) name = "library/" + name;
            if (name != name.ToLowerInvariant())
                return $"invalid reference format: repository name ({name}) must be lowercase";
        }
        return "invalid reference format";
    }
}
