namespace Skiff.Cli;

/// <summary>The command table: Docker's names, usage lines and flags, top-level and management forms.</summary>
public static class Commands
{
    private static FlagSpec F(string l, char s = '\0', FlagKind k = FlagKind.Bool) => new(l, s, k);
    private static FlagSpec S(string l, char s = '\0') => new(l, s, FlagKind.String);
    private static FlagSpec L(string l, char s = '\0') => new(l, s, FlagKind.List);

    /// <summary>The run flags of the given names, with their validators (update shares run's resource flags).</summary>
    private static FlagSpec[] RunFlags(params string[] names) => RunOptions.Flags.Where(f => names.Contains(f.Long)).ToArray();

    private static string? IntValidator(string v) => int.TryParse(v, out _) ? null : $"strconv.ParseInt: parsing \"{v}\": invalid syntax";

    /// <summary>run</summary>
    public static readonly CommandDef Run = new("run", "run [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container from an image", RunOptions.Flags, ContainerCommands.Run, 1, -1, true);
    /// <summary>create</summary>
    public static readonly CommandDef Create = new("create", "create [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container", RunOptions.Flags, ContainerCommands.Create, 1, -1, true);
    /// <summary>start</summary>
    public static readonly CommandDef Start = new("start", "start [OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers", [F("attach", 'a'), F("interactive", 'i'), S("detach-keys")], ContainerCommands.Start, 1);
    /// <summary>wait</summary>
    public static readonly CommandDef Wait = new("wait", "wait CONTAINER [CONTAINER...]", "Block until one or more containers stop, then print their exit codes", [], ContainerCommands.Wait, 1);
    /// <summary>logs</summary>
    public static readonly CommandDef Logs = new("logs", "logs [OPTIONS] CONTAINER", "Fetch the logs of a container", [F("follow", 'f'), S("tail", 'n'), S("since"), S("until"), F("timestamps", 't'), F("details")], ContainerCommands.Logs, 1, 1);
    /// <summary>ps</summary>
    public static readonly CommandDef Ps = new("ps", "ps [OPTIONS]", "List containers", [F("all", 'a'), F("quiet", 'q'), new("last", 'n', FlagKind.String, IntValidator), F("latest", 'l'), F("size", 's'), L("filter", 'f'), S("format"), F("no-trunc")], ListCommands.Ps, 0, 0);
    /// <summary>rm</summary>
    public static readonly CommandDef Rm = new("rm", "rm [OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", [F("force", 'f'), F("volumes", 'v'), F("link", 'l')], ContainerCommands.Remove, 1);
    /// <summary>stop</summary>
    public static readonly CommandDef Stop = new("stop", "stop [OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers", [new("time", 't', FlagKind.String, IntValidator), new("timeout", '\0', FlagKind.String, IntValidator), S("signal", 's')], ContainerCommands.Stop, 1);
    /// <summary>restart</summary>
    public static readonly CommandDef Restart = new("restart", "restart [OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers", [new("time", 't', FlagKind.String, IntValidator), new("timeout", '\0', FlagKind.String, IntValidator), S("signal", 's')], ContainerCommands.Restart, 1);
    /// <summary>kill</summary>
    public static readonly CommandDef Kill = new("kill", "kill [OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers", [S("signal", 's')], ContainerCommands.Kill, 1);
    /// <summary>pause</summary>
    public static readonly CommandDef Pause = new("pause", "pause CONTAINER [CONTAINER...]", "Pause all processes within one or more containers", [], ContainerCommands.Pause, 1);
    /// <summary>unpause</summary>
    public static readonly CommandDef Unpause = new("unpause", "unpause CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers", [], ContainerCommands.Unpause, 1);
    /// <summary>rename</summary>
    public static readonly CommandDef Rename = new("rename", "rename CONTAINER NEW_NAME", "Rename a container", [], ContainerCommands.Rename, 2, 2);
    /// <summary>attach</summary>
    public static readonly CommandDef Attach = new("attach", "attach [OPTIONS] CONTAINER", "Attach local standard input, output, and error streams to a running container", [F("no-stdin"), F("sig-proxy"), S("detach-keys")], ContainerCommands.Attach, 1, 1);
    /// <summary>top</summary>
    public static readonly CommandDef Top = new("top", "top CONTAINER [ps OPTIONS]", "Display the running processes of a container", [], ContainerCommands.Top, 1, -1, true);
    /// <summary>port</summary>
    public static readonly CommandDef Port = new("port", "port CONTAINER [PRIVATE_PORT[/PROTO]]", "List port mappings or a specific mapping for the container", [], ContainerCommands.Port, 1, 2);
    /// <summary>diff</summary>
    public static readonly CommandDef Diff = new("diff", "diff CONTAINER", "Inspect changes to files or directories on a container's filesystem", [], ContainerCommands.Diff, 1, 1);
    /// <summary>export</summary>
    public static readonly CommandDef Export = new("export", "export [OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive", [S("output", 'o')], ContainerCommands.Export, 1, 1);
    /// <summary>cp</summary>
    public static readonly CommandDef Cp = new("cp", "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tskiff cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH", "Copy files/folders between a container and the local filesystem", [F("archive", 'a'), F("follow-link", 'L'), F("quiet", 'q')], ContainerCommands.Copy, 2, 2);
    /// <summary>exec</summary>
    public static readonly CommandDef Exec = new("exec", "exec [OPTIONS] CONTAINER COMMAND [ARG...]", "Execute a command in a running container", [F("detach", 'd'), F("interactive", 'i'), F("tty", 't'), S("user", 'u'), S("workdir", 'w'), L("env", 'e'), L("env-file"), F("privileged"), S("detach-keys")], ContainerCommands.Exec, 2, -1, true);
    /// <summary>update</summary>
    public static readonly CommandDef Update = new("update", "update [OPTIONS] CONTAINER [CONTAINER...]", "Update configuration of one or more containers", RunFlags("memory", "memory-swap", "memory-reservation", "cpus", "cpu-shares", "cpu-period", "cpu-quota", "cpuset-cpus", "cpuset-mems", "pids-limit", "restart"), ContainerCommands.Update, 1);
    /// <summary>import</summary>
    public static readonly CommandDef Import = new("import", "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]", "Import the contents from a tarball to create a filesystem image", [L("change", 'c'), S("message", 'm'), S("platform")], ImageCommands.Import, 1, 2);
    /// <summary>images</summary>
    public static readonly CommandDef Images = new("images", "images [OPTIONS] [REPOSITORY[:TAG]]", "List images", [F("all", 'a'), F("quiet", 'q'), L("filter", 'f'), S("format"), F("no-trunc"), F("digests")], ListCommands.Images, 0, 1);
    /// <summary>rmi</summary>
    public static readonly CommandDef Rmi = new("rmi", "rmi [OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", [F("force", 'f'), F("no-prune")], ImageCommands.Remove, 1);
    /// <summary>tag</summary>
    public static readonly CommandDef Tag = new("tag", "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", [], ImageCommands.Tag, 2, 2);
    /// <summary>pull</summary>
    public static readonly CommandDef Pull = new("pull", "pull [OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", [F("all-tags", 'a'), F("quiet", 'q'), S("platform"), F("disable-content-trust")], ImageCommands.Pull, 1, 1);
    /// <summary>push</summary>
    public static readonly CommandDef Push = new("push", "push [OPTIONS] NAME[:TAG]", "Upload an image to a registry", [F("all-tags", 'a'), F("quiet", 'q'), F("disable-content-trust")], ImageCommands.Push, 1, 1);
    /// <summary>save</summary>
    public static readonly CommandDef Save = new("save", "save [OPTIONS] IMAGE [IMAGE...]", "Save one or more images to a tar archive (streamed to STDOUT by default)", [S("output", 'o')], ImageCommands.Save, 1);
    /// <summary>load</summary>
    public static readonly CommandDef Load = new("load", "load [OPTIONS]", "Load an image from a tar archive or STDIN", [S("input", 'i'), F("quiet", 'q')], ImageCommands.Load, 0, 0);
    /// <summary>history</summary>
    public static readonly CommandDef History = new("history", "history [OPTIONS] IMAGE", "Show the history of an image", [F("human", 'H'), F("no-trunc"), F("quiet", 'q'), S("format")], ImageCommands.History, 1, 1);
    /// <summary>commit</summary>
    public static readonly CommandDef Commit = new("commit", "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", "Create a new image from a container's changes", [S("author", 'a'), L("change", 'c'), S("message", 'm'), F("pause", 'p')], ImageCommands.Commit, 1, 2);
    /// <summary>inspect</summary>
    public static readonly CommandDef Inspect = new("inspect", "inspect [OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on Docker objects", [S("format", 'f'), F("size", 's'), S("type")], (c, a) => SystemCommands.Inspect(c, a, null), 1);
    /// <summary>version</summary>
    public static readonly CommandDef VersionCmd = new("version", "version [OPTIONS]", "Show the Docker version information", [S("format", 'f')], SystemCommands.Version, 0, 0);
    /// <summary>info</summary>
    public static readonly CommandDef Info = new("info", "info [OPTIONS]", "Display system-wide information", [S("format", 'f')], SystemCommands.Info, 0, 0);
    /// <summary>events</summary>
    public static readonly CommandDef Events = new("events", "events [OPTIONS]", "Get real time events from the server", [S("since"), S("until"), L("filter", 'f'), S("format")], SystemCommands.Events, 0, 0);
    /// <summary>stats</summary>
    public static readonly CommandDef Stats = new("stats", "stats [OPTIONS] [CONTAINER...]", "Display a live stream of container(s) resource usage statistics", [F("all", 'a'), F("no-stream"), F("no-trunc"), S("format")], SystemCommands.Stats);
    /// <summary>login</summary>
    public static readonly CommandDef Login = new("login", "login [OPTIONS] [SERVER]", "Authenticate to a registry", [S("username", 'u'), S("password", 'p'), F("password-stdin")], SystemCommands.Login, 0, 1);

