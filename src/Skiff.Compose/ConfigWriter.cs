using System.Globalization;

namespace Skiff.Compose;

/// <summary>
/// The normalised project as YAML (<c>compose config</c>), in Docker Compose's layout: long
/// syntaxes, absolute paths, keys of a service sorted. The per-service tree is also what the
/// config hash is computed from, so a change in any field recreates the service's containers.
/// </summary>
public static class ConfigWriter
{
    /// <summary>The whole project.</summary>
    public static string Write(Project p)
    {
        var root = new YMap { ["name"] = S(p.Name) };
        var services = new YMap();
        foreach (var s in p.Services.Values.OrderBy(s => s.Name, StringComparer.Ordinal)) services[s.Name] = ServiceNode(p, s);
        root["services"] = services;
        var used = UsedNetworks(p);
        if (used.Count > 0)
        {
            var nets = new YMap();
            foreach (var key in used.Order(StringComparer.Ordinal)) nets[key] = NetworkNode(p.Networks[key]);
            root["networks"] = nets;
        }
        if (p.Volumes.Count > 0)
        {
            var vols = new YMap();
            foreach (var (key, v) in p.Volumes.OrderBy(kv => kv.Key, StringComparer.Ordinal)) vols[key] = VolumeNode(v);
            root["volumes"] = vols;
        }
        return YamlWriter.Write(root);
    }

    /// <summary>Network keys used by enabled services, in first-use order.</summary>
    public static List<string> UsedNetworks(Project p)
    {
        var list = new List<string>();
        foreach (var s in p.Services.Values)
            foreach (var n in s.Networks.Keys)
                if (!list.Contains(n)) list.Add(n);
        return list;
    }

