using System.Diagnostics;
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

    public static int Run(string[] args)
    {
        CudaBenchOptions options;
        try
        {
            options = CudaBenchOptions.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            return 64;
        }
        string outDir = options.OutDir;
        bool quick = options.Quick;
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

        var results = new List<BenchResult>();
        var bench = new Harness(backend, results);
        var sw = Stopwatch.StartNew();
        Cases.Ceilings(bench, quick);
        Cases.Primitives(bench, quick);
        KernelBenchmarks.Run(bench, quick);
        backend.Synchronize();

        var device = backend.CudaDevice;
        var header = new BenchHeader(device.Name, $"sm_{device.Arch}", device.MultiprocessorCount, device.TotalMemory >> 20, backend.CublasVersion,
            $"{Electra.Cuda.Compile.NvrtcCompiler.Version.Major}.{Electra.Cuda.Compile.NvrtcCompiler.Version.Minor}",
            backend.Allocator.Describe(), DateTime.UtcNow, sw.Elapsed.TotalSeconds);
        string md = CudaReport.Write(outDir, header, results, bench.Comparisons, Reps);
        Console.WriteLine(md);
        return results.Any(r => r.Error is not null) ? 1 : 0;
    }

    /// <summary>Times actions with CUDA events on the backend's stream.</summary>
    public sealed class Harness(CudaBackend backend, List<BenchResult> results)
    {
        public CudaBackend Backend { get; } = backend;

        /// <summary>Fused-vs-baseline pairs the report tabulates after the per-case table.</summary>
        public List<BenchComparison> Comparisons { get; } = [];

        public void Compare(string kernel, string shape, string[] fused, string[] baseline) => Comparisons.Add(new BenchComparison(kernel, shape, fused, baseline));

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
                results.Add(new BenchResult(name, shape, times[Reps / 2], times[0], bytes, flops, null));
                Console.Error.WriteLine($"{name,-28} {shape,-28} {times[Reps / 2],10:0.0000} ms");
            }
            catch (Exception e) when (e is CudaException or NotSupportedException or ArgumentException)
            {
                results.Add(new BenchResult(name, shape, 0, 0, bytes, flops, e.GetType().Name + ": " + e.Message));
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

        /// <summary>
        /// Logits rows like a trained generator's: a bulk uniform in ±2 and <paramref name="peaks"/> random columns
        /// per row at 18–22, so Gumbel sampling can skip almost every column's noise.
        /// </summary>
        public Tensor PeakedLogits(int seed, int rows, int columns, int peaks = 4)
        {
            var data = new float[(long)rows * columns];
            var rng = new Random(seed);
            for (long i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 4 - 2);
            for (int r = 0; r < rows; r++)
                for (int k = 0; k < peaks; k++) data[(long)r * columns + rng.Next(columns)] = 18f + 4f * (float)rng.NextDouble();
            return Tensor.FromArray(data, [rows, columns], Backend.Device);
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
