using System.Text;

namespace Skiff.Distribution;

/// <summary>
/// One challenge of a <c>WWW-Authenticate</c> header (RFC 7235): a scheme (<c>Bearer</c>, <c>Basic</c>) and its
/// parameters, e.g. <c>Bearer realm="https://auth.example/token",service="registry",scope="repository:x:pull"</c>.
/// </summary>
public sealed record AuthChallenge(string Scheme, IReadOnlyDictionary<string, string> Parameters)
{
    public string? this[string name] => Parameters.TryGetValue(name, out var v) ? v : null;

    /// <summary>
    /// Parses a header value that may hold several challenges (<c>Basic realm="a", Bearer realm="b",service="c"</c>).
    /// Parameter names are case-insensitive; quoted values may contain commas and backslash escapes. Malformed tails
    /// end the parse instead of failing it: what was understood is returned.
    /// </summary>
    public static IReadOnlyList<AuthChallenge> Parse(string header)
    {
        var result = new List<AuthChallenge>();
        int i = 0;
        string? scheme = null;
        var parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        while (true)
        {
            SkipSeparators(header, ref i);
            if (i >= header.Length) break;
            string token = ReadToken(header, ref i);
            if (token.Length == 0) break;
            SkipSpaces(header, ref i);
            if (i < header.Length && header[i] == '=')
            {
                // name=value of the current challenge (or a token68 ending in '=': ignored).
                i++;
                SkipSpaces(header, ref i);
                string value = i < header.Length && header[i] == '"' ? ReadQuoted(header, ref i) : ReadToken(header, ref i);
                if (scheme is not null) parameters[token] = value;
            }
            else
            {
                if (scheme is not null) result.Add(new AuthChallenge(scheme, parameters));
                scheme = token;
                parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            }
        }
        if (scheme is not null) result.Add(new AuthChallenge(scheme, parameters));
        return result;
    }

    private static void SkipSpaces(string s, ref int i)
    {
        while (i < s.Length && s[i] is ' ' or '\t') i++;
    }

    private static void SkipSeparators(string s, ref int i)
    {
        while (i < s.Length && s[i] is ' ' or '\t' or ',') i++;
    }

    private static string ReadToken(string s, ref int i)
    {
        int start = i;
        while (i < s.Length && s[i] is not (' ' or '\t' or ',' or '=' or '"')) i++;
        return s[start..i];
    }

    private static string ReadQuoted(string s, ref int i)
    {
        var sb = new StringBuilder();
        i++;
        while (i < s.Length && s[i] != '"')
        {
            if (s[i] == '\\' && i + 1 < s.Length) i++;
            sb.Append(s[i++]);
        }
        if (i < s.Length) i++;
        return sb.ToString();
    }
}

/// <summary>Credentials for one registry, as <c>docker login</c> stores them and the CLI sends them in X-Registry-Auth.</summary>
public sealed record RegistryCredentials(string? Username, string? Password, string? IdentityToken = null, string? RegistryToken = null)
{
    public bool IsEmpty => string.IsNullOrEmpty(Username) && string.IsNullOrEmpty(IdentityToken) && string.IsNullOrEmpty(RegistryToken);
}
