using Electra.Cpu;

namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

/// <summary>
/// The CPU sampler's fast path (SIMD noise, per-lane maxima, pruning by the largest possible noise value) and the
/// SIMD argmax against their one-column-at-a-time definitions, on the vocabulary size of the real job, odd sizes,
/// spreads that prune most of a row, ties, infinities and NaNs.
/// </summary>
public class CpuSamplingFastPathTests
{
    private static float[] Row(int v, int seed, float spread) => GradCheck.Uniform(v, seed, spread);

    private static void AssertSameDraw(float[] x, float temperature, ulong seed, ulong offset, int row, int skip, string what)
    {
        int expected = CpuBackend.GumbelArgmaxScalar(x, temperature, seed, offset, row, skip);
        int actual = CpuBackend.GumbelArgmax(x, temperature, seed, offset, row, skip);
        Assert.That(actual, Is.EqualTo(expected), what);
    }

    [TestCase(30522, 0.2f)]    // an untrained generator: nothing can be pruned
    [TestCase(30522, 40f)]     // a confident one: most blocks are pruned
    [TestCase(30522, 400f)]
    [TestCase(1025, 3f)]
    [TestCase(17, 1f)]
    [TestCase(4099, 60f)]
    public void FastDrawEqualsTheDefinition(int v, float spread)
    {
        for (int row = 0; row < 24; row++)
        {
            var x = Row(v, 1000 + row, spread);
            float temperature = row % 3 == 0 ? 1f : row % 3 == 1 ? 0.5f : 2f;
            int top = Array.IndexOf(x, x.Max());
            int[] skips = [-1, 0, v - 1, top, (row * 7919) % v];
            foreach (int skip in skips)
                AssertSameDraw(x, temperature, 11, (ulong)(5 + row), row * 37 + 1, skip, $"row {row}, skip {skip}, τ {temperature}");
        }
    }

    [Test]
    public void FastDrawAgreesWhenTheWinnerTiesOrTheRowHoldsInfinitiesAndNaNs()
    {
        const int v = 3001;
        var equal = new float[v];                            // every logit equal: the noise alone decides
        AssertSameDraw(equal, 1f, 3, 4, 9, -1, "equal logits");
        var allMinusInf = Enumerable.Repeat(float.NegativeInfinity, v).ToArray();
        AssertSameDraw(allMinusInf, 1f, 3, 4, 9, -1, "all −∞");
        AssertSameDraw(allMinusInf, 1f, 3, 4, 9, 0, "all −∞, first column skipped");
        var oneFinite = (float[])allMinusInf.Clone();
        oneFinite[2777] = -5f;
        AssertSameDraw(oneFinite, 1f, 3, 4, 9, -1, "one finite logit in the tail");
        var plusInf = Row(v, 7, 2f);
        plusInf[100] = plusInf[2000] = float.PositiveInfinity;
        AssertSameDraw(plusInf, 1f, 3, 4, 9, -1, "two +∞: the first wins");
        AssertSameDraw(plusInf, 1f, 3, 4, 9, 100, "two +∞, the first skipped");
        foreach (int at in new[] { 0, 1, 1500, v - 1 })
        {
            var nan = Row(v, 8, 2f);
            nan[at] = float.NaN;
            AssertSameDraw(nan, 1f, 3, 4, 9, -1, $"NaN at {at}");
            AssertSameDraw(nan, 1f, 3, 4, 9, at, $"NaN at {at}, skipped");
            AssertSameDraw(nan, 1f, 3, 4, 9, 0, $"NaN at {at}, column 0 skipped");
        }
        var sharp = Row(v, 9, 1f);
        AssertSameDraw(sharp, 1e-3f, 3, 4, 9, -1, "τ = 0.001");
        AssertSameDraw(sharp, 1e-39f, 3, 4, 9, -1, "τ⁻¹ = ∞");
        AssertSameDraw(sharp, -1f, 3, 4, 9, -1, "negative τ: no pruning");
    }

    [Test]
    public void FusedAndStandaloneSamplesStayEqualOnTheJobShape()
    {
        const int m = 40, v = 30522;
        var xs = GradCheck.Uniform(m * v, 21, 6f);
        using var scope = new TensorScope();
        var logits = Tensor.FromArray(xs, [m, v]);
        var targets = Tensor.FromArray(Enumerable.Range(0, m).Select(r => (r * 131) % v).ToArray());
        var losses = Tensor.Empty([m]);
        var fused = Tensor.Empty([m], DType.I32);
        var alone = Tensor.Empty([m], DType.I32);
        Backends.Cpu.GumbelSample(logits, 1f, 5, 6, null, alone);
        Backends.Cpu.SoftmaxCrossEntropy(logits, targets, -100, losses, logits, 1f / m, fused, 1f, 5, 6);
        var expected = Enumerable.Range(0, m).Select(r => CpuBackend.GumbelArgmaxScalar(xs.AsSpan(r * v, v), 1f, 5, 6, r, -1)).ToArray();
        Assert.That(alone.ToIntArray(), Is.EqualTo(expected));
        Assert.That(fused.ToIntArray(), Is.EqualTo(expected));
    }

