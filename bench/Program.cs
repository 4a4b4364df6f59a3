using BenchmarkDotNet.Running;

// `dotnet run -c Release` runs every benchmark; pass BenchmarkDotNet arguments (e.g. --filter *Check*) to choose.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args.Length == 0 ? ["--filter", "*"] : args);
