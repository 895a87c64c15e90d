using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Skiff.Daemon;

namespace Skiff.Api;

/// <summary>
/// The one place where failures become HTTP: a status per <see cref="ErrorKind"/> and Docker's body
/// <c>{"message": "..."}</c> with exactly <c>Content-Type: application/json</c> (the Docker CLI
/// prints the raw body when a charset follows).
/// </summary>
internal static class Errors
{
    public static int Status(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidArgument => 400,
        ErrorKind.NotFound => 404,
        ErrorKind.Conflict => 409,
        ErrorKind.NotModified => 304,
        ErrorKind.Forbidden => 403,
        ErrorKind.Unauthorized => 401,
        ErrorKind.Unavailable => 503,
        _ => 500,
    };

    public static async Task WriteAsync(HttpContext ctx, int status, string message)
    {
        if (ctx.Response.HasStarted) return;
        ctx.Response.StatusCode = status;
        if (status == 304) return;
        ctx.Response.Headers.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(ctx.Response.Body, new ErrorBody { Message = message }, ApiJson.Default.ErrorBody).ConfigureAwait(false);
    }

    /// <summary>Runs a handler, turning classified failures into their status and bad input into 400.</summary>
    public static RequestDelegate Handle(Func<HttpContext, Task> handler) => async ctx =>
    {
        try
        {
            await handler(ctx).ConfigureAwait(false);
        }
        catch (DaemonException e)
        {
            await WriteAsync(ctx, Status(e.Kind), e.Message).ConfigureAwait(false);
        }
        catch (BadRequestException e)
        {
            await WriteAsync(ctx, 400, e.Message).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            await WriteAsync(ctx, 400, "invalid JSON: " + e.Message).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // Unclassified: a bug or an environment failure. The client gets the message, the log the stack.
            Console.Error.WriteLine($"skiffd: {ctx.Request.Method} {ctx.Request.Path}: {e}");
            await WriteAsync(ctx, 500, e.Message).ConfigureAwait(false);
        }
    };
}

/// <summary>A malformed request (query parameter, body) detected by the API layer itself.</summary>
internal sealed class BadRequestException(string message) : Exception(message);
