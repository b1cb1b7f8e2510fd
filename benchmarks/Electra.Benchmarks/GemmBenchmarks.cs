using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Electra.Cpu;

namespace Electra.Benchmarks;

/// <summary>
/// CPU SGEMM (CpuBackend.Gemm) at 1024³ in all four transpose combinations and at the model's shapes, named
/// "M×K×N op": Linear forward x·Wᵀ is NT, its dX = dY·W is NN, its dW = dYᵀ·x is TN (M = out, K = rows).
/// The bar: libtorch reaches ~195 GFLOP/s at 1024³ with 2 threads on this machine.
/// </summary>
[Config(typeof(Config))]
public class GemmBenchmarks : IWork
{
    private sealed class Config : ManualConfig
    {
        public Config() => AddColumn(ThroughputColumn.GFlops);
    }

    public static IEnumerable<string> Shapes =>
    [
        "1024x1024x1024 NN", "1024x1024x1024 NT", "1024x1024x1024 TN", "1024x1024x1024 TT",
        "16384x256x256 NT", "16384x256x256 NN", "256x16384x256 TN",          // FFN-less projections, H = 256
        "16384x256x1024 NT", "16384x1024x256 NN", "1024x16384x256 TN",       // FFN up: forward, dX, dW
        "2432x128x30522 NT", "2432x30522x128 NN", "30522x2432x128 TN",       // generator logits (masked rows)
    ];

    [ParamsSource(nameof(Shapes))]
    public string Shape { get; set; } = "1024x1024x1024 NN";

    private Tensor a = null!, b = null!, c = null!;
    private bool transA, transB;

    private (int m, int k, int n, bool ta, bool tb) Parse()
    {
        var parts = Shape.Split(' ');
        var d = parts[0].Split('x').Select(int.Parse).ToArray();
        return (d[0], d[1], d[2], parts[1][0] == 'T', parts[1][1] == 'T');
    }

    public double WorkOf(string method)
    {
        var (m, k, n, _, _) = Parse();
        return 2.0 * m * k * n;
    }

    [GlobalSetup]
    public void Setup()
    {
        var (m, k, n, ta, tb) = Parse();
        (transA, transB) = (ta, tb);
        var rng = new Random(1);
        float[] Rand(long count) => Enumerable.Range(0, (int)count).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        a = Tensor.FromArray(Rand((long)m * k), ta ? [k, m] : [m, k]);
        b = Tensor.FromArray(Rand((long)k * n), tb ? [n, k] : [k, n]);
        c = Tensor.Zeros([m, n]);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        a.Dispose();
        b.Dispose();
        c.Dispose();
    }

    [Benchmark]
    public void Gemm() => CpuBackend.Instance.Gemm(a, transA, b, transB, c);
}
