using BenchmarkDotNet.Running;

// CPU (BenchmarkDotNet): dotnet run -c Release --project benchmarks/Electra.Benchmarks -- --filter '*Gemm*' --job short
// CUDA (CUDA events):    dotnet Electra.Benchmarks.dll --cuda --out DIR   (see Cuda/CudaBench.cs)
if (args.Contains("--cuda")) return Electra.Benchmarks.Cuda.CudaBench.Run(args);
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