    private static int ArgmaxDefinition(float[] x)
    {
        int best = 0;
        for (int c = 0; c < x.Length; c++)
        {
            if (float.IsNaN(x[c])) return c;
            if (x[c] > x[best]) best = c;
        }
        return best;
    }

    [TestCase(1)]
    [TestCase(15)]
    [TestCase(16)]
    [TestCase(17)]
    [TestCase(100)]
    [TestCase(30522)]
    public void ArgmaxTakesTheFirstMaximumAndTheFirstNaN(int v)
    {
        var rows = new List<float[]>
        {
            Row(v, 31, 1f),
            Enumerable.Repeat(2f, v).ToArray(),                                    // all tied: index 0
            Enumerable.Range(0, v).Select(i => (float)(i % 7)).ToArray(),           // ties across lanes
            Enumerable.Repeat(float.NegativeInfinity, v).ToArray(),
        };
        var zeros = Enumerable.Range(0, v).Select(i => i % 2 == 0 ? -0f : 0f).ToArray(); // −0 and +0 tie
        rows.Add(zeros);
        foreach (int at in new[] { 0, v / 2, v - 1 })
        {
            var nan = Row(v, 32, 1f);
            nan[at] = float.NaN;
            if (v > 3) nan[v - 2] = float.NaN;
            rows.Add(nan);
            var late = Row(v, 33, 1f);
            late[at] = 5f;
            rows.Add(late);
        }
        var data = rows.SelectMany(r => r).ToArray();
        using var scope = new TensorScope();
        var x = Tensor.FromArray(data, [rows.Count, v]);
        var dst = Tensor.Empty([rows.Count], DType.I32);
        Backends.Cpu.Fill(dst, -7); // poison: an unwritten row shows
        Backends.Cpu.Argmax(x, dst);
        Assert.That(dst.ToIntArray(), Is.EqualTo(rows.Select(ArgmaxDefinition).ToArray()));
    }
}

/// <summary>The per-column noise bounds: each bucket's entry is the exhaustive maximum over its uniforms.</summary>
public class GumbelBucketTests
{
    [Test]
    public void EachBucketBoundIsTheLargestNoiseInTheBucket()
    {
        var max = new float[GumbelBuckets.Count];
        Array.Fill(max, float.NegativeInfinity);
        var count = new long[GumbelBuckets.Count];
        for (uint u = 0; u < 1u << 23; u++)
        {
            uint bits = (u << 9) | 0x1A5; // the low 9 bits do not enter the noise
            int b = GumbelBuckets.Of(bits);
            count[b]++;
            max[b] = MathF.Max(max[b], Philox.Gumbel(bits));
        }
        Assert.That(GumbelBuckets.Max, Is.EqualTo(max));
        Assert.That(GumbelBuckets.Max.Max(), Is.EqualTo(Philox.GumbelMax));
        Assert.That(count[0], Is.EqualTo(1L << 22), "half of all uniforms are in bucket 0");
        Assert.That(count[GumbelBuckets.Count - 1], Is.EqualTo(1), "the top bucket holds u = 2^23 − 1 alone");
        Assert.That(GumbelBuckets.Max[0], Is.LessThan(0.37f), "noise of u ≤ ½ is at most −log(log 2)");
        for (int b = 1; b < GumbelBuckets.Count; b++) Assert.That(GumbelBuckets.Max[b], Is.GreaterThan(GumbelBuckets.Max[b - 1]));
    }

    [Test]
    public void FlatRowsAreDrawnExactlyThoughNearlyEveryColumnIsPruned()
    {
        // Untrained-generator rows (all logits within ±0.05): after the first block the best score is near
        // ln(1024), so almost every later vector is skipped by its bucket bound.
        for (int row = 0; row < 64; row++)
        {
            var x = GradCheck.Uniform(30522, 500 + row, 0.05f);
            Assert.That(CpuBackend.GumbelArgmax(x, 1f, 77, 3, row, row % 2 == 0 ? -1 : 30521),
                Is.EqualTo(CpuBackend.GumbelArgmaxScalar(x, 1f, 77, 3, row, row % 2 == 0 ? -1 : 30521)), $"row {row}");
        }
    }
}
