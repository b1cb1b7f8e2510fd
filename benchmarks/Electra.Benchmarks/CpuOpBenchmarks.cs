using BenchmarkDotNet.Attributes;

namespace Electra.Benchmarks;

/// <summary>
/// The CPU primitives that dominate the tiny pretraining step (E64/H128/L2/NH2/I512, generator H32, V = 30522,
/// B = 32, T = 128, M = 608 masked rows), at that job's shapes.
/// </summary>
public class CpuOpBenchmarks
{
    private const int V = 30522, M = 608, E = 64, B = 32, T = 128, H = 128, NH = 2, I = 512, N = B * T;
    private static readonly IBackend Cpu = Backends.Cpu;

    private Tensor logits = null!, dLogits = null!, targets = null!, losses = null!, samples = null!;
    private Tensor headIn = null!, wordEmb = null!, dWordEmb = null!, dHeadIn = null!;
    private Tensor qkv = null!, keyMask = null!, attOut = null!, lse = null!, dAttOut = null!, dQkv = null!;
    private Tensor lnX = null!, lnGamma = null!, lnMean = null!, lnRstd = null!, lnDx = null!, lnDg = null!, lnDb = null!, lnY = null!;
    private Tensor embDOut = null!, embIds = null!, embTypes = null!, dPositionEmb = null!, dTypeEmb = null!;
    private Tensor ffX = null!, ffBias = null!, ffY = null!, ffDx = null!, ffDb = null!;
    private Tensor dropX = null!, dropY = null!;
    private List<AdamWSlot> slots = null!;
    private List<Tensor> grads = null!;
    private Tensor norm = null!;

    private static Tensor Random(Shape shape, int seed, float scale)
    {
        var rng = new Random(seed);
        var data = new float[shape.Count];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return Tensor.FromArray(data, shape);
    }

    [GlobalSetup]
    public void Setup()
    {
        logits = Random([M, V], 1, 0.5f);
        dLogits = Tensor.Empty([M, V]);
        targets = Tensor.FromArray(Enumerable.Range(0, M).Select(r => (r * 97) % V).ToArray());
        losses = Tensor.Empty([M]);
        samples = Tensor.Empty([M], DType.I32);
        headIn = Random([M, E], 2, 1f);
        wordEmb = Random([V, E], 3, 0.02f);
        dWordEmb = Tensor.Empty([V, E]);
        dHeadIn = Tensor.Empty([M, E]);
        qkv = Random([B, T, 3 * H], 4, 1f);
        keyMask = Tensor.FromArray(Enumerable.Repeat(1, N).ToArray(), [B, T]);
        attOut = Tensor.Empty([B, T, H]);
        lse = Tensor.Empty([B, NH, T]);
        dAttOut = Random([B, T, H], 5, 1f);
        dQkv = Tensor.Empty([B, T, 3 * H]);
        lnX = Random([N, H], 6, 1f);
        lnGamma = Random([H], 7, 1f);
        var lnBeta = Random([H], 8, 1f);
        lnY = Tensor.Empty([N, H]);
        lnMean = Tensor.Empty([N]);
        lnRstd = Tensor.Empty([N]);
        Cpu.LayerNormForward(lnX, null, lnGamma, lnBeta, 1e-12f, lnY, lnMean, lnRstd, null);
        lnDx = Tensor.Empty([N, H]);
        lnDg = Tensor.Empty([H]);
        lnDb = Tensor.Empty([H]);
        embDOut = Random([N, E], 9, 1f);
        embIds = Tensor.FromArray(Enumerable.Range(0, N).Select(i => (i * 7919) % V).ToArray());
        embTypes = Tensor.FromArray(Enumerable.Range(0, N).Select(i => i % T < T / 2 ? 0 : 1).ToArray(), [B, T]);
        dPositionEmb = Tensor.Empty([512, E]);
        dTypeEmb = Tensor.Empty([2, E]);
        ffX = Random([N, I], 10, 1f);
        ffBias = Random([I], 11, 0.1f);
        ffY = Tensor.Empty([N, I]);
        ffDx = Tensor.Empty([N, I]);
        ffDb = Tensor.Empty([I]);
        dropX = Random([N, H], 12, 1f);
        dropY = Tensor.Empty([N, H]);
        // The tiny model's parameter sizes, roughly: the shared word table plus the two encoders.
        int[] sizes = [V * E, 512 * E, 2 * E, E * H, 4 * (H * 3 * H + H * H + 2 * H * I), 4 * 4 * H, 2 * 3 * H, 2 * I, H * H, E * 32];
        slots = sizes.Select((n, k) => new AdamWSlot(Random([n], 20 + k, 0.02f), Random([n], 40 + k, 0.01f), Tensor.Zeros([n]), Tensor.Zeros([n]), 0.01f)).ToList();
        grads = slots.Select(s => s.Grad).ToList();
        norm = Tensor.Empty([1]);
    }