    /// <summary>One service's normalised configuration.</summary>
    public static YMap ServiceNode(Project p, Service s)
    {
        var m = new YMap();
        if (s.Build is { } b)
        {
            var bm = new YMap { ["context"] = S(b.Context), ["dockerfile"] = S(b.Dockerfile ?? "Dockerfile") };
            if (b.Args.Count > 0) bm["args"] = NullableMap(b.Args);
            if (b.Labels.Count > 0) bm["labels"] = StringMap(b.Labels);
            if (b.NoCache is { } nc) bm["no_cache"] = B(nc);
            if (b.Pull is { } pl) bm["pull"] = B(pl);
            if (b.Target is not null) bm["target"] = S(b.Target);
            m["build"] = bm;
        }
        if (s.CapAdd.Count > 0) m["cap_add"] = List(s.CapAdd);
        if (s.CapDrop.Count > 0) m["cap_drop"] = List(s.CapDrop);
        if (s.Command is not null) m["command"] = List(s.Command);
        if (s.ContainerName is not null) m["container_name"] = S(s.ContainerName);
        if (s.DependsOn.Count > 0)
        {
            var dm = new YMap();
            foreach (var (k, d) in s.DependsOn.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                dm[k] = new YMap { ["condition"] = S(d.Condition), ["required"] = B(d.Required), ["restart"] = B(d.Restart) };
            m["depends_on"] = dm;
        }
        if (s.Replicas is { } r) m["deploy"] = new YMap { ["replicas"] = N(r) };
        if (s.Dns.Count > 0) m["dns"] = List(s.Dns);
        if (s.Domainname is not null) m["domainname"] = S(s.Domainname);
        if (s.Entrypoint is not null) m["entrypoint"] = List(s.Entrypoint);
        if (s.Environment.Count > 0)
        {
            var em = new YMap();
            foreach (var (k, v) in s.Environment.OrderBy(kv => kv.Key, StringComparer.Ordinal)) em[k] = v is null ? null : S(v);
            m["environment"] = em;
        }
        if (s.Expose.Count > 0) m["expose"] = List(s.Expose);
        if (s.ExtraHosts.Count > 0) m["extra_hosts"] = List(s.ExtraHosts);
        if (s.Healthcheck is { } h)
        {
            var hm = new YMap();
            if (h.Disable) hm["disable"] = B(true);
            if (h.Interval is { } iv) hm["interval"] = S(FormatDuration(iv));
            if (h.Retries is { } rt) hm["retries"] = N(rt);
            if (h.StartInterval is { } si) hm["start_interval"] = S(FormatDuration(si));
            if (h.StartPeriod is { } sp) hm["start_period"] = S(FormatDuration(sp));
            if (h.Test is not null) hm["test"] = List(h.Test);
            if (h.Timeout is { } to) hm["timeout"] = S(FormatDuration(to));
            m["healthcheck"] = hm;
        }
        if (s.Hostname is not null) m["hostname"] = S(s.Hostname);
        if (s.Image is not null) m["image"] = S(s.Image);
        if (s.Init is { } init) m["init"] = B(init);
        if (s.Labels.Count > 0) m["labels"] = StringMap(s.Labels);
        if (s.NetworkMode is not null) m["network_mode"] = S(s.NetworkMode);
        if (s.Networks.Count > 0)
        {
            var nm = new YMap();
            foreach (var (k, n) in s.Networks.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                nm[k] = n.Aliases.Count == 0 ? null : new YMap { ["aliases"] = List(n.Aliases) };
            }
            m["networks"] = nm;
        }
        if (s.Platform is not null) m["platform"] = S(s.Platform);
        if (s.Ports.Count > 0)
        {
            var ps = new YSeq();
            foreach (var pc in s.Ports)
            {
                var pm = new YMap { ["mode"] = S(pc.Mode) };
                if (pc.HostIp is not null) pm["host_ip"] = S(pc.HostIp);
                pm["target"] = N(pc.Target);
                if (pc.Published is not null) pm["published"] = S(pc.Published);
                pm["protocol"] = S(pc.Protocol);
                ps.Items.Add(pm);
            }
            m["ports"] = ps;
        }
        if (s.Privileged is { } priv) m["privileged"] = B(priv);
        if (s.Profiles.Count > 0) m["profiles"] = List(s.Profiles);
        if (s.PullPolicy is not null) m["pull_policy"] = S(s.PullPolicy);
        if (s.ReadOnly is { } rdo) m["read_only"] = B(rdo);
        if (s.Restart is not null) m["restart"] = S(s.Restart);
        if (s.StdinOpen is { } so) m["stdin_open"] = B(so);
        if (s.StopGracePeriod is { } sg) m["stop_grace_period"] = S(FormatDuration(sg));
        if (s.StopSignal is not null) m["stop_signal"] = S(s.StopSignal);
        if (s.Tmpfs.Count > 0) m["tmpfs"] = List(s.Tmpfs);
        if (s.Tty is { } tty) m["tty"] = B(tty);
        if (s.User is not null) m["user"] = S(s.User);
        if (s.Volumes.Count > 0)
        {
            var vs = new YSeq();
            foreach (var v in s.Volumes)
            {
                var vm = new YMap { ["type"] = S(v.Type) };
                if (v.Source is not null) vm["source"] = S(v.Source);
                vm["target"] = S(v.Target);
                if (v.ReadOnly) vm["read_only"] = B(true);
                if (v.Type == "bind" && v.CreateHostPath is { } ch) vm["bind"] = new YMap { ["create_host_path"] = B(ch) };
                if (v.Type == "volume" && v.NoCopy is { } nc) vm["volume"] = new YMap { ["nocopy"] = B(nc) };
                if (v.Type == "tmpfs" && v.TmpfsSize is { } ts) vm["tmpfs"] = new YMap { ["size"] = N(ts) };
                vs.Items.Add(vm);
            }
            m["volumes"] = vs;
        }
        if (s.WorkingDir is not null) m["working_dir"] = S(s.WorkingDir);
        return m;
    }

    private static YMap NetworkNode(NetworkConfig n)
    {
        var m = new YMap { ["name"] = S(n.Name) };
        if (n.Attachable is { } a) m["attachable"] = B(a);
        if (n.Driver is not null) m["driver"] = S(n.Driver);
        if (n.DriverOpts.Count > 0) m["driver_opts"] = StringMap(n.DriverOpts);
        if (n.EnableIpv6 is { } v6) m["enable_ipv6"] = B(v6);
        if (n.External) m["external"] = B(true);
        if (n.Internal is { } i) m["internal"] = B(i);
        if (n.IpamConfig.Count > 0)
        {
            var cfg = new YSeq();
            foreach (var (subnet, gw) in n.IpamConfig)
            {
                var c = new YMap();
                if (subnet is not null) c["subnet"] = S(subnet);
                if (gw is not null) c["gateway"] = S(gw);
                cfg.Items.Add(c);
            }
            m["ipam"] = new YMap { ["config"] = cfg };
        }
        if (n.Labels.Count > 0) m["labels"] = StringMap(n.Labels);
        return m;
    }

    private static YMap VolumeNode(VolumeConfig v)
    {
        var m = new YMap { ["name"] = S(v.Name) };
        if (v.Driver is not null) m["driver"] = S(v.Driver);
        if (v.DriverOpts.Count > 0) m["driver_opts"] = StringMap(v.DriverOpts);
        if (v.External) m["external"] = B(true);
        if (v.Labels.Count > 0) m["labels"] = StringMap(v.Labels);
        return m;
    }

    /// <summary>Go's time.Duration.String() form: <c>1m30s</c>, <c>500ms</c>, <c>0s</c>.</summary>
    public static string FormatDuration(long ns)
    {
        if (ns == 0) return "0s";
        if (ns < 1_000_000_000)
        {
            if (ns % 1_000_000 == 0) return (ns / 1_000_000).ToString(CultureInfo.InvariantCulture) + "ms";
            if (ns % 1_000 == 0) return (ns / 1_000).ToString(CultureInfo.InvariantCulture) + "µs";
            return ns.ToString(CultureInfo.InvariantCulture) + "ns";
        }
        long h = ns / 3_600_000_000_000, rem = ns % 3_600_000_000_000;
        long mi = rem / 60_000_000_000;
        double sec = (rem % 60_000_000_000) / 1e9;
        string s = (h > 0 ? h + "h" : "") + (h > 0 || mi > 0 ? mi + "m" : "") + sec.ToString("0.#########", CultureInfo.InvariantCulture) + "s";
        return s;
    }

    private static YScalar S(string v) => new(v, true);
    private static YScalar N(long v) => new(v.ToString(CultureInfo.InvariantCulture));
    private static YScalar B(bool v) => new(v ? "true" : "false");
    private static YSeq List(IEnumerable<string> items)
    {
        var q = new YSeq();
        foreach (var i in items) q.Items.Add(S(i));
        return q;
    }
    private static YMap StringMap(IEnumerable<KeyValuePair<string, string>> items)
    {
        var m = new YMap();
        foreach (var (k, v) in items.OrderBy(kv => kv.Key, StringComparer.Ordinal)) m[k] = S(v);
        return m;
    }
    private static YMap NullableMap(IEnumerable<KeyValuePair<string, string?>> items)
    {
        var m = new YMap();
        foreach (var (k, v) in items.OrderBy(kv => kv.Key, StringComparer.Ordinal)) m[k] = v is null ? null : S(v);
        return m;
    }
}
