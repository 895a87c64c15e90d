using System.Diagnostics;

namespace Skiff.TestSupport;

/// <summary>A temp directory removed (recursively, without following symlinks) on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "skiff-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Sub(string name)
    {
        var p = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(p);
        return p;
    }

    /// <summary>A build context <c>ctx/</c> here: the Dockerfile and the given files (directories made as needed).</summary>
    public string Context(string dockerfile, params (string Path, string Content)[] files)
    {
        string dir = Sub("ctx");
        File.WriteAllText(System.IO.Path.Combine(dir, "Dockerfile"), dockerfile);
        foreach (var (p, c) in files)
        {
            string full = System.IO.Path.Combine(dir, p);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
            File.WriteAllText(full, c);
        }
        return dir;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (DirectoryNotFoundException) { }
    }
}

public static class Sh
{
    /// <summary>Runs a program and returns stdout; throws with stderr when it fails.</summary>
    public static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {stderr}");
        return stdout;
    }

    public static void Mount(string options, string target) => Run("mount", "-t", "overlay", "overlay", "-o", options, target);

    public static void Umount(string target)
    {
        try { Run("umount", target); } catch (InvalidOperationException) { Run("umount", "-l", target); }
    }
}
