using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/Electra.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
