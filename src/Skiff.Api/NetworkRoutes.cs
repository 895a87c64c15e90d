using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Skiff.Daemon;
using Skiff.Network;

namespace Skiff.Api;

internal sealed class IpamConfigDto
{
    public string? Subnet { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? IPRange { get; set; }
    public string? Gateway { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public Dictionary<string, string>? AuxiliaryAddresses { get; set; }
}

internal sealed class IpamDto
{
    public string Driver { get; set; } = "default";
    public Dictionary<string, string>? Options { get; set; }
    public List<IpamConfigDto>? Config { get; set; }
}

internal sealed class NetworkCreateDto
{
    public string? Name { get; set; }
    public bool CheckDuplicate { get; set; }
    public string? Driver { get; set; }
    public string? Scope { get; set; }
    public bool Internal { get; set; }
    public bool Attachable { get; set; }
    public bool Ingress { get; set; }
    public bool? EnableIPv6 { get; set; }
    public IpamDto? IPAM { get; set; }
    public Dictionary<string, string>? Options { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
}

internal sealed class NetworkCreateResponseDto
{
    public string Id { get; set; } = "";
    public string Warning { get; set; } = "";
}

internal sealed class NetworkContainerDto
{
    public string Name { get; set; } = "";
    public string EndpointID { get; set; } = "";
    public string MacAddress { get; set; } = "";
    public string IPv4Address { get; set; } = "";
    public string IPv6Address { get; set; } = "";
}

internal sealed class ConfigReferenceDto
{
    public string Network { get; set; } = "";
}

internal sealed class NetworkDto
{
    public string Name { get; set; } = "";
    public string Id { get; set; } = "";
    public string Created { get; set; } = "";
    public string Scope { get; set; } = "local";
    public string Driver { get; set; } = "";
    public bool EnableIPv4 { get; set; } = true;
    public bool EnableIPv6 { get; set; }
    public IpamDto IPAM { get; set; } = new();
    public bool Internal { get; set; }
    public bool Attachable { get; set; }
    public bool Ingress { get; set; }
    public ConfigReferenceDto ConfigFrom { get; set; } = new();
    public bool ConfigOnly { get; set; }
    public Dictionary<string, NetworkContainerDto> Containers { get; set; } = [];
    public Dictionary<string, string> Options { get; set; } = [];
    public Dictionary<string, string> Labels { get; set; } = [];
}

internal sealed class EndpointIpamDto
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? IPv4Address { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? IPv6Address { get; set; }
}

internal sealed class EndpointSettingsDto
{
    public EndpointIpamDto? IPAMConfig { get; set; }
    public List<string>? Links { get; set; }
    public List<string>? Aliases { get; set; }
    public string? MacAddress { get; set; }
    public string? NetworkID { get; set; }
}

internal sealed class NetworkConnectDto
{
    public string? Container { get; set; }
    public EndpointSettingsDto? EndpointConfig { get; set; }
    public bool Force { get; set; }
}

internal sealed class NetworkingConfigDto
{
    public Dictionary<string, EndpointSettingsDto?>? EndpointsConfig { get; set; }
}

internal sealed class NetworkPruneDto
{
    public List<string> NetworksDeleted { get; set; } = [];
}

internal sealed class PortBindingDto
{
    public string HostIp { get; set; } = "";
    public string HostPort { get; set; } = "";
}

internal sealed class PortSummaryDto
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? IP { get; set; }
    public int PrivatePort { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public int PublicPort { get; set; }
    public string Type { get; set; } = "tcp";
}

[JsonSerializable(typeof(NetworkCreateDto))]
[JsonSerializable(typeof(NetworkCreateResponseDto))]
[JsonSerializable(typeof(NetworkDto))]
[JsonSerializable(typeof(List<NetworkDto>))]
[JsonSerializable(typeof(NetworkConnectDto))]
[JsonSerializable(typeof(NetworkingConfigDto))]
[JsonSerializable(typeof(NetworkPruneDto))]
[JsonSerializable(typeof(List<PortBindingDto>))]
[JsonSerializable(typeof(PortSummaryDto))]
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true)]
internal sealed partial class NetJson : JsonSerializerContext;

/// <summary>/networks/...: list, inspect, create, remove, connect, disconnect, prune; and the network parts of container create/inspect.</summary>
internal static class NetworkRoutes
{
    public static void Map(IEndpointRouteBuilder app, Daemon.Daemon d)
    {
        app.MapGet("/networks", Errors.Handle(async ctx =>
        {
            var filters = Query.Filters(ctx);
            foreach (var key in filters.Keys)
                if (key is not ("name" or "id" or "label" or "driver" or "type" or "scope" or "dangling")) throw new BadRequestException($"invalid filter '{key}'");
            var list = d.ListNetworks().Where(n => Matches(d, n, filters)).Select(n => ToDto(d, n, withContainers: false)).ToList();
            await SystemRoutes.WriteJson(ctx, list, NetJson.Default.ListNetworkDto).ConfigureAwait(false);
        }));

        app.MapGet("/networks/{id}", Errors.Handle(async ctx =>
        {
            var n = d.GetNetwork((string)ctx.Request.RouteValues["id"]!);
            await SystemRoutes.WriteJson(ctx, ToDto(d, n, withContainers: true), NetJson.Default.NetworkDto).ConfigureAwait(false);
        }));

        app.MapPost("/networks/create", Errors.Handle(async ctx =>
        {
            var body = await JsonSerializer.DeserializeAsync(ctx.Request.Body, NetJson.Default.NetworkCreateDto, ctx.RequestAborted).ConfigureAwait(false)
                ?? throw new BadRequestException("network config cannot be empty");
            var ipam = body.IPAM?.Config ?? [];
            // One IPv4 and one IPv6 pool at most; a pool's family is its subnet's.
            var v6 = ipam.Where(c => c.Subnet?.Contains(':') == true).ToList();
            var v4 = ipam.Except(v6).ToList();
            if (v4.Count > 1 || v6.Count > 1) throw new BadRequestException("only one IPv4 and one IPv6 IPAM configuration per network are supported");
            var cfg = v4.FirstOrDefault();
            var cfg6 = v6.FirstOrDefault();
            if (!string.IsNullOrEmpty(cfg6?.IPRange)) throw new BadRequestException("an IPv6 ip-range is not supported");
            var n = d.CreateNetwork(new NetworkCreateRequest
            {
                Name = body.Name ?? "",
                Driver = body.Driver ?? "bridge",
                Internal = body.Internal,
                Attachable = body.Attachable,
                EnableIPv6 = body.EnableIPv6 == true,
                Subnet = cfg?.Subnet ?? "",
                Gateway = cfg?.Gateway ?? "",
                IPRange = cfg?.IPRange ?? "",
                Subnet6 = cfg6?.Subnet ?? "",
                Gateway6 = cfg6?.Gateway ?? "",
                Labels = body.Labels ?? [],
                Options = body.Options ?? [],
            });
            await SystemRoutes.WriteJson(ctx, new NetworkCreateResponseDto { Id = n.Id }, NetJson.Default.NetworkCreateResponseDto, 201).ConfigureAwait(false);
        }));

        app.MapDelete("/networks/{id}", Errors.Handle(ctx =>
        {
            d.RemoveNetwork((string)ctx.Request.RouteValues["id"]!);
            ctx.Response.StatusCode = 204;
            return Task.CompletedTask;
        }));

        app.MapPost("/networks/{id}/connect", Errors.Handle(async ctx =>
        {
            var body = await JsonSerializer.DeserializeAsync(ctx.Request.Body, NetJson.Default.NetworkConnectDto, ctx.RequestAborted).ConfigureAwait(false);
            if (string.IsNullOrEmpty(body?.Container)) throw new BadRequestException("container is required");
            await d.ConnectNetworkAsync((string)ctx.Request.RouteValues["id"]!, body.Container, ToEndpoint(body.EndpointConfig)).ConfigureAwait(false);
            ctx.Response.StatusCode = 200;
        }));

        app.MapPost("/networks/{id}/disconnect", Errors.Handle(async ctx =>
        {
            var body = await JsonSerializer.DeserializeAsync(ctx.Request.Body, NetJson.Default.NetworkConnectDto, ctx.RequestAborted).ConfigureAwait(false);
            if (string.IsNullOrEmpty(body?.Container)) throw new BadRequestException("container is required");
            await d.DisconnectNetworkAsync((string)ctx.Request.RouteValues["id"]!, body.Container, body.Force).ConfigureAwait(false);
            ctx.Response.StatusCode = 200;
        }));

        app.MapPost("/networks/prune", Errors.Handle(async ctx =>
        {
            var filters = Query.Filters(ctx);
            foreach (var key in filters.Keys)
                if (key is not ("label" or "label!" or "until")) throw new BadRequestException($"invalid filter '{key}'");
            var until = filters.TryGetValue("until", out var u) && u.Count > 0 ? ParseUntil(u[0]) : (DateTimeOffset?)null;
            var removed = d.PruneNetworks(n =>
                (until is null || n.Created < until) &&
                (!filters.TryGetValue("label", out var want) || want.All(v => LabelMatches(n.Labels, v))) &&
                !(filters.TryGetValue("label!", out var not) && not.Any(v => LabelMatches(n.Labels, v))));
            await SystemRoutes.WriteJson(ctx, new NetworkPruneDto { NetworksDeleted = removed }, NetJson.Default.NetworkPruneDto).ConfigureAwait(false);
        }));
    }

