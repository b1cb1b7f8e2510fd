using System.Diagnostics;
using System.Text.Json;
using Electra.Cuda;
using Electra.Cuda.Interop;

namespace Electra.Benchmarks.Cuda;

/// <summary>
/// CUDA-event timings of the device ceilings (device-to-device copy, cuBLAS TF32 and BF16 GEMM) and of every
/// wired CudaBackend primitive at ELECTRA-Small shapes (B = 128, T = 128, H = 256, E = 128, I = 1024, V = 30522).
/// Each case: warm-up, then <see cref="Reps"/> event-timed runs, median reported, with the bytes and FLOPs it must
/// move so achieved bandwidth/rate can be read against the ceilings. Inputs are random, never zeros, and where a
/// case's inputs are within reach of L2 they rotate over enough copies that each run reads them from DRAM.
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

        /// <summary>The device's L2 size: what <see cref="Rotate"/> must stream past between reuses of one input.</summary>
        public long L2Bytes { get; } = backend.CudaDevice.Attribute(CuDeviceAttribute.L2CacheSize);

        /// <summary>
        /// Takes over <paramref name="inputs"/> and adds device clones of them until the copies stream past L2
        /// (see <see cref="InputRotation"/>), so that timed runs read their inputs cold.
        /// </summary>
        public Rotation Rotate(params Tensor[] inputs)
        {
            long bytes = inputs.Sum(t => t.Bytes);
            return new Rotation(inputs, bytes == 0 ? 1 : InputRotation.Copies(bytes, L2Bytes), t =>
            {
                var c = Tensor.Empty(t.Shape, t.DType, Backend.Device);
                Backend.Copy(t, c);
                return c;
            });
        }

        /// <summary>Times an action whose inputs are not rotated (compute-bound cases, or inputs far above L2).</summary>
        public void Time(string name, string shape, double bytes, double flops, Action action) =>
            Run(name, shape, bytes, flops, 1, _ => action());

        /// <summary>Times an action on the copies of <paramref name="inputs"/> in turn, one copy per run.</summary>
        public void Time(string name, string shape, double bytes, double flops, Rotation inputs, Action<Tensor[]> action) =>
            Run(name, shape, bytes, flops, inputs.Count, run => action(inputs[run]));

        private void Run(string name, string shape, double bytes, double flops, int copies, Action<int> action)
        {
            var stream = Backend.CudaDevice.Stream;
            nint start = 0, stop = 0;
            try
            {
                Backend.CudaDevice.MakeCurrent();
                // Module load, NVRTC and cuBLAS heuristics stay out of the numbers; the run counter continues into
                // the timed runs so the copies keep their order and each is as cold as the rotation makes it.
                int run = 0;
                for (; run < 3; run++) action(run);
                Backend.Synchronize();
                Driver.Check(Driver.cuEventCreate(out start, 0), "cuEventCreate");
                Driver.Check(Driver.cuEventCreate(out stop, 0), "cuEventCreate");
                var times = new double[Reps];
                for (int i = 0; i < Reps; i++, run++)
                {
                    Driver.Check(Driver.cuEventRecord(start, stream), "cuEventRecord");
                    action(run);
                    Driver.Check(Driver.cuEventRecord(stop, stream), "cuEventRecord");
                    Driver.Check(Driver.cuEventSynchronize(stop), "cuEventSynchronize");
                    Driver.Check(Driver.cuEventElapsedTime(out var ms, start, stop), "cuEventElapsedTime");
                    times[i] = ms;
                }
                Backend.Synchronize();
                Array.Sort(times);
                results.Add(new BenchResult(name, shape, times[Reps / 2], times[0], bytes, flops, null, copies));
                Console.Error.WriteLine($"{name,-28} {shape,-28} {times[Reps / 2],10:0.0000} ms  ({copies} input cop{(copies == 1 ? "y" : "ies")})");
            }
            catch (Exception e) when (e is CudaException or NotSupportedException or ArgumentException)
            {
                results.Add(new BenchResult(name, shape, 0, 0, bytes, flops, e.GetType().Name + ": " + e.Message, copies));
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
