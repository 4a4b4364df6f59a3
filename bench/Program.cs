using BenchmarkDotNet.Running;
using Floodgate.Bench;

// `dotnet run -c Release` runs every benchmark; pass BenchmarkDotNet arguments (e.g. --filter *Check*) to choose.
// `dotnet run -c Release -- attacks` replays the README's attacks and prints their table.
if (args is ["attacks"])
{
    AttackReplay.Run();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args.Length == 0 ? ["--filter", "*"] : args);
