namespace Skiff.Compose.Tests;

/// <summary>
/// The config-hash of every service of each config-hash/&lt;case&gt;/compose.yaml equals docker-compose 1.29.2's,
/// recorded in expected.txt by config-hash/generate.py (docker-compose's own code, project "golden", image ID
/// sha256:0123, an empty shell environment: run it in the case directory with <c>env -i /usr/bin/python3</c>).
/// </summary>
public class ConfigHashTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var d in Directory.GetDirectories(Path.Combine(AppContext.BaseDirectory, "config-hash")).Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(d));
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void HashEqualsDockerCompose129(string name)
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "config-hash", name);
        var project = ProjectLoader.Load(new LoadOptions { CurrentDirectory = dir, ProjectName = "golden", Environment = new Dictionary<string, string>() });
        var expected = File.ReadAllLines(Path.Combine(dir, "expected.txt")).Where(l => l.Length > 0).ToList();
        Assert.Equal(expected.Count, project.Services.Count);
        foreach (var line in expected)
        {
            var (service, hash) = (line.Split(' ')[0], line.Split(' ')[1]);
            var s = project.Services[service];
            Assert.True(hash == ConfigHash.Compute(project, s, "sha256:0123"),
                $"{service}: {ConfigHash.Json(ConfigHash.ConfigDict(project, s, "sha256:0123"))}");
        }
    }

    [Fact]
    public void JsonIsWrittenAsPythonWritesIt()
    {
        var d = new SortedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["b"] = new List<object?> { 1L, 0.5, null, true, "é\n\"x\"/" },
            ["a"] = "\u007f\u0001",
        };
        Assert.Equal("{\"a\":\"\u007f\\u0001\",\"b\":[1,0.5,null,true,\"\\u00e9\\n\\\"x\\\"/\"]}", ConfigHash.Json(d));
    }
}
