using System.Diagnostics;

namespace Skiff.Integration.Tests;

/// <summary>
/// <c>docker run -it</c> and <c>docker exec -it</c> under a real terminal: the Docker CLI runs in a
/// detached tmux session (its own server socket, killed at the end), the test types into it and reads
/// the screen. Covers output, exit codes, window resize and ^C reaching the foreground process.
/// </summary>
[Collection("daemon")]
public sealed class TtyTests(DaemonFixture f)
{
    [Fact]
    public void RunInteractiveShell()
    {
        using var t = new Tmux(f, "run -it --name it-tty busybox sh");
        try
        {
            t.WaitFor(s => s.Contains("/ #"), "the shell prompt");
            t.Type("stty size");
            t.WaitFor(s => s.Contains("24 80"), "the initial size");
            t.Resize(30, 100);
            t.Type("stty size");
            t.WaitFor(s => s.Contains("30 100"), "the new size after a resize");
            // ^C stops the foreground sleep, the shell survives it.
            t.Type("sleep 100");
            Thread.Sleep(500);
            t.Keys("C-c");
            t.Type("echo alive-$?");
            t.WaitFor(s => s.Contains("alive-130"), "the shell after ^C");
            t.Type("tty; echo hi; exit 3");
            t.WaitFor(s => s.Contains("EXIT=3"), "the CLI's exit status");
            string screen = t.Screen();
            Assert.Contains("/dev/pts/0", screen);
            Assert.Contains("\nhi\n", screen);
            Assert.Equal("exited 3\n", f.Docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "it-tty").Stdout);
        }
        finally
        {
            f.Docker("rm", "-f", "it-tty");
        }
    }

    [Fact]
    public void RunInteractiveShellUnderInit()
    {
        // With --init the shell is not PID 1 and not the session leader: ^C must still reach its
        // foreground job through the terminal, and the exit status comes back through the reaper.
        using var t = new Tmux(f, "run -it --rm --init busybox sh");
        t.WaitFor(s => s.Contains("/ #"), "the shell prompt");
        t.Type("echo pid-$$");
        t.WaitFor(s => System.Text.RegularExpressions.Regex.IsMatch(s, @"\npid-\d+\n"), "the shell's pid");
        Assert.DoesNotMatch(@"\npid-1\n", t.Screen());
        t.Type("sleep 100");
        Thread.Sleep(500);
        t.Keys("C-c");
        t.Type("echo alive-$?");
        t.WaitFor(s => s.Contains("alive-130"), "the shell after ^C");
        t.Type("exit 5");
        t.WaitFor(s => s.Contains("EXIT=5"), "the CLI's exit status");
    }

    [Fact]
    public void ExecInteractiveShell()
    {
        var run = f.Docker("run", "-d", "--name", "it-exectty", "busybox", "sleep", "60");
        Assert.True(run.ExitCode == 0, run.ToString());
        try
        {
            using var t = new Tmux(f, "exec -it it-exectty sh");
            t.WaitFor(s => s.Contains("/ #"), "the shell prompt");
            t.Resize(33, 90);
            t.Type("stty size");
            t.WaitFor(s => s.Contains("33 90"), "the size after a resize");
            t.Type("sleep 100");
            Thread.Sleep(500);
            t.Keys("C-c");
            t.Type("echo alive-$?");
            t.WaitFor(s => s.Contains("alive-130"), "the shell after ^C");
            t.Type("echo hi; exit 3");
            t.WaitFor(s => s.Contains("EXIT=3"), "the CLI's exit status");
            Assert.Contains("\nhi\n", t.Screen());
            Assert.Equal("running\n", f.Docker("inspect", "-f", "{{.State.Status}}", "it-exectty").Stdout);
        }
        finally
        {
            f.Docker("rm", "-f", "it-exectty");
        }
    }

    /// <summary>One tmux server on a private socket running <c>docker ARGS; echo EXIT=$?</c> in an 80x24 window.</summary>
    private sealed class Tmux : IDisposable
    {
        private readonly string _socket;

        public Tmux(DaemonFixture f, string dockerArgs)
        {
            _socket = Path.Combine(f.Root, "tmux-" + Guid.NewGuid().ToString("N")[..8]);
            string env = string.Join(' ', f.DockerEnv.Select(kv => $"{kv.Key}={kv.Value}"));
            // The pane stays open after the CLI exits so the test can read its status.
            Run("new-session", "-d", "-s", "t", "-x", "80", "-y", "24",
                $"env {env} {DaemonFixture.DockerCli} {dockerArgs}; echo EXIT=$?; sleep 60");
        }

        public void Type(string line) => Run("send-keys", "-t", "t", "-l", line + "\r");

        public void Keys(string key) => Run("send-keys", "-t", "t", key);

        public void Resize(int rows, int cols) => Run("resize-window", "-t", "t", "-x", cols.ToString(), "-y", rows.ToString());

        public string Screen() => string.Join('\n', Run("capture-pane", "-p", "-J", "-S", "-", "-t", "t").Split('\n').Select(l => l.TrimEnd()));

        public void WaitFor(Func<string, bool> condition, string what)
        {
            var sw = Stopwatch.StartNew();
            string screen = "";
            while (sw.ElapsedMilliseconds < 15_000)
            {
                screen = Screen();
                if (condition(screen)) return;
                Thread.Sleep(100);
            }
            throw new TimeoutException($"waiting for {what}; screen:\n{screen}");
        }

        private string Run(params string[] args)
        {
            var r = Proc.Run("tmux", ["-S", _socket, .. args], timeoutMs: 10_000);
            if (r.ExitCode != 0) throw new InvalidOperationException($"tmux {string.Join(' ', args)}: {r}");
            return r.Stdout;
        }

        public void Dispose()
        {
            Proc.Run("tmux", ["-S", _socket, "kill-server"], timeoutMs: 10_000);
            try { File.Delete(_socket); } catch (IOException) { }
        }
    }
}
