using System.Text.Json.Nodes;
using Skiff.Cli;

namespace Skiff.Cli.Tests;

public class TemplateTests
{
    private static readonly JsonNode Inspect = JsonNode.Parse("""
        {"Id":"abc","Name":"/t1","State":{"Status":"running","Running":true,"ExitCode":0,"Health":null},
         "Config":{"Cmd":["sleep","1000"],"Labels":{"b":"2","a":"1"},"Env":["A=1","B=<x>&"]},"HostConfig":{"Memory":67108864}}
        """)!;

    private static string Run(string template, JsonNode? data = null) => GoTemplate.Parse(template).Execute(data ?? Inspect);

    [Theory]
    [InlineData("{{.State.Status}}", "running")]
    [InlineData("{{.Name}}", "/t1")]
    [InlineData("{{.HostConfig.Memory}}", "67108864")]
    [InlineData("{{.State.Running}}", "true")]
    [InlineData("{{.State.Health}}", "<nil>")]
    [InlineData("{{.Config.Cmd}}", "[sleep 1000]")]
    [InlineData("{{.Config.Labels}}", "map[a:1 b:2]")]
    [InlineData("{{json .Config.Cmd}}", "[\"sleep\",\"1000\"]")]
    [InlineData("{{json .State.Health}}", "null")]
    [InlineData("{{json .Config.Env}}", "[\"A=1\",\"B=\\u003cx\\u003e\\u0026\"]")]
    [InlineData("{{join .Config.Cmd \",\"}}", "sleep,1000")]
    [InlineData("{{upper .State.Status}}", "RUNNING")]
    [InlineData("{{.State.Status | upper}}", "RUNNING")]
    [InlineData("{{index .Config.Labels \"a\"}}", "1")]
    [InlineData("{{len .Config.Cmd}}", "2")]
    [InlineData("{{if .State.Running}}up{{else}}down{{end}}", "up")]
    [InlineData("{{if eq .State.Status \"exited\"}}x{{else if .State.Running}}r{{end}}", "r")]
    [InlineData("{{range .Config.Env}}[{{.}}]{{end}}", "[A=1][B=<x>&]")]
    [InlineData("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "a=1;b=2;")]
    [InlineData("{{range $i, $e := .Config.Cmd}}{{$i}}:{{$e}} {{end}}", "0:sleep 1:1000 ")]
    [InlineData("{{range $e := .Config.Cmd}}<{{$e}}>{{end}}", "<sleep><1000>")]
    [InlineData("{{$n := .Name}}{{with .State}}{{$n}} {{.Status}}{{end}}", "/t1 running")]
    [InlineData("{{range .Config.Cmd}}{{$.Name}}{{end}}", "/t1/t1")]
    [InlineData("{{with .State}}{{.Status}}{{end}}", "running")]
    [InlineData("{{printf \"%s-%s\" .Name .State.Status}}", "/t1-running")]
    [InlineData("a {{- \" b \" -}} c", "a b c")]
    [InlineData("[{{printf \"%-8s\" .State.Status}}]", "[running ]")]
    [InlineData("[{{printf \"%10s|%.3s\" .Name .State.Status}}]", "[       /t1|run]")]
    [InlineData("{{printf \"%05d %q %v\" .HostConfig.Memory .Name .State.Running}}", "67108864 \"/t1\" true")]
    [InlineData("{{printf \"%s %s\" .Name}}", "/t1 %!s(MISSING)")]
    [InlineData("{{$.Name}}", "/t1")]
    [InlineData("{{title \"hello world\"}}", "Hello World")]
    [InlineData("{{lower (index .Config.Labels \"a\")}}", "1")]
    public void Evaluates(string template, string expected)
    {
        Assert.Equal(expected, Run(template));
    }

    [Fact]
    public void MissingKeyIsAnErrorLikeDocker()
    {
        var e = Assert.Throws<TemplateException>(() => Run("{{.State.Nope}}", JsonNode.Parse("""{"X":1}""")));
        Assert.Equal("template: :1:8: executing \"\" at <.State.Nope>: map has no entry for key \"State\"", e.Message);
        Assert.True(e.Execution);
    }

    [Fact]
    public void ParseErrors()
    {
        var e = Assert.Throws<TemplateException>(() => GoTemplate.Parse("{{.Names"));
        Assert.Equal("template: :1: unclosed action", e.Message);
        Assert.False(e.Execution);
        Assert.Throws<TemplateException>(() => GoTemplate.Parse("{{if .X}}"));
        Assert.Throws<TemplateException>(() => Run("{{nosuchfunc .Name}}"));
    }

    [Fact]
    public void LabelMethodReadsHiddenMapAndHeaderShowsKey()
    {
        var row = new JsonObject { ["Labels"] = "a=1", ["\0Labels"] = new JsonObject { ["a"] = "1" } };
        Assert.Equal("1|", Run("{{.Label \"a\"}}|{{.Label \"zz\"}}", row));
        Assert.Equal("{\"Labels\":\"a=1\"}", Run("{{json .}}", row));
        Assert.Equal("a", Run("{{.Label \"a\"}}", new JsonObject { ["Labels"] = "LABELS" }));
    }

    [Fact]
    public void TableFormatAddsHeaderAndAligns()
    {
        var rows = new JsonNode?[] { new JsonObject { ["ID"] = "abc", ["Names"] = "n1" }, new JsonObject { ["ID"] = "abcdefabcdef", ["Names"] = "second" } };
        var headers = new JsonObject { ["ID"] = "CONTAINER ID", ["Names"] = "NAMES" };
        string got = Formatting.Render("table {{.ID}}\\t{{.Names}}", rows, headers);
        Assert.Equal("CONTAINER ID   NAMES\nabc            n1\nabcdefabcdef   second\n", got);
        Assert.Equal("abc\nabcdefabcdef\n", Formatting.Render("{{.ID}}", rows, headers));
        Assert.Equal("{\"ID\":\"abc\",\"Names\":\"n1\"}\n", Formatting.Render("json", rows.Take(1), headers));
    }
}