    /// <summary>compose: its subcommands are parsed by <see cref="ComposeCommands"/>.</summary>
    public static readonly CommandDef Compose = new("compose", "compose [OPTIONS] COMMAND", "Define and run multi-container applications", ComposeCommands.GlobalFlags, ComposeCommands.Run, 0, -1, true);
    /// <summary>build</summary>
    public static readonly CommandDef Build = new("build", "build [OPTIONS] PATH | URL | -", "Build an image from a Dockerfile",
        [L("tag", 't'), S("file", 'f'), L("build-arg"), L("label"), S("target"), F("no-cache"), F("pull"), F("quiet", 'q'), F("rm"), F("force-rm"),
         S("network"), S("platform"), L("add-host"), S("iidfile"), L("secret"), L("ssh"), L("output", 'o')], BuildCommands.Build, 1, 1);
    /// <summary>builder prune</summary>
    public static readonly CommandDef BuilderPrune = new("builder prune", "builder prune [OPTIONS]", "Remove build cache",
        [F("all", 'a'), F("force", 'f'), L("filter"), S("keep-storage")], BuildCommands.Prune, 0, 0);

    /// <summary>logout</summary>
    public static readonly CommandDef Logout = new("logout", "logout [SERVER]", "Log out from a registry", [], SystemCommands.Logout, 0, 1);

