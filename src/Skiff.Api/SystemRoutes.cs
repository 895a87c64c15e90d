using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Skiff.Daemon;

namespace Skiff.Api;

/// <summary>/_ping, /version, /info.</summary>
internal static class SystemRoutes
{
    public static void Map(IEndpointRouteBuilder app, Daemon.Daemon daemon)
    {
        app.MapMethods("/_ping", ["GET", "HEAD"], async ctx =>
        {
            var h = ctx.Response.Headers;
            h.CacheControl = "no-cache, no-store, must-revalidate";
            h.Pragma = "no-cache";
            h["Builder-Version"] = "1";
            h["Swarm"] = "inactive";
            h.ContentType = "text/plain; charset=utf-8";
            if (HttpMethods.IsHead(ctx.Request.Method))
            {
                h.ContentLength = 0;
                return;
            }
            await ctx.Response.WriteAsync("OK").ConfigureAwait(false);
        });

        app.MapGet("/version", Errors.Handle(async ctx =>
        {
            var kernel = KernelVersion();
            var v = new VersionResponse
            {
                Platform = new PlatformName { Name = "Skiff Engine" },
                Components =
                [
                    new ComponentVersion
                    {
                        Name = "Engine",
                        Version = ApiVersion.EngineVersion,
                        Details = new()
                        {
                            ["ApiVersion"] = ApiVersion.Current, ["MinAPIVersion"] = ApiVersion.Minimum, ["Arch"] = "amd64",
                            ["Os"] = "linux", ["KernelVersion"] = kernel, ["GitCommit"] = "", ["GoVersion"] = "",
                            ["Experimental"] = "false", ["BuildTime"] = "",
                        },
                    },
                    new ComponentVersion { Name = "skiff-runtime", Version = ApiVersion.EngineVersion, Details = new() { ["GitCommit"] = "" } },
                ],
                Version = ApiVersion.EngineVersion,
                ApiVersion = ApiVersion.Current,
                MinAPIVersion = ApiVersion.Minimum,
                GoVersion = "n/a (.NET " + Environment.Version + ")",
                KernelVersion = kernel,
            };
            await WriteJson(ctx, v, ApiJson.Default.VersionResponse).ConfigureAwait(false);
        }));

        app.MapGet("/info", Errors.Handle(async ctx =>
        {
            var all = daemon.Containers.All;
            var running = all.Count(c => c.Record.State.Status == ContainerStatus.Running);
            var paused = all.Count(c => c.Record.State.Status == ContainerStatus.Paused);
            var info = new InfoResponse
            {
                ID = daemon.Id,
                Containers = all.Count,
                ContainersRunning = running,
                ContainersPaused = paused,
                ContainersStopped = all.Count - running - paused,
                Images = daemon.Images.Count,
                DriverStatus = [["Backing Filesystem", "extfs"], ["Supports d_type", "true"], ["Using metacopy", "false"], ["Native Overlay Diff", "true"]],
                Plugins = new() { ["Volume"] = ["local"], ["Network"] = ["bridge", "host", "none"], ["Log"] = ["json-file"], ["Authorization"] = null },
                SystemTime = DateTimeOffset.Now.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffffzzz", System.Globalization.CultureInfo.InvariantCulture),
                CgroupVersion = Directory.Exists("/sys/fs/cgroup/memory") ? "1" : "2",
                KernelVersion = KernelVersion(),
                OperatingSystem = OsName(),
                OSVersion = "",
                NCPU = Environment.ProcessorCount,
                MemTotal = MemTotal(),
                DockerRootDir = daemon.Options.DataRoot,
                Name = Environment.MachineName,
                ServerVersion = ApiVersion.EngineVersion,
                Runtimes = new() { ["skiff-runtime"] = new RuntimeInfo { Path = daemon.Options.RuntimePath } },
                DefaultRuntime = "skiff-runtime",
                InitBinary = "skiff-runtime",
                SecurityOptions = daemon.Options.Remap is null ? ["name=seccomp,profile=builtin"] : ["name=seccomp,profile=builtin", "name=userns"],
                RegistryConfig = RegistryConfigDto.From(daemon.Options.InsecureRegistries),
                NFd = Directory.GetFiles("/proc/self/fd").Length,
                NGoroutines = System.Diagnostics.Process.GetCurrentProcess().Threads.Count,
            };
            await WriteJson(ctx, info, ApiJson.Default.InfoResponse).ConfigureAwait(false);
        }));
    }

    internal static async Task WriteJson<T>(HttpContext ctx, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, int status = 200)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.Headers.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(ctx.Response.Body, value, type).ConfigureAwait(false);
    }

    private static string KernelVersion()
    {
        try { return File.ReadAllText("/proc/sys/kernel/osrelease").Trim(); }
        catch (IOException) { return ""; }
    }

    private static string OsName()
    {
        try
        {
            foreach (var line in File.ReadLines("/etc/os-release"))
                if (line.StartsWith("PRETTY_NAME=", StringComparison.Ordinal)) return line[12..].Trim('"');
        }
        catch (IOException) { }
        return "Linux";
    }

    private static long MemTotal()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        return 0;
    }
}