    [Benchmark] public void SoftmaxCrossEntropyWithGumbel() => Cpu.SoftmaxCrossEntropy(logits, targets, -100, losses, dLogits, 1f / M, samples, 1f, 1, 2);
    [Benchmark] public void SoftmaxCrossEntropy() => Cpu.SoftmaxCrossEntropy(logits, targets, -100, losses, dLogits, 1f / M, null, 1f, 1, 2);
    [Benchmark] public void GumbelSample() => Cpu.GumbelSample(logits, 1f, 1, 2, null, samples);
    [Benchmark] public void Argmax() => Cpu.Argmax(logits, samples);
    [Benchmark] public void HeadLogitsGemm() => Cpu.Gemm(headIn, false, wordEmb, true, dLogits);                  // [M,E]·[V,E]ᵀ
    [Benchmark] public void HeadWeightGradGemm() => Cpu.Gemm(logits, true, headIn, false, dWordEmb, 1f, 1f);     // [M,V]ᵀ·[M,E]
    [Benchmark] public void HeadInputGradGemm() => Cpu.Gemm(logits, false, wordEmb, false, dHeadIn);             // [M,V]·[V,E]
    [Benchmark] public void AttentionForward() => Cpu.AttentionForward(qkv, keyMask, NH, 0.125f, 0.1f, 1, 3, attOut, lse);
    [Benchmark] public void AttentionBackward() => Cpu.AttentionBackward(dAttOut, qkv, keyMask, attOut, lse, NH, 0.125f, 0.1f, 1, 3, dQkv);
    [Benchmark] public void LayerNormBackward() => Cpu.LayerNormBackward(lnY, lnX, lnGamma, lnMean, lnRstd, lnDx, lnDg, lnDb);
    [Benchmark] public void EmbeddingBackward() { Cpu.Fill(dWordEmb, 0f); Cpu.EmbeddingBackward(embDOut, embIds, dWordEmb); }
    [Benchmark] public void EmbeddingSumBackward()
    {
        using var ids = embIds.View(B, T);
        Cpu.EmbeddingSumBackward(embDOut, ids, embTypes, 0, dWordEmb, dPositionEmb, dTypeEmb, accumulate: false);
    }
    [Benchmark] public void BiasGeluForward() => Cpu.BiasGeluForward(ffX, ffBias, ffY);
    [Benchmark] public void BiasGeluBackward() => Cpu.BiasGeluBackward(ffY, ffX, ffBias, ffDx, ffDb);
    [Benchmark] public void Dropout() => Cpu.Dropout(dropX, 0.1f, 1, 4, dropY);
    [Benchmark] public void AdamWStep() => Cpu.AdamW(slots, 1e-4f, 0.9f, 0.999f, 1e-6f, 1, false);
    [Benchmark] public void GlobalNorm() => Cpu.GlobalNorm(grads, norm);
}
