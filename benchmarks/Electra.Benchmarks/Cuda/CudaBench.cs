using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Electra.Cuda;
using Electra.Cuda.Interop;

namespace Electra.Benchmarks.Cuda;

/// <summary>
/// CUDA-event timings of the device ceilings (device-to-device copy, cuBLAS TF32 and BF16 GEMM) and of every
/// wired CudaBackend primitive at ELECTRA-Small shapes (B = 128, T = 128, H = 256, E = 128, I = 1024, V = 30522).
/// Each case: warm-up, then <see cref="Reps"/> event-timed runs, median reported, with the bytes and FLOPs it must
/// move so achieved bandwidth/rate can be read against the ceilings. Inputs are random, never zeros.
/// Run: dotnet Electra.Benchmarks.dll --cuda [--out DIR] [--quick]
/// </summary>
public static class CudaBench
{
    private const int Reps = 20;

    public sealed record Result(string Name, string Shape, double MedianMs, double MinMs, double Bytes, double Flops, string? Error)
    {
        public double GBps => Bytes / (MedianMs * 1e-3) / 1e9;
        public double Tflops => Flops / (MedianMs * 1e-3) / 1e12;
    }

    public static int Run(string[] args)
    {
        string outDir = "cuda-bench";
        int o = Array.IndexOf(args, "--out");
        if (o >= 0 && o + 1 < args.Length) outDir = args[o + 1];
        bool quick = args.Contains("--quick");
        Directory.CreateDirectory(outDir);

        CudaBackend backend;
        try
        {
            backend = CudaBackend.Create();
        }
        catch (CudaUnavailableException e)
        {
            Console.Error.WriteLine("no CUDA device: " + e.Message);
            File.WriteAllText(Path.Combine(outDir, "cuda-bench.json"), JsonSerializer.Serialize(new { error = "no CUDA device: " + e.Message }));
            return 2;
        }

        var results = new List<Result>();
        var bench = new Harness(backend, results);
        var sw = Stopwatch.StartNew();
        Cases.Ceilings(bench, quick);
        Cases.Primitives(bench, quick);
        KernelBenchmarks.Run(bench, quick);
        backend.Synchronize();

        var device = backend.CudaDevice;
        var header = new
        {
            device = device.Name,
            arch = $"sm_{device.Arch}",
            sms = device.MultiprocessorCount,
            memoryMiB = device.TotalMemory >> 20,
            cublas = backend.CublasVersion,
            nvrtc = $"{Electra.Cuda.Compile.NvrtcCompiler.Version.Major}.{Electra.Cuda.Compile.NvrtcCompiler.Version.Minor}",
            allocator = backend.Allocator.Describe(),
            seconds = sw.Elapsed.TotalSeconds,
        };
        var json = JsonSerializer.Serialize(new
        {
            header,
            results = results.Select(r => new { r.Name, r.Shape, r.MedianMs, r.MinMs, r.Bytes, r.Flops, GBps = r.Error is null ? r.GBps : 0, Tflops = r.Error is null ? r.Tflops : 0, r.Error }),
        }, new JsonSerializerOptions { WriteIndented = true });
        File.WriteAllText(Path.Combine(outDir, "cuda-bench.json"), json);

        var md = new StringBuilder();
        md.AppendLine($"# CUDA kernel benchmarks — {device.Name} (sm_{device.Arch}, {device.MultiprocessorCount} SMs)").AppendLine();
        md.AppendLine($"cuBLAS {backend.CublasVersion}, NVRTC {header.nvrtc}; median of {Reps} CUDA-event-timed runs after warm-up; random inputs.").AppendLine();
        md.AppendLine("| case | shape | median ms | min ms | GB/s | TFLOP/s |").AppendLine("|---|---|---:|---:|---:|---:|");
        foreach (var r in results)
            md.AppendLine(r.Error is null
                ? string.Create(CultureInfo.InvariantCulture, $"| {r.Name} | {r.Shape} | {r.MedianMs:0.0000} | {r.MinMs:0.0000} | {(r.Bytes > 0 ? r.GBps.ToString("0", CultureInfo.InvariantCulture) : "")} | {(r.Flops > 0 ? r.Tflops.ToString("0.0", CultureInfo.InvariantCulture) : "")} |")
                : $"| {r.Name} | {r.Shape} | failed: {r.Error.Replace('|', '/').Replace('\n', ' ')} | | | |");
        File.WriteAllText(Path.Combine(outDir, "cuda-bench.md"), md.ToString());
        Console.WriteLine(md.ToString());
        return results.Any(r => r.Error is not null) ? 1 : 0;
    }

    /// <summary>Times actions with CUDA events on the backend's stream.</summary>
    public sealed class Harness(CudaBackend backend, List<Result> results)
    {
        public CudaBackend Backend { get; } = backend;

        public void Time(string name, string shape, double bytes, double flops, Action action)
        {
            var stream = Backend.CudaDevice.Stream;
            nint start = 0, stop = 0;
            try
            {
                Backend.CudaDevice.MakeCurrent();
                for (int i = 0; i < 3; i++) action(); // module load, NVRTC, cuBLAS heuristics stay out of the numbers
                Backend.Synchronize();
                Driver.Check(Driver.cuEventCreate(out start, 0), "cuEventCreate");
                Driver.Check(Driver.cuEventCreate(out stop, 0), "cuEventCreate");
                var times = new double[Reps];
                for (int i = 0; i < Reps; i++)
                {
                    Driver.Check(Driver.cuEventRecord(start, stream), "cuEventRecord");
                    action();
                    Driver.Check(Driver.cuEventRecord(stop, stream), "cuEventRecord");
                    Driver.Check(Driver.cuEventSynchronize(stop), "cuEventSynchronize");
                    Driver.Check(Driver.cuEventElapsedTime(out var ms, start, stop), "cuEventElapsedTime");
                    times[i] = ms;
                }
                Backend.Synchronize();
                Array.Sort(times);
                results.Add(new Result(name, shape, times[Reps / 2], times[0], bytes, flops, null));
                Console.Error.WriteLine($"{name,-28} {shape,-28} {times[Reps / 2],10:0.0000} ms");
            }
            catch (Exception e) when (e is CudaException or NotSupportedException or ArgumentException)
            {
                results.Add(new Result(name, shape, 0, 0, bytes, flops, e.GetType().Name + ": " + e.Message));
                Console.Error.WriteLine($"{name,-28} {shape,-28} failed: {e.Message}");
            }
            finally
            {
                if (start != 0) Driver.cuEventDestroy_v2(start);
                if (stop != 0) Driver.cuEventDestroy_v2(stop);
            }
        }

        public Tensor Random(int seed, float scale, params int[] shape)
        {
            long n = new Shape(shape).Count;
            var data = new float[n];
            var rng = new Random(seed);
            for (long i = 0; i < n; i++) data[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
            return Tensor.FromArray(data, shape, Backend.Device);
        }

        public Tensor RandomInts(int seed, int max, params int[] shape)
        {
            long n = new Shape(shape).Count;
            var data = new int[n];
            var rng = new Random(seed);
            for (long i = 0; i < n; i++) data[i] = rng.Next(max);
            return Tensor.FromArray(data, shape, Backend.Device);
        }

        public Tensor RandomBf16(int seed, params int[] shape)
        {
            using var f = Random(seed, 1f, shape);
            var t = Tensor.Empty(shape, DType.BF16, Backend.Device);
            Backend.Copy(f, t);
            return t;
        }
    }
}
