using System.Text.Json;
using System.Text.Json.Nodes;
using Skiff.Cli;
using Skiff.Client.Models;

namespace Skiff.Cli.Tests;

/// <summary>
/// Tables rendered from captured Engine API answers must equal what Docker's CLI v28 printed for
/// the same answers (captured together, see golden/now.txt for the capture time).
/// </summary>
public class GoldenTableTests
{
    private static string Golden(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "golden", name));

    private static DateTimeOffset CaptureTime => DateTimeOffset.FromUnixTimeSeconds(long.Parse(Golden("now.txt").Split('\n')[0]));

    private static List<ContainerSummary> Containers(string file) => JsonSerializer.Deserialize(Golden(file), ApiJson.Default.ListContainerSummary)!;

    private static string Ps(string file, string format, bool trunc = true)
        => Formatting.Render(format, Containers(file).Select(c => (JsonNode?)ListCommands.PsRow(c, CaptureTime, trunc)), ListCommands.PsHeaders());

    [Fact]
    public void PsDefaultTable() => Assert.Equal(Golden("ps_a.txt"), Ps("ps_api.json", ListCommands.PsDefaultFormat));

    [Fact]
    public void PsNoTrunc() => Assert.Equal(Golden("ps_a_notrunc.txt"), Ps("ps_api.json", ListCommands.PsDefaultFormat, trunc: false));

    [Fact]
    public void PsWithSize() => Assert.Equal(Golden("ps_size.txt"), Ps("ps_size_api.json", ListCommands.PsDefaultFormat + "\t{{.Size}}"));

    [Fact]
    public void PsCustomTableWithLabelMethod()
        => Assert.Equal(Golden("ps_custom.txt"), Ps("ps_api.json", "table {{.Names}}\\t{{.Labels}}\\t{{.State}}\\t{{.Label \"a\"}}"));

    [Fact]
    public void PsJson() => Assert.Equal(Golden("ps_json.txt"), Ps("ps_size_api.json", "{{json .}}"));

    private static string Images(string format, bool trunc = true)
    {
        var images = JsonSerializer.Deserialize(Golden("images_api.json"), ApiJson.Default.ListImageSummary)!;
        return Formatting.Render(format, images.SelectMany(i => ListCommands.ImageRows(i, CaptureTime, trunc)), ListCommands.ImageHeaders());
    }

    [Fact]
    public void ImagesDefaultTable() => Assert.Equal(Golden("images.txt"), Images(ListCommands.ImagesDefaultFormat));

    [Fact]
    public void ImagesNoTrunc() => Assert.Equal(Golden("images_notrunc.txt"), Images(ListCommands.ImagesDefaultFormat, trunc: false));

    [Fact]
    public void ImagesJson() => Assert.Equal(Golden("images_json.txt"), Images("{{json .}}"));

    [Theory]
    [InlineData("[]", "")]
    [InlineData("""[{"PrivatePort":80,"Type":"tcp"}]""", "80/tcp")]
    [InlineData("""[{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"}]""", "0.0.0.0:8080->80/tcp")]
    [InlineData("""[{"IP":"::","PrivatePort":80,"PublicPort":8080,"Type":"tcp"}]""", "[::]:8080->80/tcp")]
    [InlineData("""[{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"},{"IP":"0.0.0.0","PrivatePort":81,"PublicPort":8081,"Type":"tcp"}]""", "0.0.0.0:8080-8081->80-81/tcp")]
    [InlineData("""[{"PrivatePort":53,"Type":"udp"},{"PrivatePort":80,"Type":"tcp"}]""", "80/tcp, 53/udp")]
    public void Ports(string json, string expected)
        => Assert.Equal(expected, ListCommands.DisplayablePorts(JsonSerializer.Deserialize("""{"Id":"x","Ports":""" + json + "}", ApiJson.Default.ContainerSummary)!.Ports!));
}
