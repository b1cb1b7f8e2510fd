namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

public class DropoutTests
{
    /// <summary>y_i = x_i/(1−p) where Philox(seed, offset, i) keeps element i, else 0.</summary>
    private static double[] Reference(double[] x, float p, ulong seed, ulong offset) =>
        x.Select((v, i) => GradCheck.Keeps(p, seed, offset, (ulong)i) ? v / (1.0 - p) : 0).ToArray();

    [TestCase(new[] { 7, 37 }, 0.3f)]   // 259 elements: crosses the backend's 256-element blocks
    [TestCase(new[] { 5 }, 0.1f)]
    [TestCase(new[] { 3, 3, 3 }, 0.9f)]
    public void MatchesReferenceAndFiniteDifferences(int[] dims, float p)
    {
        var shape = new Shape(dims);
        int n = (int)shape.Count;
        var xs = GradCheck.Uniform(n, 81);
        var r = GradCheck.Uniform(n, 82);
        const ulong seed = 1234567, offset = 5;
        using var scope = new TensorScope();
        var x = GradCheck.Leaf(xs, shape);
        var rng = new RandomStream(seed);
        rng.Seek(offset);
        var y = Ops.Dropout(x, p, rng);
        Assert.That(rng.Offset, Is.EqualTo(offset + 1));
        GradCheck.AssertForward(y.ToFloatArray(), Reference(GradCheck.ToDouble(xs), p, seed, offset), "Dropout");
        GradCheck.BackwardWeighted(y, r);
        GradCheck.AssertGradients("Dropout", v => Reference(v[0], p, seed, offset), [xs], r, (0, GradCheck.TakeGrad(x), "x"));
    }

    [Test]
    public void KeepsTheExpectedFractionAndPreservesTheMean()
    {
        const int n = 200_000;
        const float p = 0.1f;
        using var scope = new TensorScope();
        var y = Ops.Dropout(Tensor.Ones([n]), p, new RandomStream(99)).ToFloatArray();
        int kept = y.Count(v => v != 0f);
        // Binomial(n, 0.9): σ = √(n·0.09) ≈ 134; 5σ ≈ 670.
        Assert.That(kept, Is.EqualTo(n * (1 - p)).Within(670));
        Assert.That(y.Where(v => v != 0f), Is.All.EqualTo(1f / (1f - p)));
    }

    [Test]
    public void ZeroRateIsACopyAndBadRatesAreRejected()
    {
        using var scope = new TensorScope();
        var xs = GradCheck.Uniform(10, 83);
        var rng = new RandomStream(1);
        var y = Ops.Dropout(Tensor.FromArray(xs), 0f, rng);
        Assert.That(y.ToFloatArray(), Is.EqualTo(xs));
        Assert.That(rng.Offset, Is.EqualTo(0UL), "p = 0 draws nothing");
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Dropout(Tensor.FromArray(xs), 1f, rng));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Dropout(Tensor.FromArray(xs), -0.1f, rng));
    }

    [Test]
    public void ConsecutiveCallsDrawDifferentMasks()
    {
        using var scope = new TensorScope();
        var x = Tensor.Ones([64]);
        var rng = new RandomStream(7);
        var a = Ops.Dropout(x, 0.5f, rng).ToFloatArray();
        var b = Ops.Dropout(x, 0.5f, rng).ToFloatArray();
        Assert.That(b, Is.Not.EqualTo(a));
        rng.Seek(0);
        Assert.That(Ops.Dropout(x, 0.5f, rng).ToFloatArray(), Is.EqualTo(a), "seeking back replays the mask");
    }
}
