namespace Skiff.Compose.Tests;

/// <summary>
/// <c>compose config</c> output for each testfiles/&lt;case&gt;/ (compose.yaml, an optional
/// compose.override.yaml and .env) compared with its expected.yaml. The case directory is shown
/// as /CASE. SKIFF_UPDATE_GOLDEN=1 rewrites the expected files.
/// </summary>
public class GoldenTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var d in Directory.GetDirectories(Path.Combine(AppContext.BaseDirectory, "testfiles")).Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(d));
        return data;
    }

    /// <summary>The shell environment every case sees (the process environment is not used).</summary>
    public static readonly Dictionary<string, string> ShellEnv = new()
    {
        ["FROM_SHELL"] = "shell",
        ["OVERRIDDEN"] = "from-shell",
        ["ONLY_KEY"] = "from-shell-env",
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ConfigMatchesGolden(string name)
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "testfiles", name);
        var warnings = new List<string>();
        var project = ProjectLoader.Load(new LoadOptions { CurrentDirectory = dir, Environment = ShellEnv, Warn = warnings.Add });
        string actual = ConfigWriter.Write(project).Replace(dir, "/CASE");
        foreach (var w in warnings) actual += "# warning: " + w + "\n";
        string expectedPath = Path.Combine(dir, "expected.yaml");
        if (Environment.GetEnvironmentVariable("SKIFF_UPDATE_GOLDEN") == "1")
        {
            string src = Path.Combine(FindSourceDir(), "testfiles", name, "expected.yaml");
            File.WriteAllText(src, actual);
            return;
        }
        Assert.True(File.Exists(expectedPath), $"missing {expectedPath}; run with SKIFF_UPDATE_GOLDEN=1 and review the result");
        Assert.Equal(File.ReadAllText(expectedPath), actual);
    }

    private static string FindSourceDir()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Skiff.Compose.Tests.csproj"))) return d.FullName;
        throw new InvalidOperationException("test sources not found");
    }
}
