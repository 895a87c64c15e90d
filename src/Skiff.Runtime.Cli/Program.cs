using Skiff.Runtime.Init;

namespace Skiff.Runtime.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        // The second stage: dispatched before anything else so the init pays for nothing it does not use.
        Skiff.Runtime.Trace.Mark("main");
        if (args.Length == 1 && args[0] == "init") return InitStage.Run();
        if (args.Length > 0 && args[0] == "shim") return Skiff.Shim.ShimProgram.Run(args[1..]);
        return Commands.Run(args);
    }
}
