using System.Security.Cryptography;

namespace Skiff.Volumes;

/// <summary>Docker's rules for local volume names, which also keep every name a single path component.</summary>
public static class VolumeNames
{
    /// <summary>
    /// <c>[a-zA-Z0-9][a-zA-Z0-9_.-]+</c>: at least two characters, no '/', and never "." or ".."
    /// (the first character is alphanumeric), so <c>volumes/&lt;name&gt;</c> never leaves the volumes directory.
    /// </summary>
    public static bool IsValid(string name)
    {
        if (name.Length < 2 || !char.IsAsciiLetterOrDigit(name[0])) return false;
        foreach (char ch in name.AsSpan(1))
            if (!(char.IsAsciiLetterOrDigit(ch) || ch is '_' or '.' or '-')) return false;
        return true;
    }

    /// <exception cref="VolumeException">InvalidArgument, with Docker's message.</exception>
    public static void Validate(string name)
    {
        if (!IsValid(name))
            throw new VolumeException(VolumeErrorKind.InvalidArgument,
                $"create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path");
    }

    /// <summary>A new anonymous volume name: 64 random hex characters, as Docker makes them.</summary>
    public static string NewAnonymous() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
}
