namespace Skiff.Compose.Tests;

/// <summary>Loader rules that fail or that are easier to state one by one than in golden files.</summary>
public sealed class LoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("skiff-compose-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private Project Load(string yaml, Dictionary<string, string>? env = null, string? projectName = null, List<string>? warnings = null, string file = "compose.yaml")
    {
        File.WriteAllText(Path.Combine(_dir, file), yaml);
        return ProjectLoader.Load(new LoadOptions { CurrentDirectory = _dir, Environment = env ?? [], ProjectName = projectName, Warn = w => warnings?.Add(w) });
    }

    private ComposeException Fails(string yaml, Dictionary<string, string>? env = null, string? projectName = null)
        => Assert.Throws<ComposeException>(() => Load(yaml, env, projectName));

    [Fact]
    public void RequiredVariableMissingFailsWithItsMessage()
    {
        var e = Fails("services:\n  a:\n    image: ${IMAGE:?set IMAGE to an image}\n");
        Assert.Equal("required variable IMAGE is missing a value: set IMAGE to an image", e.Message);
    }

    [Fact]
    public void RequiredVariableWithoutColonAcceptsEmpty()
    {
        var p = Load("name: x\nservices:\n  a:\n    image: busybox\n    environment:\n      V: \"[${E?must be set}]\"\n", new() { ["E"] = "" });
        Assert.Equal("[]", p.Services["a"].Environment["V"]);
    }

    [Fact]
    public void UnsetVariableWarnsAndBecomesEmpty()
    {
        var warnings = new List<string>();
        var p = Load("name: x\nservices:\n  a:\n    image: busybox${NOPE}\n", warnings: warnings);
        Assert.Equal("busybox", p.Services["a"].Image);
        Assert.Contains("The \"NOPE\" variable is not set. Defaulting to a blank string.", warnings);
    }

    [Fact]
    public void BadInterpolationSyntaxFails()
    {
        var e = Fails("services:\n  a:\n    image: \"${\"\n");
        Assert.Contains("invalid interpolation format", e.Message);
    }

    [Fact]
    public void UndefinedDependencyFails()
    {
        var e = Fails("name: x\nservices:\n  a:\n    image: busybox\n    depends_on: [b]\n");
        Assert.Equal("service \"a\" depends on undefined service \"b\": invalid compose project", e.Message);
    }

    [Fact]
    public void DependencyCycleFails()
    {
        var e = Fails("name: x\nservices:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n");
        Assert.StartsWith("dependency cycle detected: ", e.Message);
    }

    [Fact]
    public void DependencyOrderPutsDependenciesFirst()
    {
        var p = Load("name: x\nservices:\n  c:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n  a:\n    image: busybox\n");
        Assert.Equal(["a", "b", "c"], ProjectLoader.DependencyOrder(p.Services.Values.ToList(), p).Select(s => s.Name));
    }

    [Fact]
    public void UnknownServiceKeyFails()
    {
        var e = Fails("name: x\nservices:\n  a:\n    image: busybox\n    imagee: typo\n");
        Assert.Equal("services.a Additional property imagee is not allowed", e.Message);
    }

    [Fact]
    public void ExtensionKeysAreAllowed()
    {
        var p = Load("name: x\nx-top: 1\nservices:\n  a:\n    image: busybox\n    x-note: fine\n");
        Assert.True(p.Services.ContainsKey("a"));
    }

    [Fact]
    public void UndefinedVolumeAndNetworkFail()
    {
        Assert.Equal("service \"a\" refers to undefined volume data: invalid compose project", Fails("name: x\nservices:\n  a:\n    image: busybox\n    volumes: [data:/d]\n").Message);
        Assert.Equal("service \"a\" refers to undefined network back: invalid compose project", Fails("name: x\nservices:\n  a:\n    image: busybox\n    networks: [back]\n").Message);
    }

    [Theory]
    [InlineData("My_Project", "my_project")]
    [InlineData("-_web.App 2", "webapp2")]
    [InlineData("UPPER-case", "upper-case")]
    public void DirectoryNamesAreNormalised(string dir, string expected) => Assert.Equal(expected, ProjectLoader.NormalizeProjectName(dir));

    [Fact]
    public void ProjectNamePrecedence()
    {
        const string yaml = "name: fromfile\nservices:\n  a:\n    image: busybox\n";
        Assert.Equal("fromfile", Load(yaml).Name);
        Assert.Equal("fromenv", Load(yaml, new() { ["COMPOSE_PROJECT_NAME"] = "fromenv" }).Name);
        Assert.Equal("fromflag", Load(yaml, new() { ["COMPOSE_PROJECT_NAME"] = "fromenv" }, "fromflag").Name);
        File.WriteAllText(Path.Combine(_dir, ".env"), "COMPOSE_PROJECT_NAME=fromdotenv\n");
        Assert.Equal("fromdotenv", Load(yaml).Name);
    }

    [Fact]
    public void InvalidProjectNameFails()
    {
        var e = Fails("services:\n  a:\n    image: busybox\n", projectName: "Bad Name");
        Assert.StartsWith("invalid project name \"Bad Name\"", e.Message);
    }

    [Fact]
    public void ServiceWithoutImageOrBuildFails()
    {
        var e = Fails("name: x\nservices:\n  a:\n    command: echo\n");
        Assert.Equal("service \"a\" has neither an image nor a build context specified: invalid compose project", e.Message);
    }

    [Fact]
    public void RequiredDependencyDisabledByProfileFails()
    {
        var e = Fails("name: x\nservices:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    profiles: [extra]\n");
        Assert.Equal("service \"b\" is required by \"a\" but is disabled by its profiles", e.Message);
    }

    [Fact]
    public void ExplicitFilesMergeInOrder()
    {
        File.WriteAllText(Path.Combine(_dir, "a.yaml"), "name: x\nservices:\n  s:\n    image: one\n    command: [a, b]\n");
        File.WriteAllText(Path.Combine(_dir, "b.yaml"), "services:\n  s:\n    image: two\n    command: [c]\n");
        var p = ProjectLoader.Load(new LoadOptions { CurrentDirectory = _dir, Files = ["a.yaml", "b.yaml"], Environment = new Dictionary<string, string>() });
        Assert.Equal("two", p.Services["s"].Image);
        Assert.Equal(["c"], p.Services["s"].Command!);
        Assert.Equal([Path.Combine(_dir, "a.yaml"), Path.Combine(_dir, "b.yaml")], p.ConfigFiles);
    }

    [Fact]
    public void MissingFileIsReported()
    {
        var e = Assert.Throws<ComposeException>(() => ProjectLoader.Load(new LoadOptions { CurrentDirectory = _dir, Environment = new Dictionary<string, string>() }));
        Assert.Equal("no configuration file provided: not found", e.Message);
    }

    [Fact]
    public void ObsoleteVersionWarns()
    {
        var warnings = new List<string>();
        Load("version: \"3.8\"\nname: x\nservices:\n  a:\n    image: busybox\n", warnings: warnings);
        Assert.Contains(warnings, w => w.Contains("the attribute `version` is obsolete"));
    }

    [Fact]
    public void ConfigHashChangesWithTheServiceButNotWithReplicas()
    {
        var p1 = Load("name: x\nservices:\n  a:\n    image: busybox\n    command: [one]\n");
        var p2 = Load("name: x\nservices:\n  a:\n    image: busybox\n    command: [two]\n");
        var p3 = Load("name: x\nservices:\n  a:\n    image: busybox\n    command: [one]\n    deploy:\n      replicas: 3\n");
        string H(Project p) => ConfigHash.Compute(p, p.Services["a"], "sha256:0123");
        Assert.NotEqual(H(p1), H(p2));
        Assert.Equal(H(p1), H(p3));
    }

    [Fact]
    public void DotEnvQuotingRules()
    {
        var env = DotEnv.Parse("A=plain # comment\nB='single $A'\nC=\"double $A\\n\"\nexport D=exported\nE=\"multi\nline\"\n", ".env", _ => null);
        Assert.Equal("plain", env["A"]);
        Assert.Equal("single $A", env["B"]);
        Assert.Equal("double plain\n", env["C"]);
        Assert.Equal("exported", env["D"]);
        Assert.Equal("multi\nline", env["E"]);
    }

    [Fact]
    public void ShellWordsSplitLikeAShell()
    {
        Assert.Equal(["sh", "-c", "echo \"hi\" $X", "a b"], ShellWords.Split("sh -c 'echo \"hi\" $X' a\\ b", "t"));
        Assert.Throws<ComposeException>(() => ShellWords.Split("echo 'open", "t"));
    }
}
