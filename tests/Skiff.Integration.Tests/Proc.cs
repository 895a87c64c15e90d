using System.Diagnostics;

namespace Skiff.Integration.Tests;

/// <summary>The outcome of a command run by a test.</summary>
public sealed record ProcResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>Runs commands with a time limit; a command that overruns is killed (it is ours, by PID).</summary>
public static class Proc
{
    public static ProcResult Run(string file, IEnumerable<string> args, IDictionary<string, string>? env = null, string? stdin = null, int timeoutMs = 60_000)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeoutMs} ms; output so far: {stdout.Result}{stderr.Result}");
        }
        return new ProcResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static ProcResult Sh(string script, IDictionary<string, string>? env = null, int timeoutMs = 60_000) =>
        Run("/bin/sh", ["-c", script], env, null, timeoutMs);
}
