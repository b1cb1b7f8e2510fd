using static Electra.Tests.Cuda.Gpu;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>kernels-cu/gumbel.cu: bit-identical to the CPU draw, and distributed as softmax(logits/τ).</summary>
[Category("Gpu")]
public class GumbelKernelTests
{
    private static readonly IBackend Cpu = Backends.Cpu;

    [TestCase(64, 30522, 1f)]
    [TestCase(33, 7, 0.5f)]
    [TestCase(200, 1001, 2f)]
    public void SamplesAreBitIdenticalToCpu(int m, int v, float temperature)
    {
        _ = Backend;
        var logits = TestData.RandomFloats(m * v, v, 3f);
        var disallowed = RandomInts(m, v, 3);
        for (int r = 0; r < m; r += 3) disallowed[r] = -1;
        const ulong seed = 0x5EED, offset = 0xFFFF_FFFF_0000UL;
        using var cx = Tensor.FromArray(logits, [m, v]);
        using var cd = Tensor.FromArray(disallowed, [m]);
        using var cs = Tensor.Empty([m], DType.I32);
        Cpu.GumbelSample(cx, temperature, seed, offset, cd, cs);
        using var gx = Floats(logits, m, v);
        using var gd = Ints(disallowed, m);
        using var gs = PoisonedInts(m);
        Backend.GumbelSample(gx, temperature, seed, offset, gd, gs);
        var got = gs.ToIntArray();
        Assert.That(got, Is.EqualTo(cs.ToIntArray()));
        for (int r = 0; r < m; r++) Assert.That(got[r], Is.Not.EqualTo(disallowed[r]), $"row {r} drew its disallowed token");
    }

    [Test]
    public void TiesGoToTheLowerAllowedIndex()
    {
        _ = Backend;
        // Every score is −∞: the lowest index wins, skipping the disallowed one.
        const int m = 4, v = 9;
        var logits = Enumerable.Repeat(float.NegativeInfinity, m * v).ToArray();
        using var gx = Floats(logits, m, v);
        using var gd = Ints([0, -1, 1, 3], m);
        using var gs = PoisonedInts(m);
        Backend.GumbelSample(gx, 1f, 1, 2, gd, gs);
        Assert.That(gs.ToIntArray(), Is.EqualTo(new[] { 1, 0, 0, 0 }));
    }

    // Many rows of the same logits: each row has its own noise, so the samples are independent draws.
    [TestCase(1f)]
    [TestCase(0.5f)]
    public void FrequenciesFollowSoftmax(float temperature)
    {
        _ = Backend;
        const int m = 40000, v = 6;
        float[] row = [0.5f, -1f, 1.2f, 0f, -0.3f, 0.8f];
        var logits = Enumerable.Range(0, m).SelectMany(_ => row).ToArray();
        using var gx = Floats(logits, m, v);
        using var gs = PoisonedInts(m);
        Backend.GumbelSample(gx, temperature, 2024, 0, null, gs);
        var counts = new int[v];
        foreach (var s in gs.ToIntArray()) counts[s]++;
        double z = row.Sum(x => Math.Exp(x / temperature));
        double chi2 = 0;
        for (int c = 0; c < v; c++)
        {
            double expected = m * Math.Exp(row[c] / temperature) / z;
            chi2 += (counts[c] - expected) * (counts[c] - expected) / expected;
        }
        // 5 degrees of freedom: P(χ² > 20.5) = 0.001. The draw is fixed by the seed, so this is not flaky.
        Assert.That(chi2, Is.LessThan(20.5), $"χ² = {chi2:F2}, counts {string.Join(", ", counts)}");
    }

    [Test]
    public void Bf16LogitsSampleAsTheirF32Values()
    {
        _ = Backend;
        const int m = 20, v = 30522;
        var (gx, rounded) = KernelTestInputs.Bf16(TestData.RandomFloats(m * v, 77, 4f), [m, v]);
        using var _x = gx;
        using var cx = Tensor.FromArray(rounded, [m, v]);
        using var cs = Tensor.Empty([m], DType.I32);
        Cpu.GumbelSample(cx, 1f, 3, 4, null, cs);
        using var gs = PoisonedInts(m);
        Backend.GumbelSample(gx, 1f, 3, 4, null, gs);
        Assert.That(gs.ToIntArray(), Is.EqualTo(cs.ToIntArray()));
    }
}