    private static CommandDef Sub(string group, string name, string usage, string summary, FlagSpec[] flags, Func<CliContext, ParsedArgs, Task<int>> run, int min = 0, int max = -1)
        => new($"{group} {name}", $"{group} {usage}", summary, flags, run, min, max);

    private static CommandDef Alias(CommandDef d, string group, string name) => d with { Name = $"{group} {name}", Usage = $"{group} {d.Usage.Replace(d.Name + " ", name + " ")}" };

    /// <summary>Top-level commands by name.</summary>
    public static readonly Dictionary<string, CommandDef> TopLevel = new(StringComparer.Ordinal)
    {
        ["run"] = Run, ["create"] = Create, ["start"] = Start, ["wait"] = Wait, ["logs"] = Logs, ["ps"] = Ps,
        ["rm"] = Rm, ["stop"] = Stop, ["restart"] = Restart, ["kill"] = Kill, ["pause"] = Pause, ["unpause"] = Unpause,
        ["rename"] = Rename, ["attach"] = Attach, ["top"] = Top, ["port"] = Port, ["diff"] = Diff, ["export"] = Export, ["cp"] = Cp,
        ["exec"] = Exec, ["update"] = Update, ["import"] = Import, ["images"] = Images, ["rmi"] = Rmi, ["tag"] = Tag,
        ["pull"] = Pull, ["push"] = Push, ["save"] = Save, ["load"] = Load, ["history"] = History, ["commit"] = Commit,
        ["inspect"] = Inspect, ["version"] = VersionCmd, ["info"] = Info, ["events"] = Events, ["stats"] = Stats, ["login"] = Login, ["logout"] = Logout, ["build"] = Build,
        ["compose"] = Compose,
    };

