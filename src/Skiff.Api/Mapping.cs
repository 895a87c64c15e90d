using System.Globalization;
using System.Text.Json;
using Skiff.Daemon;

namespace Skiff.Api;

/// <summary>Converts between Docker's JSON shapes and the daemon core's records.</summary>
internal static class Mapping
{
    public static string Time(DateTimeOffset t) =>
        t == default ? "0001-01-01T00:00:00Z" : t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    public static ContainerConfig ToCore(ConfigDto d) => new()
    {
        Image = d.Image ?? "",
        Hostname = d.Hostname ?? "",
        Domainname = d.Domainname ?? "",
        User = d.User ?? "",
        AttachStdin = d.AttachStdin,
        AttachStdout = d.AttachStdout,
        AttachStderr = d.AttachStderr,
        Tty = d.Tty,
        OpenStdin = d.OpenStdin,
        StdinOnce = d.StdinOnce,
        Env = d.Env ?? [],
        Cmd = d.Cmd is { Count: > 0 } ? d.Cmd : null,
        Entrypoint = d.Entrypoint is null ? null : d.Entrypoint.Count == 1 && d.Entrypoint[0] == "" ? [] : d.Entrypoint,
        WorkingDir = d.WorkingDir ?? "",
        Labels = d.Labels ?? [],
        StopSignal = string.IsNullOrEmpty(d.StopSignal) ? null : d.StopSignal,
        StopTimeout = d.StopTimeout,
        ExposedPorts = d.ExposedPorts?.Keys.ToList() ?? [],
        Volumes = d.Volumes?.Keys.ToList() ?? [],
        Healthcheck = d.Healthcheck is { } h
            ? new HealthcheckConfig { Test = h.Test ?? [], Interval = h.Interval ?? 0, Timeout = h.Timeout ?? 0, StartPeriod = h.StartPeriod ?? 0, StartInterval = h.StartInterval ?? 0, Retries = h.Retries ?? 0 }
            : null,
    };

    public static HostConfig ToCore(HostConfigDto? d)
    {
        if (d is null) return new HostConfig();
        return new HostConfig
        {
            AutoRemove = d.AutoRemove,
            RestartPolicy = new RestartPolicy { Name = string.IsNullOrEmpty(d.RestartPolicy?.Name) ? "no" : d.RestartPolicy.Name, MaximumRetryCount = d.RestartPolicy?.MaximumRetryCount ?? 0 },
            Binds = d.Binds ?? [],
            Mounts = VolumeRoutes.ToCore(d.Mounts),
            VolumesFrom = d.VolumesFrom ?? [],
            NetworkMode = string.IsNullOrEmpty(d.NetworkMode) ? "default" : d.NetworkMode,
            PidMode = d.PidMode ?? "",
            IpcMode = d.IpcMode ?? "",
            UtsMode = d.UTSMode ?? "",
            UsernsMode = d.UsernsMode ?? "",
            Privileged = d.Privileged,
            ReadonlyRootfs = d.ReadonlyRootfs,
            Init = d.Init,
            Devices = d.Devices?.Select(DeviceToCore).ToList() ?? [],
            GroupAdd = d.GroupAdd ?? [],
            CapAdd = d.CapAdd ?? [],
            CapDrop = d.CapDrop ?? [],
            SecurityOpt = d.SecurityOpt ?? [],
            Dns = d.Dns ?? [],
            DnsSearch = d.DnsSearch ?? [],
            DnsOptions = d.DnsOptions ?? [],
            PortBindings = NetworkRoutes.PortBindings(d.PortBindings),
            PublishAllPorts = d.PublishAllPorts,
            ExtraHosts = d.ExtraHosts ?? [],
            Links = d.Links ?? [],
            Sysctls = d.Sysctls ?? [],
            Tmpfs = d.Tmpfs ?? [],
            Ulimits = d.Ulimits?.Select(u => new Ulimit { Name = u.Name, Soft = u.Soft, Hard = u.Hard }).ToList() ?? [],
            Memory = d.Memory,
            MemorySwap = d.MemorySwap,
            MemoryReservation = d.MemoryReservation,
            NanoCpus = d.NanoCpus,
            CpuShares = d.CpuShares,
            CpuPeriod = d.CpuPeriod,
            CpuQuota = d.CpuQuota,
            CpusetCpus = d.CpusetCpus ?? "",
            CpusetMems = d.CpusetMems ?? "",
            PidsLimit = d.PidsLimit is > 0 ? d.PidsLimit : null,
            BlkioWeight = d.BlkioWeight,
            OomScoreAdj = d.OomScoreAdj == 0 ? null : d.OomScoreAdj,
            LogType = string.IsNullOrEmpty(d.LogConfig?.Type) ? "json-file" : d.LogConfig.Type,
            LogOptions = d.LogConfig?.Config ?? [],
            ShmSize = d.ShmSize,
        };
    }

