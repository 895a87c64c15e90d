using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace Skiff.Api;

/// <summary>
/// Engine API version negotiation. Requests may carry a <c>/v1.xx</c> prefix: it is checked
/// against the supported range and stripped before routing, and the version is kept for handlers
/// whose behaviour depends on it. Every response carries Docker's identification headers.
/// </summary>
internal static partial class ApiVersion
{
    public const string Current = "1.50";
    public const string Minimum = "1.24";
    public const string EngineVersion = Skiff.Daemon.Daemon.Version;
    private const string ItemKey = "skiff.api-version";

    [GeneratedRegex(@"^/v(\d+)\.(\d+)(/.*)$")]
    private static partial Regex Prefix();

    public static async Task Middleware(HttpContext ctx, RequestDelegate next)
    {
        var h = ctx.Response.Headers;
        h["Api-Version"] = Current;
        h["Docker-Experimental"] = "false";
        h["Ostype"] = "linux";
        h["Server"] = $"Skiff/{EngineVersion} (linux)";

        var path = ctx.Request.Path.Value ?? "/";
        var m = Prefix().Match(path);
        var version = new Version(1, 50);
        if (m.Success)
        {
            version = new Version(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
            ctx.Request.Path = m.Groups[3].Value;
            if (version > new Version(1, 50))
            {
                await Errors.WriteAsync(ctx, 400, $"client version {version.Major}.{version.Minor} is too new. Maximum supported API version is {Current}").ConfigureAwait(false);
                return;
            }
            if (version < new Version(1, 24))
            {
                await Errors.WriteAsync(ctx, 400, $"client version {version.Major}.{version.Minor} is too old. Minimum supported API version is {Minimum}, please upgrade your client to a newer version").ConfigureAwait(false);
                return;
            }
        }
        ctx.Items[ItemKey] = version;
        await next(ctx).ConfigureAwait(false);
    }

    public static Version Of(HttpContext ctx) => ctx.Items[ItemKey] as Version ?? new Version(1, 50);
}
