using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Skiff.Integration.Tests;

/// <summary>
/// Debian's <c>docker-registry</c> (distribution 2.8) on 127.0.0.1:&lt;free port&gt; with a temporary storage dir, plus a
/// skiffd of its own (a <see cref="DaemonFixture"/>, so tests may kill it). Both processes are stopped by PID and every
/// directory removed on dispose.
/// </summary>
public sealed class RegistryFixture : IDisposable
{
    private readonly List<Process> _registries = [];

    public RegistryFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "skiff-reg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Root);
        Port = StartRegistry("main", null);
        Daemon = new DaemonFixture();
    }

    public string Root { get; }
    public int Port { get; }
    public string Registry => "127.0.0.1:" + Port;
    public DaemonFixture Daemon { get; }

    /// <summary>
    /// Starts another registry (e.g. an empty one, or one with htpasswd basic auth when <paramref name="htpasswd"/> is a
    /// file path) and returns its port; it is stopped with the fixture.
    /// </summary>
    public int StartRegistry(string name, string? htpasswd) => StartRegistryWithAuth(name, htpasswd is null ? null : $"""
        auth:
          htpasswd:
            realm: skiff-test
            path: {htpasswd}
        """);

    /// <summary>
    /// Starts a registry with the given top-level <c>auth:</c> YAML block (null: none) and returns its port. It listens on
    /// <paramref name="address"/>, with TLS when <paramref name="tlsCertificate"/> and <paramref name="tlsKey"/> (PEM files) are given.
    /// </summary>
    public int StartRegistryWithAuth(string name, string? authYaml, string address = "127.0.0.1", string? tlsCertificate = null, string? tlsKey = null)
    {
        int port = FreePort();
        string dir = Path.Combine(Root, name);
        Directory.CreateDirectory(Path.Combine(dir, "storage"));
        string auth = authYaml ?? "";
        string config = Path.Combine(dir, "config.yml");
        File.WriteAllText(config, $"""
            version: 0.1
            log:
              level: warn
              accesslog:
                disabled: true
            storage:
              filesystem:
                rootdirectory: {dir}/storage
              delete:
                enabled: true
            http:
              addr: {address}:{port}
            {(tlsCertificate is null ? "" : $"  tls:\n    certificate: {tlsCertificate}\n    key: {tlsKey}")}
            {auth}
            """);
        var psi = new ProcessStartInfo("docker-registry") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        psi.ArgumentList.Add("serve");
        psi.ArgumentList.Add(config);
        var p = Process.Start(psi)!;
        string log = Path.Combine(dir, "registry.log");
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_registries) File.AppendAllText(log, e.Data + "\n"); };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_registries) File.AppendAllText(log, e.Data + "\n"); };
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        lock (_registries) _registries.Add(p);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            if (p.HasExited) throw new InvalidOperationException("docker-registry exited: " + (File.Exists(log) ? File.ReadAllText(log) : ""));
            try
            {
                using var c = new TcpClient();
                c.Connect(IPAddress.Parse(address), port);
                return port;
            }
            catch (SocketException)
            {
                Thread.Sleep(30);
            }
        }
        throw new TimeoutException("docker-registry did not listen within 15 s");
    }

    public static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public ProcResult Docker(params string[] args) => Daemon.Docker(args);

    public void Dispose()
    {
        Daemon.Dispose();
        lock (_registries)
            foreach (var p in _registries)
            {
                try
                {
                    if (!p.HasExited) { p.Kill(); p.WaitForExit(5000); }
                }
                catch (InvalidOperationException)
                {
                }
                p.Dispose();
            }
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

[CollectionDefinition("registry")]
public sealed class RegistryCollection : ICollectionFixture<RegistryFixture>;