    private static DateTimeOffset ParseUntil(string v)
    {
        if (long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var secs)) return DateTimeOffset.FromUnixTimeSeconds(secs);
        if (DateTimeOffset.TryParse(v, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)) return t;
        var units = new Dictionary<char, double> { ['s'] = 1, ['m'] = 60, ['h'] = 3600 };
        if (v.Length > 1 && units.TryGetValue(v[^1], out var unit) && double.TryParse(v[..^1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n))
            return DateTimeOffset.UtcNow.AddSeconds(-n * unit);
        throw new BadRequestException($"invalid filter 'until={v}'");
    }

    private static bool LabelMatches(Dictionary<string, string> labels, string filter)
    {
        var eq = filter.IndexOf('=');
        return eq < 0 ? labels.ContainsKey(filter) : labels.TryGetValue(filter[..eq], out var v) && v == filter[(eq + 1)..];
    }

    private static bool Matches(Daemon.Daemon d, NetworkConfig n, Dictionary<string, List<string>> filters)
    {
        foreach (var (key, values) in filters)
        {
            if (values.Count == 0) continue;
            var ok = key switch
            {
                "name" => values.Any(v => n.Name.Contains(v, StringComparison.Ordinal)),
                "id" => values.Any(v => n.Id.StartsWith(v, StringComparison.Ordinal)),
                "label" => values.All(v => LabelMatches(n.Labels, v)),
                "driver" => values.Contains(n.Driver),
                "scope" => values.Contains("local"),
                "type" => values.Any(v => v == (n.Predefined ? "builtin" : "custom")),
                "dangling" => values.Any(v => (v is "true" or "1") == (!n.Predefined && d.NetworkMembers(n.Id).Count == 0)),
                _ => true,
            };
            if (!ok) return false;
        }
        return true;
    }

