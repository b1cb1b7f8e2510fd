using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Electra.Cpu;

namespace Electra.Benchmarks;

/// <summary>
/// Fused self-attention through CpuBackend at the discriminator's shape: B = 8, T = 128, NH = 4, HS = 64, reading
/// Q, K, V from the fused projection [B, T, 3, NH, HS], dropout 0.1, every key real. GFLOP/s counts the two
/// T×T×HS products per head forward (QKᵀ, PV) and four backward (recomputed QKᵀ, dV, dP, dQ/dK as two).
/// </summary>
[Config(typeof(Config))]
public class AttentionBenchmarks : IWork
{
    private sealed class Config : ManualConfig
    {
        public Config() => AddColumn(ThroughputColumn.GFlops);
    }

    private const int B = 8, T = 128, NH = 4, HS = 64;
    private const float Dropout = 0.1f;
    private static readonly float Scale = 1f / MathF.Sqrt(HS);

    private Tensor qkv = null!, mask = null!, output = null!, lse = null!, dOutput = null!, dQkv = null!;

    public double WorkOf(string method) => (method == nameof(Forward) ? 2 : 5) * 2.0 * B * NH * T * T * HS;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(3);
        float[] Rand(int count) => Enumerable.Range(0, count).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        qkv = Tensor.FromArray(Rand(B * T * 3 * NH * HS), [B, T, 3 * NH * HS]);   // [B, T, 3, NH, HS] flattened
        mask = Tensor.FromArray(Enumerable.Repeat(1, B * T).ToArray(), [B, T]);
        output = Tensor.Zeros([B, T, NH * HS]);
        lse = Tensor.Zeros([B, NH, T]);
        dOutput = Tensor.FromArray(Rand(B * T * NH * HS), [B, T, NH * HS]);
        dQkv = Tensor.Zeros([B, T, 3 * NH * HS]);
        Forward();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { qkv, mask, output, lse, dOutput, dQkv }) t.Dispose();
    }

    [Benchmark]
    public void Forward() => CpuBackend.Instance.AttentionForward(qkv, mask, NH, Scale, Dropout, 7, 0, output, lse);

    [Benchmark]
    public void Backward() => CpuBackend.Instance.AttentionBackward(dOutput, qkv, mask, output, lse, NH, Scale, Dropout, 7, 0, dQkv);
}
