namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

public class GumbelTests
{
    private static int[] Sample(Tensor logits, float temperature, ulong seed, ulong offset, int[]? disallowed = null)
    {
        using var samples = Tensor.Empty([logits.Shape[0]], DType.I32);
        using var skip = disallowed is null ? null : Tensor.FromArray(disallowed);
        Backends.Cpu.GumbelSample(logits, temperature, seed, offset, skip, samples);
        return samples.ToIntArray();
    }

    /// <summary>argmax_c(x[c]/τ + Gumbel(Philox(seed, offset, r·V + c))), first maximum, skipping one column.</summary>
    private static int ReferenceRow(float[] x, int r, int v, float temperature, ulong seed, ulong offset, int skip)
    {
        float invT = 1f / temperature;
        int best = -1;
        float bestScore = float.NegativeInfinity;
        for (int c = 0; c < v; c++)
        {
            if (c == skip) continue;
            float score = x[r * v + c] * invT + Philox.Gumbel(Philox.Bits(seed, offset, (ulong)(r * v + c)));
            if (best < 0 || score > bestScore) { best = c; bestScore = score; }
        }
        return best;
    }

    [TestCase(5, 37, 1f)]
    [TestCase(4, 300, 0.5f)]   // V > 256: the backend draws the row's noise in several chunks
    [TestCase(3, 1, 1f)]
    public void SamplesAreTheDocumentedArgmax(int m, int v, float temperature)
    {
        var xs = GradCheck.Uniform(m * v, 91, 2f);
        const ulong seed = 77, offset = 1234;
        using var scope = new TensorScope();
        var logits = Tensor.FromArray(xs, [m, v]);
        var disallowed = Enumerable.Range(0, m).Select(r => r % 2 == 0 ? -1 : (r * 7) % v).ToArray();
        var expected = Enumerable.Range(0, m).Select(r => ReferenceRow(xs, r, v, temperature, seed, offset, -1)).ToArray();
        Assert.That(Sample(logits, temperature, seed, offset), Is.EqualTo(expected));
        if (v > 1)
        {
            var expectedSkip = Enumerable.Range(0, m).Select(r => ReferenceRow(xs, r, v, temperature, seed, offset, disallowed[r])).ToArray();
            Assert.That(Sample(logits, temperature, seed, offset, disallowed), Is.EqualTo(expectedSkip));
        }
    }

    [TestCase(1f)]
    [TestCase(0.5f)]
    public void FrequenciesMatchTheTemperedSoftmax(float temperature)
    {
        // 20 000 rows of the same logits; each row draws its own noise (element r·V + c).
        float[] row = [0.3f, -1f, 1f, 0f, 0.7f, -0.4f, 0.9f, -0.8f];
        const int m = 20_000;
        int v = row.Length;
        using var scope = new TensorScope();
        var logits = Tensor.FromArray(Enumerable.Range(0, m).SelectMany(_ => row).ToArray(), [m, v]);
        var counts = new int[v];
        foreach (int s in Sample(logits, temperature, 5, 0)) counts[s]++;

        var weights = row.Select(x => Math.Exp(x / temperature)).ToArray();
        double z = weights.Sum();
        double chi2 = 0;
        for (int c = 0; c < v; c++)
        {
            double expected = m * weights[c] / z;
            Assert.That(expected, Is.GreaterThan(5), "every cell needs an expected count above 5 for the χ² approximation");
            chi2 += (counts[c] - expected) * (counts[c] - expected) / expected;
        }
        // χ² with 7 degrees of freedom exceeds 24.32 with probability 0.001.
        Assert.That(chi2, Is.LessThan(24.32), $"counts {string.Join(", ", counts)}");
        // A sampler ignoring the temperature fails this: at τ = 0.5 the top column's share rises from 25% to 35% (σ of a share ≈ 0.0034).
        Assert.That(counts[2] / (double)m, Is.EqualTo(weights[2] / z).Within(0.012));
    }

    [Test]
    public void TiesGoToTheLowestIndex()
    {
        // Logits of 1e30 swallow any Gumbel noise (one ulp of 1e30 is ~7e22), so columns 3 and 6 tie exactly.
        const int m = 50, v = 9;
        var xs = new float[m * v];
        for (int r = 0; r < m; r++) { xs[r * v + 3] = 1e30f; xs[r * v + 6] = 1e30f; }
        using var scope = new TensorScope();
        var logits = Tensor.FromArray(xs, [m, v]);
        Assert.That(Sample(logits, 1f, 3, 4), Is.All.EqualTo(3));
        Assert.That(Sample(logits, 1f, 3, 4, Enumerable.Repeat(3, m).ToArray()), Is.All.EqualTo(6), "with the first disallowed the tie is gone");
    }

    [Test]
    public void DisallowedColumnIsNeverChosen()
    {
        // Each row's disallowed column is its most likely one by a wide margin.
        const int m = 4000, v = 6;
        var rng = new Random(92);
        var xs = GradCheck.Uniform(m * v, 93);
        var disallowed = new int[m];
        for (int r = 0; r < m; r++)
        {
            disallowed[r] = rng.Next(v);
            xs[r * v + disallowed[r]] = 8f;
        }
        using var scope = new TensorScope();
        var logits = Tensor.FromArray(xs, [m, v]);
        var free = Sample(logits, 1f, 11, 0);
        Assert.That(free.Where((s, r) => s == disallowed[r]).Count(), Is.GreaterThan(m * 9 / 10), "without the restriction it is nearly always picked");
        var samples = Sample(logits, 1f, 11, 0, disallowed);
        Assert.That(samples.Where((s, r) => s == disallowed[r]), Is.Empty);
        Assert.That(samples, Is.All.InRange(0, v - 1));
    }

    [Test]
    public void FusedCrossEntropySamplesEqualStandaloneSamples()
    {
        const int m = 7, v = 300;
        const ulong seed = 31337, offset = 12;
        var xs = GradCheck.Uniform(m * v, 94, 3f);
        var targets = Enumerable.Range(0, m).Select(r => r == 3 ? -100 : r * 13).ToArray();
        using var scope = new TensorScope();
        var expected = Sample(Tensor.FromArray(xs, [m, v]), 0.8f, seed, offset);

        // Leaf logits, no gradient: the plain path.
        var (_, s1) = Ops.SoftmaxCrossEntropy(Tensor.FromArray(xs, [m, v]), Tensor.FromArray(targets), gumbel: new(0.8f, seed, offset));
        Assert.That(s1!.ToIntArray(), Is.EqualTo(expected));

        // Intermediate logits: the gradient overwrites them, and sampling must read them first.
        var x = GradCheck.Leaf(xs, [m, v]);
        var (loss, s2) = Ops.SoftmaxCrossEntropy(Ops.Scale(x, 1f), Tensor.FromArray(targets), gumbel: new(0.8f, seed, offset));
        Assert.That(s2!.ToIntArray(), Is.EqualTo(expected), "ignored rows are sampled too");
        loss.Backward();
        GradCheck.TakeGrad(x);
    }
}
