using System.Net.Sockets;
using Skiff.Linux;
using Skiff.Runtime.Spec;

namespace Skiff.Runtime.Tests;

public sealed class NamespaceTests
{
    private static LinuxContainer Create(BusyboxBundle b, StdioFds? stdio = null) => LinuxContainer.Create(new CreateOptions
    {
        Id = b.Id, BundlePath = b.Dir, Spec = b.Spec, StateRoot = b.StateRoot, InitPath = TestEnvironment.RuntimeBinary, Stdio = stdio,
    });

    [Fact]
    public void JoiningAnotherContainersNetworkAndIpcNamespaces()
    {
        using var a = new BusyboxBundle("sleep", "60");
        var first = Create(a);
        try
        {
            first.Start();
            using var b = new BusyboxBundle("sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts");
            b.Spec.Linux!.Namespaces!.RemoveAll(n => n.Type is "network" or "ipc");
            b.Spec.Linux.Namespaces.Add(new OciNamespace { Type = "network", Path = $"/proc/{first.Pid}/ns/net" });
            b.Spec.Linux.Namespaces.Add(new OciNamespace { Type = "ipc", Path = $"/proc/{first.Pid}/ns/ipc" });
            b.Save();
            RunResult r = Runner.Skiff(b);
            Assert.Equal(0, r.ExitCode);
            string[] lines = r.Stdout.Split('\n');
            Assert.Equal(new FileInfo($"/proc/{first.Pid}/ns/net").LinkTarget, lines[0]);
            Assert.Equal(new FileInfo($"/proc/{first.Pid}/ns/ipc").LinkTarget, lines[1]);
            Assert.NotEqual(new FileInfo($"/proc/{first.Pid}/ns/uts").LinkTarget, lines[2]);
        }
        finally
        {
            first.Kill(Libc.SIGKILL);
            first.WaitForExit();
            first.Delete(force: true);
        }
    }

    [Fact]
    public void PrivateCgroupNamespaceShowsTheContainerAsRoot()
    {
        using var b = new BusyboxBundle("sh", "-c", "grep -E ':(memory|pids):' /proc/self/cgroup");
        b.Spec.Linux!.Namespaces!.Add(new OciNamespace { Type = "cgroup" });
        b.Save();
        RunResult skiff = Runner.Skiff(b);
        RunResult runc = Runner.Runc(b);
        Assert.Equal(0, skiff.ExitCode);
        Assert.Equal(runc.Stdout.Split('\n').Select(l => l.Split(':')[^1]), skiff.Stdout.Split('\n').Select(l => l.Split(':')[^1]));
        Assert.Contains(":/\n", skiff.Stdout);
    }

    [Fact]
    public void CliCreateSendsThePtyMasterToTheConsoleSocket()
    {
        using var b = new BusyboxBundle("sh", "-c", "tty; echo ready");
        b.Spec.Process!.Terminal = true;
        b.Save();
        string socketPath = Path.Combine(b.Dir, "console.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen(1);
        int master = -1;
        var receiver = new Thread(() =>
        {
            using Socket conn = listener.Accept();
            byte[] buf = new byte[64];
            Libc.RecvWithFd((int)conn.Handle, buf, out master);
        });
        receiver.Start();
        try
        {
            RunResult created = Runner.Run(TestEnvironment.RuntimeBinary, ["--root", b.StateRoot, "create", "--bundle", b.Dir, "--console-socket", socketPath, b.Id]);
            Assert.True(created.ExitCode == 0, created.Stderr);
            Assert.True(receiver.Join(TimeSpan.FromSeconds(10)));
            Assert.True(master >= 0);
            Assert.Equal(0, Runner.Run(TestEnvironment.RuntimeBinary, ["--root", b.StateRoot, "start", b.Id]).ExitCode);
            byte[] output = new byte[256];
            var text = new System.Text.StringBuilder();
            while (!text.ToString().Contains("ready"))
            {
                int n = Libc.ReadSome(master, output);
                if (n <= 0) break;
                text.Append(System.Text.Encoding.ASCII.GetString(output, 0, n));
            }
            Assert.Equal("/dev/pts/0\r\nready\r\n", text.ToString());
        }
        finally
        {
            if (master >= 0) Libc.close(master);
            Runner.Run(TestEnvironment.RuntimeBinary, ["--root", b.StateRoot, "delete", "-f", b.Id]);
        }
    }
}
