using Skiff.Cli;

namespace Skiff.Cli.Tests;

public class FlagParserTests
{
    private static ParsedArgs RunArgs(params string[] args) => FlagParser.Parse(args, RunOptions.Flags, stopAtFirstPositional: true);

    [Fact]
    public void CombinedShortBooleans()
    {
        var a = RunArgs("-it", "busybox", "sh");
        Assert.True(a.Bool("interactive"));
        Assert.True(a.Bool("tty"));
        Assert.Equal(["busybox", "sh"], a.Positionals);
    }

    [Fact]
    public void LongFlagForms()
    {
        var a = RunArgs("--name", "x", "--workdir=/tmp", "--rm", "busybox");
        Assert.Equal("x", a.Get("name"));
        Assert.Equal("/tmp", a.Get("workdir"));
        Assert.True(a.Bool("rm"));
    }

    [Fact]
    public void ShortFlagValueForms()
    {
        var a = RunArgs("-eA=1", "-e", "B=2", "-e=C=3", "-uroot", "busybox");
        Assert.Equal(["A=1", "B=2", "C=3"], a.GetAll("env"));
        Assert.Equal("root", a.Get("user"));
    }

    [Fact]
    public void CombinedBooleansEndingInValueFlag()
    {
        var a = RunArgs("-itd", "-dp", "80:80", "busybox");
        Assert.True(a.Bool("detach"));
        Assert.Equal(["80:80"], a.GetAll("publish"));
        var b = RunArgs("-ite", "K=V", "busybox");
        Assert.Equal(["K=V"], b.GetAll("env"));
    }

    [Fact]
    public void FirstPositionalEndsFlagParsing()
    {
        var a = RunArgs("--rm", "busybox", "ls", "-la", "--name", "y");
        Assert.Null(a.Get("name"));
        Assert.Equal(["busybox", "ls", "-la", "--name", "y"], a.Positionals);
    }

    [Fact]
    public void DoubleDashEndsFlags()
    {
        var a = RunArgs("--rm", "--", "-weird-image", "x");
        Assert.Equal(["-weird-image", "x"], a.Positionals);
    }

    [Fact]
    public void InterspersedFlagsForOtherCommands()
    {
        var a = FlagParser.Parse(["c1", "-f", "c2"], Commands.Rm.Flags, false);
        Assert.True(a.Bool("force"));
        Assert.Equal(["c1", "c2"], a.Positionals);
    }

    [Fact]
    public void BoolWithExplicitValue()
    {
        Assert.False(RunArgs("--rm=false", "busybox").Bool("rm"));
        Assert.True(RunArgs("--rm=1", "busybox").Bool("rm"));
        var e = Assert.Throws<FlagException>(() => RunArgs("--rm=maybe", "busybox"));
        Assert.Equal("invalid argument \"maybe\" for \"--rm\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax", e.Message);
    }

    [Theory]
    [InlineData(new[] { "--foo", "busybox" }, "unknown flag: --foo")]
    [InlineData(new[] { "-z", "busybox" }, "unknown shorthand flag: 'z' in -z")]
    [InlineData(new[] { "-iz", "busybox" }, "unknown shorthand flag: 'z' in -iz")]
    [InlineData(new[] { "--name" }, "flag needs an argument: --name")]
    [InlineData(new[] { "-e" }, "flag needs an argument: 'e' in -e")]
    [InlineData(new[] { "-m", "1x", "busybox" }, "invalid argument \"1x\" for \"-m, --memory\" flag: invalid suffix: 'x'")]
    [InlineData(new[] { "--stop-timeout", "abc", "busybox" }, "invalid argument \"abc\" for \"--stop-timeout\" flag: strconv.ParseInt: parsing \"abc\": invalid syntax")]
    public void DockerErrorMessages(string[] args, string message)
    {
        var e = Assert.Throws<FlagException>(() => RunArgs(args));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void ArgCountMessagesMatchDocker()
    {
        Assert.Equal("accepts no arguments", App.ArgCountError(Commands.Ps, 1));
        Assert.Equal("requires 2 arguments", App.ArgCountError(Commands.Tag, 1));
        Assert.Equal("requires 1 argument", App.ArgCountError(Commands.Logs, 0));
        Assert.Equal("requires at least 1 argument", App.ArgCountError(Commands.Run, 0));
        Assert.Null(App.ArgCountError(Commands.Rm, 3));
    }

    [Fact]
    public void ManagementCommandsResolve()
    {
        var (def, args) = App.Resolve(["container", "ls", "-a"]);
        Assert.Equal("container ls", def!.Name);
        Assert.Equal(["-a"], args);
        Assert.Equal("image rm", App.Resolve(["image", "rm", "x"]).Def!.Name);
        Assert.Null(App.Resolve(["nonsense"]).Def);
    }
}

public class HelpTests
{
    public static IEnumerable<object[]> AllCommands()
    {
        foreach (string name in Commands.TopLevel.Keys) yield return [new[] { name }];
        foreach (var (group, subs) in Commands.Groups)
            foreach (string sub in subs.Keys) yield return [new[] { group, sub }];
    }

    [Theory]
    [MemberData(nameof(AllCommands))]
    public async Task EveryCommandHasHelp(string[] words)
    {
        var stdout = new StringWriter();
        int code = await App.RunAsync(["-H", "unix:///nonexistent.sock", .. words, "--help"], stdout, new StringWriter());
        Assert.Equal(0, code);
        Assert.Contains("Usage:  skiff " + words[0], stdout.ToString());
    }

    [Fact]
    public async Task MainHelpAndVersionFlag()
    {
        var stdout = new StringWriter();
        Assert.Equal(0, await App.RunAsync([], stdout, new StringWriter()));
        Assert.StartsWith("Usage:  skiff [OPTIONS] COMMAND", stdout.ToString());
        stdout = new StringWriter();
        Assert.Equal(0, await App.RunAsync(["--version"], stdout, new StringWriter()));
        Assert.Equal("Skiff version " + App.Version + "\n", stdout.ToString());
    }

    [Fact]
    public async Task UnknownCommand()
    {
        var stderr = new StringWriter();
        Assert.Equal(1, await App.RunAsync(["frobnicate"], new StringWriter(), stderr));
        Assert.StartsWith("skiff: unknown command: skiff frobnicate", stderr.ToString());
    }
}
