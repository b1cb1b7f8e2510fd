namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

public class SoftmaxCrossEntropyTests
{
    private const int Ignore = -100;

    /// <summary>Mean over non-ignored rows of logsumexp(x_r) − x_r[target_r]; 0 when every row is ignored.</summary>
    private static double Reference(double[] logits, int[] targets, int v)
    {
        double total = 0;
        int valid = 0;
        for (int r = 0; r < targets.Length; r++)
        {
            if (targets[r] == Ignore) continue;
            var row = logits.AsSpan(r * v, v);
            double max = double.NegativeInfinity;
            foreach (var x in row) max = Math.Max(max, x);
            double sum = 0;
            foreach (var x in row) sum += Math.Exp(x - max);
            total += max + Math.Log(sum) - row[targets[r]];
            valid++;
        }
        return valid == 0 ? 0 : total / valid;
    }

    private static int[] Targets(int m, int v, int seed, params int[] ignored)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, m).Select(r => ignored.Contains(r) ? Ignore : rng.Next(v)).ToArray();
    }

    [TestCase(6, 37, new[] { 1, 4 })]
    [TestCase(3, 300, new int[0])]
    [TestCase(1, 2, new int[0])]
    public void MatchesReferenceAndFiniteDifferences(int m, int v, int[] ignored)
    {
        var xs = GradCheck.Uniform(m * v, 51, 3f);
        var targets = Targets(m, v, 52, ignored);
        const float upstream = 0.7f;
        using var scope = new TensorScope();
        var logits = GradCheck.Leaf(xs, [m, v]);
        var (loss, samples) = Ops.SoftmaxCrossEntropy(logits, Tensor.FromArray(targets), Ignore);
        Assert.That(samples, Is.Null);
        Assert.That(loss.Shape, Is.EqualTo(new Shape()));
        GradCheck.AssertForward([loss.Item()], [Reference(GradCheck.ToDouble(xs), targets, v)], "SoftmaxCrossEntropy");
        GradCheck.BackwardWeighted(loss, [upstream]);
        // A leaf's logits must survive: the gradient goes to a separate buffer.
        Assert.That(logits.ToFloatArray(), Is.EqualTo(xs));
        var dLogits = GradCheck.TakeGrad(logits);
        GradCheck.AssertGradients("SoftmaxCrossEntropy", x => [Reference(x[0], targets, v)], [xs], [upstream], (0, dLogits, "logits"));
        foreach (int r in ignored)
            Assert.That(dLogits.AsSpan(r * v, v).ToArray(), Is.All.EqualTo(0f), $"ignored row {r}");
    }

    [Test]
    public void IntermediateLogitsGetTheirGradientWrittenInPlace()
    {
        // logits = 1.5·x is an intermediate, so the op overwrites it with ∂loss/∂logits; x must still get 1.5× that.
        const int m = 5, v = 37;
        var xs = GradCheck.Uniform(m * v, 53, 2f);
        var targets = Targets(m, v, 54, 2);
        using var scope = new TensorScope();
        var x = GradCheck.Leaf(xs, [m, v]);
        var (loss, _) = Ops.SoftmaxCrossEntropy(Ops.Scale(x, 1.5f), Tensor.FromArray(targets), Ignore, validRows: 4);
        GradCheck.AssertForward([loss.Item()], [Reference(GradCheck.ToDouble(xs).Select(e => 1.5 * e).ToArray(), targets, v)], "SoftmaxCrossEntropy");
        loss.Backward();
        GradCheck.AssertGradients("SoftmaxCrossEntropy∘Scale", a => [Reference(a[0].Select(e => 1.5 * e).ToArray(), targets, v)], [xs], null,
            (0, GradCheck.TakeGrad(x), "x"));
    }

    [Test]
    public void KnownLogitsGiveHandDerivedLossAndGradient()
    {
        // Row 0: [0, ln 2, ln 3] → softmax [1/6, 2/6, 3/6]; target 2 → loss −ln(1/2) = ln 2.
        // Row 1: same logits, target 0 → loss ln 6. Row 2 is ignored. Mean over 2 rows.
        float ln2 = MathF.Log(2f), ln3 = MathF.Log(3f);
        using var scope = new TensorScope();
        var logits = GradCheck.Leaf([0f, ln2, ln3, 0f, ln2, ln3, 5f, -5f, 0f], [3, 3]);
        var (loss, _) = Ops.SoftmaxCrossEntropy(logits, Tensor.FromArray([2, 0, Ignore]), Ignore);
        Assert.That(loss.Item(), Is.EqualTo((Math.Log(2) + Math.Log(6)) / 2).Within(1e-6));
        loss.Backward();
        var expected = new[] { 1 / 6.0, 2 / 6.0, 3 / 6.0 - 1, 1 / 6.0 - 1, 2 / 6.0, 3 / 6.0, 0, 0, 0 }.Select(g => (float)(g / 2)).ToArray();
        Assert.That(GradCheck.TakeGrad(logits), Is.EqualTo(expected).Within(1e-7f));
    }

    [Test]
    public void ExtremeLogitsStayFinite()
    {
        using var scope = new TensorScope();
        var logits = Tensor.FromArray([1000f, 0f, -1000f, 1000f, 0f, -1000f], [2, 3]);
        var (loss0, _) = Ops.SoftmaxCrossEntropy(logits, Tensor.FromArray([0, Ignore]), Ignore);
        Assert.That(loss0.Item(), Is.EqualTo(0f).Within(1e-6f));
        var (loss1, _) = Ops.SoftmaxCrossEntropy(logits, Tensor.FromArray([Ignore, 2]), Ignore);
        Assert.That(loss1.Item(), Is.EqualTo(2000f).Within(1e-3f));
    }

    [Test]
    public void AllRowsIgnoredGiveZeroLossAndZeroGradient()
    {
        using var scope = new TensorScope();
        var logits = GradCheck.Leaf(GradCheck.Uniform(2 * 5, 55), [2, 5]);
        var (loss, _) = Ops.SoftmaxCrossEntropy(logits, Tensor.FromArray([Ignore, Ignore]), Ignore);
        Assert.That(loss.Item(), Is.EqualTo(0f));
        loss.Backward();
        Assert.That(GradCheck.TakeGrad(logits), Is.All.EqualTo(0f));
    }

    [TestCase(3)]
    [TestCase(4096)] // enough rows that the backend splits them over threads
    public void TargetOutsideTheVocabularyIsANamedError(int m)
    {
        const int v = 37;
        var targets = new int[m];
        targets[m * 3 / 4] = v;
        using var scope = new TensorScope();
        var logits = Tensor.Zeros([m, v]);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.SoftmaxCrossEntropy(logits, Tensor.FromArray(targets), Ignore));
        Assert.That(ex!.Message, Does.Contain($"row {m * 3 / 4}").And.Contain($"target {v}"));
    }
}
