using System.Diagnostics;
using System.Globalization;
using Skiff.Shim;

namespace Skiff.Daemon;

/// <summary>The answer of top: ps's column titles and one row per container process.</summary>
public sealed record TopResult(IReadOnlyList<string> Titles, IReadOnlyList<IReadOnlyList<string>> Processes);

public sealed partial class Daemon
{
    /// <summary>
    /// Docker's top: runs the host's <c>ps</c> with the given arguments (default <c>-ef</c>) and
    /// keeps the rows of the container's processes, found through its cgroup.
    /// </summary>
    public async Task<TopResult> TopAsync(string idOrName, string? psArgs)
    {
        var c = Containers.Get(idOrName);
        if (!c.Record.State.Running) throw DaemonException.Conflict($"Container {c.Id} is not running");
        var pids = (await c.Shim.CallAsync(new ShimRequest { Op = "pids" }).ConfigureAwait(false)).Pids ?? [];
        var psi = new ProcessStartInfo("ps") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string.IsNullOrWhiteSpace(psArgs) ? "-ef" : psArgs).Split(' ', StringSplitOptions.RemoveEmptyEntries)) psi.ArgumentList.Add(a);
        using var ps = Process.Start(psi) ?? throw new DaemonException(ErrorKind.Internal, "cannot run ps");
        var stdout = await ps.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
        var stderr = await ps.StandardError.ReadToEndAsync().ConfigureAwait(false);
        await ps.WaitForExitAsync().ConfigureAwait(false);
        if (ps.ExitCode != 0) throw DaemonException.Invalid($"Error running ps: {stderr.Trim()}");
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0) throw DaemonException.Invalid("ps printed nothing");
        var titles = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var pidColumn = Array.IndexOf(titles, "PID");
        if (pidColumn < 0) throw DaemonException.Invalid("Couldn't find PID field in ps output");
        var wanted = pids.ToHashSet();
        var rows = new List<IReadOnlyList<string>>();
        foreach (var line in lines.Skip(1))
        {
            // The last column (the command) may contain spaces: split into at most the number of titles.
            var fields = line.Split(' ', titles.Length, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (fields.Length <= pidColumn || !int.TryParse(fields[pidColumn], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            if (wanted.Contains(pid)) rows.Add(fields);
        }
        return new TopResult(titles, rows);
    }
}