    private static DeviceMapping DeviceToCore(JsonElement e)
    {
        string Str(string name) => e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
        return new DeviceMapping { PathOnHost = Str("PathOnHost"), PathInContainer = Str("PathInContainer"), CgroupPermissions = Str("CgroupPermissions") };
    }

    private static JsonElement DeviceToDto(DeviceMapping m)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("PathOnHost", m.PathOnHost);
            w.WriteString("PathInContainer", m.PathInContainer);
            w.WriteString("CgroupPermissions", m.CgroupPermissions);
            w.WriteEndObject();
        }
        using var doc = JsonDocument.Parse(buffer.WrittenMemory);
        return doc.RootElement.Clone();
    }

    /// <summary>Docker's set-as-map shape: {"80/tcp": {}, ...}.</summary>
    public static Dictionary<string, JsonElement> EmptyObjects(IEnumerable<string> keys)
    {
        var empty = JsonDocument.Parse("{}").RootElement;
        return keys.ToDictionary(k => k, _ => empty);
    }

    public static ConfigDto ToDto(ContainerConfig c) => new()
    {
        Hostname = c.Hostname,
        Domainname = c.Domainname,
        User = c.User,
        AttachStdin = c.AttachStdin,
        AttachStdout = c.AttachStdout,
        AttachStderr = c.AttachStderr,
        ExposedPorts = c.ExposedPorts.Count == 0 ? null : EmptyObjects(c.ExposedPorts),
        Tty = c.Tty,
        OpenStdin = c.OpenStdin,
        StdinOnce = c.StdinOnce,
        Env = c.Env,
        Cmd = c.Cmd,
        Image = c.Image,
        Volumes = c.Volumes.Count == 0 ? null : EmptyObjects(c.Volumes),
        WorkingDir = c.WorkingDir,
        Entrypoint = c.Entrypoint,
        Labels = c.Labels,
        StopSignal = c.StopSignal,
        StopTimeout = c.StopTimeout,
        Healthcheck = c.Healthcheck is { } h
            ? new HealthConfigDto { Test = h.Test, Interval = h.Interval, Timeout = h.Timeout, StartPeriod = h.StartPeriod, StartInterval = h.StartInterval, Retries = h.Retries }
            : null,
    };

    public static HostConfigDto ToDto(HostConfig h) => new()
    {
        Binds = h.Binds.Count == 0 ? null : h.Binds,
        Mounts = VolumeRoutes.ToDto(h.Mounts),
        VolumesFrom = h.VolumesFrom.Count == 0 ? null : h.VolumesFrom,
        LogConfig = new LogConfigDto { Type = h.LogType, Config = h.LogOptions },
        NetworkMode = h.NetworkMode,
        PortBindings = NetworkRoutes.PortBindingsDto(h.PortBindings),
        PublishAllPorts = h.PublishAllPorts,
        DnsOptions = h.DnsOptions,
        RestartPolicy = new RestartPolicyDto { Name = h.RestartPolicy.Name, MaximumRetryCount = h.RestartPolicy.MaximumRetryCount },
        AutoRemove = h.AutoRemove,
        CapAdd = h.CapAdd.Count == 0 ? null : h.CapAdd,
        CapDrop = h.CapDrop.Count == 0 ? null : h.CapDrop,
        Devices = [.. h.Devices.Select(DeviceToDto)],
        GroupAdd = h.GroupAdd.Count == 0 ? null : h.GroupAdd,
        OomKillDisable = false,
        // Containers never get a cgroup namespace of their own here.
        CgroupnsMode = "host",
        MaskedPaths = Daemon.Daemon.MaskedPaths(h)?.ToList(),
        ReadonlyPaths = Daemon.Daemon.ReadonlyPaths(h)?.ToList(),
        Dns = h.Dns,
        DnsSearch = h.DnsSearch,
        ExtraHosts = h.ExtraHosts.Count == 0 ? null : h.ExtraHosts,
        IpcMode = string.IsNullOrEmpty(h.IpcMode) ? "private" : h.IpcMode,
        PidMode = h.PidMode,
        Privileged = h.Privileged,
        ReadonlyRootfs = h.ReadonlyRootfs,
        SecurityOpt = h.SecurityOpt.Count == 0 ? null : h.SecurityOpt,
        Tmpfs = h.Tmpfs,
        UTSMode = h.UtsMode,
        UsernsMode = h.UsernsMode,
        ShmSize = h.ShmSize == 0 ? 64 * 1024 * 1024 : h.ShmSize,
        Sysctls = h.Sysctls,
        Runtime = "skiff-runtime",
        CpuShares = h.CpuShares,
        Memory = h.Memory,
        NanoCpus = h.NanoCpus,
        BlkioWeight = h.BlkioWeight,
        CpuPeriod = h.CpuPeriod,
        CpuQuota = h.CpuQuota,
        CpusetCpus = h.CpusetCpus,
        CpusetMems = h.CpusetMems,
        MemoryReservation = h.MemoryReservation,
        MemorySwap = h.MemorySwap,
        PidsLimit = h.PidsLimit,
        Ulimits = h.Ulimits.Select(u => new UlimitDto { Name = u.Name, Soft = u.Soft, Hard = u.Hard }).ToList(),
        Init = h.Init,
        OomScoreAdj = h.OomScoreAdj ?? 0,
    };

    public static string StatusName(ContainerStatus s) => s switch
    {
        ContainerStatus.Created => "created",
        ContainerStatus.Running => "running",
        ContainerStatus.Paused => "paused",
        ContainerStatus.Restarting => "restarting",
        ContainerStatus.Removing => "removing",
        ContainerStatus.Exited => "exited",
        _ => "dead",
    };

    public static ContainerInspectDto Inspect(Daemon.Daemon d, Container c)
    {
        var r = c.Record;
        var s = r.State;
        return new ContainerInspectDto
        {
            Id = r.Id,
            Created = Time(r.Created),
            Path = r.Path,
            Args = r.Args,
            State = new StateDto
            {
                Status = StatusName(s.Status),
                Running = s.Running,
                Paused = s.Status == ContainerStatus.Paused,
                Restarting = s.Status == ContainerStatus.Restarting,
                OOMKilled = s.OomKilled,
                Dead = s.Status == ContainerStatus.Dead,
                Pid = s.Pid,
                ExitCode = s.ExitCode,
                Error = s.Error,
                StartedAt = Time(s.StartedAt),
                FinishedAt = Time(s.FinishedAt),
                Health = s.Health is { } health
                    ? new HealthDto
                    {
                        Status = health.Status,
                        FailingStreak = health.FailingStreak,
                        Log = health.Log.Select(l => new HealthLogDto { Start = Time(l.Start), End = Time(l.End), ExitCode = l.ExitCode, Output = l.Output }).ToList(),
                    }
                    : null,
            },
            Image = r.ImageId,
            ResolvConfPath = r.ResolvConfPath,
            HostnamePath = r.HostnamePath,
            HostsPath = r.HostsPath,
            LogPath = r.LogPath,
            Name = "/" + r.Name,
            RestartCount = r.RestartCount,
            Driver = r.Driver,
            HostConfig = WithLinks(ToDto(r.HostConfig), d.LinkNames(r)),
            GraphDriver = new GraphDriverDto
            {
                Data = new() { ["UpperDir"] = Path.Combine(c.Directory, "upper"), ["WorkDir"] = Path.Combine(c.Directory, "work") },
            },
            Config = ToDto(r.Config),
            Mounts = VolumeRoutes.MountPoints(r.MountPoints),
            NetworkSettings = NetworkRoutes.Settings(d, r),
        };
    }

    private static HostConfigDto WithLinks(HostConfigDto h, List<string>? links)
    {
        h.Links = links;
        return h;
    }

    public static ContainerSummaryDto Summary(Container c, DateTimeOffset now)
    {
        var r = c.Record;
        return new ContainerSummaryDto
        {
            Id = r.Id,
            Names = ["/" + r.Name],
            Image = r.Config.Image,
            ImageID = r.ImageId,
            Command = r.Args.Count == 0 ? r.Path : r.Path + " " + string.Join(' ', r.Args.Select(QuoteIfNeeded)),
            Created = r.Created.ToUnixTimeSeconds(),
            Labels = r.Config.Labels,
            State = StatusName(r.State.Status),
            Status = StatusText(r.State, now),
            HostConfig = new() { ["NetworkMode"] = r.HostConfig.NetworkMode },
            Mounts = VolumeRoutes.MountPoints(r.MountPoints),
            Ports = NetworkRoutes.Summary(r),
            NetworkSettings = new NetworkSettingsSummaryDto
            {
                Networks = r.Networks.ToDictionary(kv => kv.Key, kv => new EndpointDto
                {
                    NetworkID = kv.Value.NetworkId, EndpointID = kv.Value.EndpointId, Gateway = kv.Value.Gateway,
                    IPAddress = kv.Value.IPAddress, IPPrefixLen = kv.Value.IPPrefixLen, MacAddress = kv.Value.MacAddress,
                }),
            },
        };
    }

    /// <summary>dockerd's ps Command: an argument with a space in single quotes, nothing escaped, the path as is.</summary>
    private static string QuoteIfNeeded(string s) => s.Contains(' ') ? "'" + s + "'" : s;

    /// <summary>The "Up 3 minutes" / "Exited (0) 2 seconds ago" column of docker ps.</summary>
    public static string StatusText(ContainerState s, DateTimeOffset now) => s.Status switch
    {
        ContainerStatus.Running => "Up " + HumanDuration(now - s.StartedAt) + HealthSuffix(s.Health),
        ContainerStatus.Paused => "Up " + HumanDuration(now - s.StartedAt) + " (Paused)",
        ContainerStatus.Restarting => $"Restarting ({s.ExitCode}) {HumanDuration(now - s.FinishedAt)} ago",
        ContainerStatus.Removing => "Removal In Progress",
        ContainerStatus.Dead => "Dead",
        ContainerStatus.Exited => s.FinishedAt == default ? "Created" : $"Exited ({s.ExitCode}) {HumanDuration(now - s.FinishedAt)} ago",
        _ => "Created",
    };

    private static string HealthSuffix(HealthState? h) => h?.Status switch
    {
        "starting" => " (health: starting)",
        "healthy" => " (healthy)",
        "unhealthy" => " (unhealthy)",
        _ => "",
    };

    /// <summary>Docker's go-units HumanDuration.</summary>
    public static string HumanDuration(TimeSpan d)
    {
        var seconds = (long)d.TotalSeconds;
        if (seconds < 1) return "Less than a second";
        if (seconds == 1) return "1 second";
        if (seconds < 60) return $"{seconds} seconds";
        var minutes = (long)d.TotalMinutes;
        if (minutes == 1) return "About a minute";
        if (minutes < 60) return $"{minutes} minutes";
        var hours = (long)Math.Round(d.TotalHours);
        if (hours == 1) return "About an hour";
        if (hours < 48) return $"{hours} hours";
        if (hours < 24 * 7 * 2) return $"{hours / 24} days";
        if (hours < 24 * 30 * 2) return $"{hours / 24 / 7} weeks";
        if (hours < 24 * 365 * 2) return $"{hours / 24 / 30} months";
        return $"{hours / 24 / 365} years";
    }
}
