using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Skiff.Daemon;

/// <summary>Container IDs and names: 64 hex characters, and Docker-style "adjective_surname" names.</summary>
internal static partial class Names
{
    private static readonly string[] Adjectives =
    [
        "admiring", "agitated", "amazing", "awesome", "blissful", "bold", "brave", "busy", "charming", "clever",
        "cool", "dazzling", "determined", "eager", "ecstatic", "elegant", "epic", "fervent", "focused", "friendly",
        "gallant", "gifted", "happy", "hopeful", "jolly", "keen", "kind", "lucid", "modest", "nifty", "optimistic",
        "peaceful", "practical", "quirky", "relaxed", "serene", "sharp", "stoic", "tender", "trusting", "vibrant",
        "wizardly", "youthful", "zealous",
    ];

    private static readonly string[] Surnames =
    [
        "babbage", "bell", "bohr", "curie", "darwin", "dijkstra", "einstein", "euler", "faraday", "fermi",
        "feynman", "galileo", "gauss", "goldberg", "hamilton", "hopper", "hypatia", "kepler", "knuth", "lamport",
        "liskov", "lovelace", "maxwell", "meitner", "newton", "noether", "pascal", "ritchie", "shannon", "thompson",
        "torvalds", "turing", "wozniak", "yonath",
    ];

    [GeneratedRegex("^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")]
    private static partial Regex ValidName();

    public static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    public static string Random(Func<string, bool> taken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var name = $"{Adjectives[RandomNumberGenerator.GetInt32(Adjectives.Length)]}_{Surnames[RandomNumberGenerator.GetInt32(Surnames.Length)]}";
            if (attempt > 5) name += RandomNumberGenerator.GetInt32(10);
            if (!taken(name)) return name;
        }
    }

    /// <summary>Validates a user-given name and strips Docker's optional leading slash.</summary>
    public static string Normalize(string name)
    {
        if (!ValidName().IsMatch(name))
            throw DaemonException.Invalid($"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
        return name.TrimStart('/');
    }
}