    /// <summary>Management commands ("container ls", "image rm", "volume create", ...).</summary>
    public static readonly Dictionary<string, Dictionary<string, CommandDef>> Groups = new(StringComparer.Ordinal)
    {
        ["container"] = new(StringComparer.Ordinal)
        {
            ["run"] = Alias(Run, "container", "run"), ["create"] = Alias(Create, "container", "create"), ["start"] = Alias(Start, "container", "start"),
            ["wait"] = Alias(Wait, "container", "wait"), ["logs"] = Alias(Logs, "container", "logs"),
            ["ls"] = Alias(Ps, "container", "ls") with { Usage = "container ls [OPTIONS]" }, ["list"] = Alias(Ps, "container", "ls") with { Usage = "container ls [OPTIONS]" }, ["ps"] = Alias(Ps, "container", "ls") with { Usage = "container ls [OPTIONS]" },
            ["rm"] = Alias(Rm, "container", "rm"), ["stop"] = Alias(Stop, "container", "stop"), ["restart"] = Alias(Restart, "container", "restart"),
            ["kill"] = Alias(Kill, "container", "kill"), ["pause"] = Alias(Pause, "container", "pause"), ["unpause"] = Alias(Unpause, "container", "unpause"),
            ["rename"] = Alias(Rename, "container", "rename"), ["top"] = Alias(Top, "container", "top"), ["port"] = Alias(Port, "container", "port"),
            ["diff"] = Alias(Diff, "container", "diff"), ["export"] = Alias(Export, "container", "export"), ["cp"] = Alias(Cp, "container", "cp"),
            ["exec"] = Alias(Exec, "container", "exec"), ["update"] = Alias(Update, "container", "update"), ["commit"] = Alias(Commit, "container", "commit"),
            ["stats"] = Alias(Stats, "container", "stats"), ["attach"] = Alias(Attach, "container", "attach"),
            ["inspect"] = Sub("container", "inspect", "inspect [OPTIONS] CONTAINER [CONTAINER...]", "Display detailed information on one or more containers", [S("format", 'f'), F("size", 's')], (c, a) => SystemCommands.Inspect(c, a, "container"), 1),
            ["prune"] = Sub("container", "prune", "prune [OPTIONS]", "Remove all stopped containers", [F("force", 'f'), L("filter")], ContainerCommands.Prune, 0, 0),
        },
        ["image"] = new(StringComparer.Ordinal)
        {
            ["ls"] = Alias(Images, "image", "ls") with { Usage = "image ls [OPTIONS] [REPOSITORY[:TAG]]" }, ["list"] = Alias(Images, "image", "ls") with { Usage = "image ls [OPTIONS] [REPOSITORY[:TAG]]" },
            ["rm"] = Alias(Rmi, "image", "rm") with { Usage = "image rm [OPTIONS] IMAGE [IMAGE...]" }, ["remove"] = Alias(Rmi, "image", "rm") with { Usage = "image rm [OPTIONS] IMAGE [IMAGE...]" },
            ["tag"] = Alias(Tag, "image", "tag"), ["pull"] = Alias(Pull, "image", "pull"), ["push"] = Alias(Push, "image", "push"),
            ["save"] = Alias(Save, "image", "save"), ["load"] = Alias(Load, "image", "load"), ["history"] = Alias(History, "image", "history"),
            ["import"] = Alias(Import, "image", "import"), ["build"] = Alias(Build, "image", "build"),
            ["inspect"] = Sub("image", "inspect", "inspect [OPTIONS] IMAGE [IMAGE...]", "Display detailed information on one or more images", [S("format", 'f')], (c, a) => SystemCommands.Inspect(c, a, "image"), 1),
            ["prune"] = Sub("image", "prune", "prune [OPTIONS]", "Remove unused images", [F("all", 'a'), F("force", 'f'), L("filter")], ImageCommands.Prune, 0, 0),
        },
        ["volume"] = new(StringComparer.Ordinal)
        {
            ["create"] = Sub("volume", "create", "create [OPTIONS] [VOLUME]", "Create a volume", [S("driver", 'd'), L("opt", 'o'), L("label"), S("name")], SystemCommands.VolumeCreate, 0, 1),
            ["ls"] = Sub("volume", "ls", "ls [OPTIONS]", "List volumes", [F("quiet", 'q'), L("filter", 'f'), S("format")], SystemCommands.VolumeList, 0, 0),
            ["list"] = Sub("volume", "ls", "ls [OPTIONS]", "List volumes", [F("quiet", 'q'), L("filter", 'f'), S("format")], SystemCommands.VolumeList, 0, 0),
            ["rm"] = Sub("volume", "rm", "rm [OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes", [F("force", 'f')], SystemCommands.VolumeRemove, 1),
            ["inspect"] = Sub("volume", "inspect", "inspect [OPTIONS] VOLUME [VOLUME...]", "Display detailed information on one or more volumes", [S("format", 'f')], (c, a) => SystemCommands.Inspect(c, a, "volume"), 1),
            ["prune"] = Sub("volume", "prune", "prune [OPTIONS]", "Remove unused local volumes", [F("all", 'a'), F("force", 'f'), L("filter")], SystemCommands.VolumePrune, 0, 0),
        },
        ["network"] = new(StringComparer.Ordinal)
        {
            ["create"] = Sub("network", "create", "create [OPTIONS] NETWORK", "Create a network", [S("driver", 'd'), F("internal"), F("ipv6"), L("label"), L("subnet"), L("gateway"), L("ip-range")], SystemCommands.NetworkCreate, 1, 1),
            ["ls"] = Sub("network", "ls", "ls [OPTIONS]", "List networks", [F("quiet", 'q'), L("filter", 'f'), S("format"), F("no-trunc")], SystemCommands.NetworkList, 0, 0),
            ["list"] = Sub("network", "ls", "ls [OPTIONS]", "List networks", [F("quiet", 'q'), L("filter", 'f'), S("format"), F("no-trunc")], SystemCommands.NetworkList, 0, 0),
            ["rm"] = Sub("network", "rm", "rm NETWORK [NETWORK...]", "Remove one or more networks", [F("force", 'f')], SystemCommands.NetworkRemove, 1),
            ["inspect"] = Sub("network", "inspect", "inspect [OPTIONS] NETWORK [NETWORK...]", "Display detailed information on one or more networks", [S("format", 'f')], (c, a) => SystemCommands.Inspect(c, a, "network"), 1),
            ["connect"] = Sub("network", "connect", "connect [OPTIONS] NETWORK CONTAINER", "Connect a container to a network", [L("alias"), S("ip")], (c, a) => SystemCommands.NetworkConnect(c, a, true), 2, 2),
            ["disconnect"] = Sub("network", "disconnect", "disconnect [OPTIONS] NETWORK CONTAINER", "Disconnect a container from a network", [F("force", 'f')], (c, a) => SystemCommands.NetworkConnect(c, a, false), 2, 2),
            ["prune"] = Sub("network", "prune", "prune [OPTIONS]", "Remove all unused networks", [F("force", 'f'), L("filter")], SystemCommands.NetworkPrune, 0, 0),
        },
        ["builder"] = new(StringComparer.Ordinal)
        {
            ["build"] = Alias(Build, "builder", "build"),
            ["prune"] = BuilderPrune,
        },
        ["system"] = new(StringComparer.Ordinal)
        {
            ["info"] = Alias(Info, "system", "info"),
            ["events"] = Alias(Events, "system", "events"),
            ["df"] = Sub("system", "df", "df [OPTIONS]", "Show docker disk usage", [S("format"), F("verbose", 'v')], SystemCommands.SystemDf, 0, 0),
            ["prune"] = Sub("system", "prune", "prune [OPTIONS]", "Remove unused data", [F("all", 'a'), F("force", 'f'), F("volumes"), L("filter")], SystemCommands.SystemPrune, 0, 0),
        },
    };
}
