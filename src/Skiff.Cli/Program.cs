using System.Text;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Skiff.Cli;

internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        // A terminal left in raw mode would break the user's shell; restore it on every exit path.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Terminal.RestoreIfRaw();
        var utf8 = new UTF8Encoding(false);
        var stdout = new StreamWriter(FdStream.Stdout(), utf8, 16 * 1024) { AutoFlush = false };
        var stderr = new StreamWriter(FdStream.Stderr(), utf8, 4 * 1024) { AutoFlush = true };
        int rc = 1;
        try
        {
            rc = await App.RunAsync(args, stdout, stderr).ConfigureAwait(false);
        }
        finally
        {
            try { stdout.Flush(); }
            catch (IOException) { rc = rc == 0 ? 141 : rc; }
            Terminal.RestoreIfRaw();
        }
        return rc;
    }
}
