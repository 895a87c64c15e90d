using Skiff.Runtime.Init;

namespace Skiff.Runtime.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        // The second stage: dispatched before anything else so the init pays for nothing it does not use.
        Skiff.Runtime.Trace.Mark("main");
        // The spawner marks the second stage by its environment (argv is Docker's /sbin/docker-init line in --init mode).
        if (Environment.GetEnvironmentVariable("SKIFF_INIT") == "1") return InitStage.Run();
        if (args.Length > 0 && args[0] == "shim") return Skiff.Shim.ShimProgram.Run(args[1..]);
        return Commands.Run(args);
    }
}
