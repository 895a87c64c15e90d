using Skiff.Distribution;

namespace Skiff.Api;

/// <summary>
/// <c>RegistryConfig</c> of <c>GET /info</c> as dockerd 20.10 fills it: the insecure CIDRs (given ones, then 127.0.0.0/8),
/// an index entry per insecure <c>host[:port]</c> (Secure false) and Docker Hub's (Secure and Official).
/// </summary>
internal sealed class RegistryConfigDto
{
    public List<string> AllowNondistributableArtifactsCIDRs { get; set; } = [];
    public List<string> AllowNondistributableArtifactsHostnames { get; set; } = [];
    public List<string> InsecureRegistryCIDRs { get; set; } = [];
    public Dictionary<string, IndexInfoDto> IndexConfigs { get; set; } = [];
    public List<string> Mirrors { get; set; } = [];

    public static RegistryConfigDto From(InsecureRegistries insecure)
    {
        var dto = new RegistryConfigDto { InsecureRegistryCIDRs = insecure.Cidrs.Select(c => c.ToString()).ToList() };
        var entries = insecure.Hosts.Select(h => new IndexInfoDto { Name = h, Secure = false, Official = false })
            .Append(new IndexInfoDto { Name = "docker.io", Secure = true, Official = true });
        // dockerd's map is written with its keys in order.
        foreach (var e in entries.OrderBy(e => e.Name, StringComparer.Ordinal)) dto.IndexConfigs[e.Name] = e;
        return dto;
    }
}

internal sealed class IndexInfoDto
{
    public string Name { get; set; } = "";
    public List<string> Mirrors { get; set; } = [];
    public bool Secure { get; set; }
    public bool Official { get; set; }
}
