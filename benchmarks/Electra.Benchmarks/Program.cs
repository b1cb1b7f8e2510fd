using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/Electra.Benchmarks -- --filter '*'
// dotnet Electra.Benchmarks.dll --cuda --out DIR   (CUDA-event kernel timings; see Cuda/CudaBench.cs)
if (args.Contains("--cuda")) return Electra.Benchmarks.Cuda.CudaBench.Run(args);
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
