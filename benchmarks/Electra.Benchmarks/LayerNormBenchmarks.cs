using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Electra.Cpu;

namespace Electra.Benchmarks;

/// <summary>
/// Residual-add + LayerNorm over rows of H = 256 (the discriminator's hidden size), 16384 rows = batch 128 × T 128.
/// GB/s counts the [R, C] tensors each pass must touch once: forward reads x and the residual and writes y and the
/// saved sum; backward reads dY and the sum and writes dS (the per-row and per-column vectors are negligible).
/// </summary>
[Config(typeof(Config))]
public class LayerNormBenchmarks : IWork
{
    private sealed class Config : ManualConfig
    {
        public Config() => AddColumn(ThroughputColumn.GBytes);
    }

    [Params(16384)]
    public int Rows { get; set; } = 16384;

    [Params(256)]
    public int Cols { get; set; } = 256;

    private Tensor x = null!, residual = null!, gamma = null!, beta = null!, y = null!, mean = null!, rstd = null!, sum = null!;
    private Tensor dY = null!, dS = null!, dGamma = null!, dBeta = null!;

    public double WorkOf(string method) => (method == nameof(Forward) ? 4.0 : 3.0) * Rows * Cols * sizeof(float);

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(2);
        Tensor Rand(params int[] shape)
        {
            long count = shape.Aggregate(1L, (p, d) => p * d);
            return Tensor.FromArray(Enumerable.Range(0, (int)count).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), shape);
        }
        x = Rand(Rows, Cols);
        residual = Rand(Rows, Cols);
        dY = Rand(Rows, Cols);
        gamma = Rand(Cols);
        beta = Rand(Cols);
        y = Tensor.Zeros([Rows, Cols]);
        sum = Tensor.Zeros([Rows, Cols]);
        dS = Tensor.Zeros([Rows, Cols]);
        mean = Tensor.Zeros([Rows]);
        rstd = Tensor.Zeros([Rows]);
        dGamma = Tensor.Zeros([Cols]);
        dBeta = Tensor.Zeros([Cols]);
        Forward();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { x, residual, gamma, beta, y, mean, rstd, sum, dY, dS, dGamma, dBeta }) t.Dispose();
    }

    [Benchmark]
    public void Forward() => CpuBackend.Instance.LayerNormForward(x, residual, gamma, beta, 1e-12f, y, mean, rstd, sum);

    [Benchmark]
    public void Backward() => CpuBackend.Instance.LayerNormBackward(dY, sum, gamma, mean, rstd, dS, dGamma, dBeta);
}
