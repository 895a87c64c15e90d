using System.Text.Json;
using System.Text.Json.Serialization;

namespace Skiff.Network;

/// <summary>
/// A network as the daemon persists it (<c>networks/&lt;id&gt;.json</c> under the data root). The
/// predefined ones (bridge, host, none) are made at every start and never stored.
/// </summary>
public sealed class NetworkConfig
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    /// <summary>"bridge", "host" or "null".</summary>
    public string Driver { get; set; } = "bridge";
    public DateTimeOffset Created { get; set; }
    public string Subnet { get; set; } = "";
    public string Gateway { get; set; } = "";
    public string IPRange { get; set; } = "";
    /// <summary>The Linux bridge of a bridge network.</summary>
    public string Bridge { get; set; } = "";
    public bool Internal { get; set; }
    public bool Attachable { get; set; }
    public bool EnableIPv6 { get; set; }
    /// <summary>The IPv6 subnet (IPAM's second pool); containers get addresses from it only with <see cref="EnableIPv6"/>, as Docker.</summary>
    public string Subnet6 { get; set; } = "";
    /// <summary>The IPv6 gateway (the bridge's address): the one given, else the subnet's ::1.</summary>
    public string Gateway6 { get; set; } = "";
    /// <summary>Whether the IPv6 gateway was given at create (inspect shows it only then, as Docker).</summary>
    public bool Gateway6Given { get; set; }
    public Dictionary<string, string> Labels { get; set; } = [];
    public Dictionary<string, string> Options { get; set; } = [];
    /// <summary>bridge, host and none: made by the daemon, cannot be removed.</summary>
    [JsonIgnore] public bool Predefined { get; set; }

    /// <summary>Whether containers on it are named by the embedded DNS server (user-defined bridge networks, as Docker).</summary>
    [JsonIgnore] public bool HasDns => Driver == "bridge" && !Predefined;

    /// <summary>Whether containers on it get IPv6 addresses.</summary>
    [JsonIgnore] public bool HasIPv6 => EnableIPv6 && Subnet6.Length > 0;
}

[JsonSerializable(typeof(NetworkConfig))]
[JsonSourceGenerationOptions(WriteIndented = false)]
internal sealed partial class NetworkJson : JsonSerializerContext;

/// <summary>The persisted user-defined networks: one JSON file each, written atomically.</summary>
public sealed class NetworkStore
{
    private readonly string _dir;

    public NetworkStore(string dir)
    {
        _dir = dir;
        Directory.CreateDirectory(dir);
    }

    public List<NetworkConfig> LoadAll()
    {
        var result = new List<NetworkConfig>();
        foreach (var f in Directory.EnumerateFiles(_dir, "*.json"))
        {
            try
            {
                var n = JsonSerializer.Deserialize(File.ReadAllBytes(f), NetworkJson.Default.NetworkConfig);
                if (n is not null && n.Id.Length > 0) result.Add(n);
            }
            catch (Exception e) when (e is IOException or JsonException)
            {
            }
        }
        return result;
    }

    public void Save(NetworkConfig n)
    {
        var path = Path.Combine(_dir, n.Id + ".json");
        var tmp = path + ".tmp";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1))
        {
            f.Write(JsonSerializer.SerializeToUtf8Bytes(n, NetworkJson.Default.NetworkConfig));
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    public void Delete(string id)
    {
        try { File.Delete(Path.Combine(_dir, id + ".json")); } catch (IOException) { }
    }
}
