using Skiff.Build.Dockerfile;

namespace Skiff.Build.Tests;

/// <summary>
/// Golden files in the spirit of BuildKit's parser tests: <c>testfiles/&lt;case&gt;/Dockerfile</c> parses to
/// <c>testfiles/&lt;case&gt;/result</c> (the AST dump, or <c>error: ...</c> with the line number for bad files).
/// Set SKIFF_UPDATE_GOLDEN=1 to rewrite the results after a deliberate change (then review the diff).
/// </summary>
public sealed class ParserGoldenTests
{
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "testfiles");

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var d in Directory.GetDirectories(Path.Combine(AppContext.BaseDirectory, "testfiles")).Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(d));
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ParsesToGolden(string name)
    {
        string text = File.ReadAllText(Path.Combine(Dir, name, "Dockerfile"));
        string actual;
        try
        {
            actual = Parser.Parse(text).Dump();
        }
        catch (DockerfileException e)
        {
            actual = "error: " + e.Message + "\n";
        }
        string resultPath = Path.Combine(Dir, name, "result");
        if (Environment.GetEnvironmentVariable("SKIFF_UPDATE_GOLDEN") == "1")
        {
            string source = Path.Combine(FindSourceDir(), "testfiles", name, "result");
            File.WriteAllText(source, actual);
            return;
        }
        Assert.Equal(File.ReadAllText(resultPath), actual);
        if (name.StartsWith("bad-", StringComparison.Ordinal)) Assert.Matches("^error: dockerfile parse error on line [0-9]+: ", actual);
        else Assert.DoesNotContain("error:", actual, StringComparison.Ordinal);
    }

    private static string FindSourceDir()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Skiff.Build.Tests.csproj"))) return d.FullName;
        throw new InvalidOperationException("test sources not found");
    }
}
