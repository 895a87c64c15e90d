using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Skiff.Api;

/// <summary>Builds the Engine API server: Kestrel on the daemon's sockets, version middleware, routes.</summary>
public static class ApiServer
{
    /// <summary>
    /// <paramref name="hosts"/> are dockerd-style addresses: <c>unix:///path</c> or <c>tcp://ip:port</c>.
    /// </summary>
    public static WebApplication Build(Daemon.Daemon daemon, IReadOnlyList<string> hosts, bool debug)
    {
        // No appsettings.json reload: it would watch the working directory tree (a thread and inotify watches) for nothing.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Logging.ClearProviders();
        if (debug) builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Information);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            // Image import streams the request body straight into the layer extractor, which reads synchronously.
            k.AllowSynchronousIO = true;
            k.Limits.MaxRequestBodySize = null;
            k.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(10);
            foreach (var host in hosts)
            {
                if (host.StartsWith("unix://", StringComparison.Ordinal))
                {
                    var path = host["unix://".Length..];
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    if (File.Exists(path)) File.Delete(path);
                    k.ListenUnixSocket(path, l => l.Use(HalfCloseConnection.Middleware));
                }
                else if (host.StartsWith("tcp://", StringComparison.Ordinal))
                {
                    var uri = new Uri(host);
                    k.Listen(System.Net.IPAddress.Parse(uri.Host), uri.Port, l => l.Use(HalfCloseConnection.Middleware));
                }
                else
                {
                    throw new ArgumentException($"unsupported host: {host} (want unix:///path or tcp://ip:port)");
                }
            }
        });
        // Hijacked attach streams never "complete"; a stopping daemon must not wait for them.
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        var app = builder.Build();
        app.Use(IdleTrim.Middleware);
        app.Use(ApiVersion.Middleware);
        app.UseRouting();
        SystemRoutes.Map(app, daemon);
        ContainerRoutes.Map(app, daemon);
        ImageRoutes.Map(app, daemon);
        ImageTransferRoutes.Map(app, daemon);
        DiskUsageRoutes.Map(app, daemon);
        ExecRoutes.Map(app, daemon);
        VolumeRoutes.Map(app, daemon);
        NetworkRoutes.Map(app, daemon);
        BuildRoutes.Map(app, daemon);
        EventRoutes.Map(app, daemon);
        StatsRoutes.Map(app, daemon);
        ArchiveRoutes.Map(app, daemon);
        CommitRoutes.Map(app, daemon);
        app.MapFallback(Errors.Handle(ctx => Errors.WriteAsync(ctx, 404, "page not found")));
        return app;
    }
}
