namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

public class BceTests
{
    /// <summary>Σ w·(softplus(x) − y·x) / weightSum, softplus written to stay exact for large |x|.</summary>
    private static double Reference(double[] x, float[] y, float[] w, float weightSum)
    {
        double total = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double softplus = Math.Max(x[i], 0) + Math.Log(1 + Math.Exp(-Math.Abs(x[i])));
            total += w[i] * (softplus - y[i] * x[i]);
        }
        return total / weightSum;
    }

    [TestCase(new[] { 2, 7 })]
    [TestCase(new[] { 37 })]
    public void MatchesReferenceAndFiniteDifferences(int[] dims)
    {
        var shape = new Shape(dims);
        int n = (int)shape.Count;
        var xs = GradCheck.Uniform(n, 61, 4f);
        var rng = new Random(62);
        var ys = Enumerable.Range(0, n).Select(_ => (float)rng.Next(2)).ToArray();
        // The last positions are padding (weight 0); a few real ones carry fractional weights.
        var ws = Enumerable.Range(0, n).Select(i => i >= n - 3 ? 0f : i % 5 == 0 ? 0.5f : 1f).ToArray();
        float weightSum = ws.Sum();
        const float upstream = -1.3f;
        using var scope = new TensorScope();
        var logits = GradCheck.Leaf(xs, shape);
        var loss = Ops.BceWithLogits(logits, Tensor.FromArray(ys, shape), Tensor.FromArray(ws, shape), weightSum);
        GradCheck.AssertForward([loss.Item()], [Reference(GradCheck.ToDouble(xs), ys, ws, weightSum)], "BceWithLogits");
        GradCheck.BackwardWeighted(loss, [upstream]);
        var d = GradCheck.TakeGrad(logits);
        GradCheck.AssertGradients("BceWithLogits", x => [Reference(x[0], ys, ws, weightSum)], [xs], [upstream], (0, d, "logits"));
        Assert.That(d[^3..], Is.All.EqualTo(0f), "padding positions get no gradient");
    }

    [Test]
    public void KnownLogitsGiveHandDerivedLoss()
    {
        // x = 0: softplus 0 → ln 2 for either label. x = ln 3, y = 1: ln(1 + 1/3) = ln(4/3).
        // x = ln 3, y = 0: ln(1 + 3) = ln 4. x = 40, y = 0: 40 (softplus must not overflow). Last is padding.
        float ln3 = MathF.Log(3f);
        using var scope = new TensorScope();
        var logits = GradCheck.Leaf([0f, ln3, ln3, 40f, -1000f], [5]);
        var labels = Tensor.FromArray([1f, 1f, 0f, 0f, 1f]);
        var weights = Tensor.FromArray([1f, 1f, 1f, 1f, 0f]);
        var loss = Ops.BceWithLogits(logits, labels, weights, 4f);
        double expected = (Math.Log(2) + Math.Log(4.0 / 3) + Math.Log(4) + 40) / 4;
        Assert.That(loss.Item(), Is.EqualTo(expected).Within(2e-6));
        loss.Backward();
        // (σ(x) − y)·w/4: σ(0) = 1/2, σ(ln 3) = 3/4, σ(40) = 1.
        Assert.That(GradCheck.TakeGrad(logits), Is.EqualTo(new[] { -0.5f / 4, -0.25f / 4, 0.75f / 4, 1f / 4, 0f }).Within(1e-7f));
    }

    [Test]
    public void NonPositiveWeightSumIsRejected()
    {
        using var scope = new TensorScope();
        var x = Tensor.Zeros([3]);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.BceWithLogits(x, Tensor.Zeros([3]), Tensor.Zeros([3]), 0f));
        Assert.That(ex!.ParamName, Is.EqualTo("weightSum"));
    }
}