    private static NetworkDto ToDto(Daemon.Daemon d, NetworkConfig n, bool withContainers)
    {
        var dto = new NetworkDto
        {
            Name = n.Name,
            Id = n.Id,
            Created = Mapping.Time(n.Created),
            Driver = n.Driver,
            EnableIPv6 = n.EnableIPv6,
            IPAM = new IpamDto
            {
                Options = n.Predefined ? null : [],
                Config = n.Driver == "bridge"
                    ? [new IpamConfigDto { Subnet = n.Subnet, Gateway = n.Gateway, IPRange = n.IPRange.Length > 0 ? n.IPRange : null },
                       .. n.Subnet6.Length > 0 ? [new IpamConfigDto { Subnet = n.Subnet6, Gateway = n.Gateway6Given ? n.Gateway6 : null }] : Array.Empty<IpamConfigDto>()]
                    : [],
            },
            Internal = n.Internal,
            Attachable = n.Attachable,
            Options = n.Options,
            Labels = n.Labels,
        };
        if (withContainers)
        {
            foreach (var m in d.NetworkMembers(n.Id).Where(m => m.Endpoint.IPAddress.Length > 0))
            {
                dto.Containers[m.Container.Id] = new NetworkContainerDto
                {
                    Name = m.Container.Name,
                    EndpointID = m.Endpoint.EndpointId,
                    MacAddress = m.Endpoint.MacAddress,
                    IPv4Address = $"{m.Endpoint.IPAddress}/{m.Endpoint.IPPrefixLen.ToString(CultureInfo.InvariantCulture)}",
                    IPv6Address = m.Endpoint.GlobalIPv6Address.Length > 0 ? $"{m.Endpoint.GlobalIPv6Address}/{m.Endpoint.GlobalIPv6PrefixLen.ToString(CultureInfo.InvariantCulture)}" : "",
                };
            }
        }
        return dto;
    }

    private static EndpointRecord ToEndpoint(EndpointSettingsDto? e) => new()
    {
        Aliases = e?.Aliases ?? [],
        RequestedIp = e?.IPAMConfig?.IPv4Address ?? "",
        RequestedIp6 = e?.IPAMConfig?.IPv6Address ?? "",
        Links = e?.Links ?? [],
    };

    /// <summary>Container create's NetworkingConfig.EndpointsConfig: network name or ID -> aliases and --ip.</summary>
    public static Dictionary<string, EndpointRecord> Endpoints(JsonElement? networkingConfig)
    {
        var result = new Dictionary<string, EndpointRecord>(StringComparer.Ordinal);
        if (networkingConfig is not { ValueKind: JsonValueKind.Object } el) return result;
        var cfg = el.Deserialize(NetJson.Default.NetworkingConfigDto);
        foreach (var (name, e) in cfg?.EndpointsConfig ?? []) result[name] = ToEndpoint(e);
        return result;
    }

    /// <summary>HostConfig.PortBindings from the API shape {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}.</summary>
    public static Dictionary<string, List<PortBinding>> PortBindings(Dictionary<string, JsonElement>? bindings)
    {
        var result = new Dictionary<string, List<PortBinding>>(StringComparer.Ordinal);
        foreach (var (key, value) in bindings ?? [])
        {
            var list = value.ValueKind == JsonValueKind.Array ? value.Deserialize(NetJson.Default.ListPortBindingDto) ?? [] : [];
            result[key.Contains('/') ? key : key + "/tcp"] = list.Select(b => new PortBinding { HostIp = b.HostIp ?? "", HostPort = b.HostPort ?? "" }).ToList();
        }
        return result;
    }

    public static Dictionary<string, JsonElement> PortBindingsDto(Dictionary<string, List<PortBinding>> bindings) =>
        bindings.ToDictionary(kv => kv.Key, kv => JsonSerializer.SerializeToElement(
            kv.Value.Select(b => new PortBindingDto { HostIp = b.HostIp, HostPort = b.HostPort }).ToList(), NetJson.Default.ListPortBindingDto));

    /// <summary>Inspect's NetworkSettings: the networks with their endpoint, and Ports (exposed but unpublished ports as null).</summary>
    public static NetworkSettingsDto Settings(Daemon.Daemon d, ContainerRecord r)
    {
        var s = new NetworkSettingsDto { SandboxKey = r.SandboxKey, SandboxID = r.SandboxKey.Length > 0 ? r.Id : "" };
        foreach (var p in r.Config.ExposedPorts) s.Ports[p.Contains('/') ? p : p + "/tcp"] = null;
        foreach (var (k, v) in PortBindingsDto(r.Ports)) s.Ports[k] = v;
        foreach (var (name, e) in r.Networks)
        {
            s.Networks[name] = new EndpointDto
            {
                NetworkID = e.NetworkId,
                EndpointID = e.EndpointId,
                Gateway = e.Gateway,
                IPAddress = e.IPAddress,
                IPPrefixLen = e.IPPrefixLen,
                MacAddress = e.MacAddress,
                Aliases = e.Aliases.Count > 0 ? e.Aliases : null,
                Links = e.Links.Count > 0 ? e.Links : null,
                IPAMConfig = e.RequestedIp.Length > 0 || e.RequestedIp6.Length > 0
                    ? new EndpointIpamDto { IPv4Address = e.RequestedIp.Length > 0 ? e.RequestedIp : null, IPv6Address = e.RequestedIp6.Length > 0 ? e.RequestedIp6 : null }
                    : null,
                IPv6Gateway = e.IPv6Gateway,
                GlobalIPv6Address = e.GlobalIPv6Address,
                GlobalIPv6PrefixLen = e.GlobalIPv6PrefixLen,
                DNSNames = e.IPAddress.Length > 0 && !IsPredefined(d, e.NetworkId) ? [r.Name, r.Id[..12], .. e.Aliases] : null,
            };
        }
        if (r.Networks.TryGetValue("bridge", out var bridge))
        {
            s.IPAddress = bridge.IPAddress;
            s.IPPrefixLen = bridge.IPPrefixLen;
            s.Gateway = bridge.Gateway;
            s.MacAddress = bridge.MacAddress;
            s.GlobalIPv6Address = bridge.GlobalIPv6Address;
            s.GlobalIPv6PrefixLen = bridge.GlobalIPv6PrefixLen;
            s.IPv6Gateway = bridge.IPv6Gateway;
        }
        return s;
    }

    private static bool IsPredefined(Daemon.Daemon d, string networkId)
    {
        try { return d.GetNetwork(networkId).Predefined; }
        catch (DaemonException) { return false; }
    }

    /// <summary>docker ps's Ports: published bindings, and exposed ports without one.</summary>
    public static List<JsonElement> Summary(ContainerRecord r)
    {
        var list = new List<JsonElement>();
        foreach (var (key, bindings) in r.Ports)
        {
            var (port, proto) = Daemon.Daemon.ParsePortKeyForDisplay(key);
            foreach (var b in bindings)
                list.Add(JsonSerializer.SerializeToElement(new PortSummaryDto { IP = b.HostIp, PrivatePort = port, PublicPort = int.Parse(b.HostPort, CultureInfo.InvariantCulture), Type = proto }, NetJson.Default.PortSummaryDto));
        }
        foreach (var p in r.Config.ExposedPorts.Where(p => !r.Ports.ContainsKey(p.Contains('/') ? p : p + "/tcp")))
        {
            var (port, proto) = Daemon.Daemon.ParsePortKeyForDisplay(p);
            if (port > 0) list.Add(JsonSerializer.SerializeToElement(new PortSummaryDto { PrivatePort = port, Type = proto }, NetJson.Default.PortSummaryDto));
        }
        return list;
    }
}
