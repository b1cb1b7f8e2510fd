namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

public class LayerNormTests
{
    /// <summary>y = (s − mean)/√(var + eps)·γ + β per row, s = x (+ residual), biased variance.</summary>
    private static double[] Reference(double[] x, double[]? residual, double[] gamma, double[] beta, double eps)
    {
        int c = gamma.Length, rows = x.Length / c;
        var y = new double[x.Length];
        var s = new double[c];
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < c; j++) s[j] = x[r * c + j] + (residual?[r * c + j] ?? 0);
            double mean = s.Average();
            double var = s.Sum(v => (v - mean) * (v - mean)) / c;
            double rstd = 1 / Math.Sqrt(var + eps);
            for (int j = 0; j < c; j++) y[r * c + j] = (s[j] - mean) * rstd * gamma[j] + beta[j];
        }
        return y;
    }

    [TestCase(new[] { 3, 5, 13 }, 1e-12f, false)]
    [TestCase(new[] { 3, 5, 13 }, 1e-12f, true)]
    [TestCase(new[] { 7, 64 }, 1e-5f, true)]
    [TestCase(new[] { 2, 1 + 256 }, 1e-12f, false)]
    public void MatchesReferenceAndFiniteDifferences(int[] dims, float eps, bool withResidual)
    {
        var shape = new Shape(dims);
        int n = (int)shape.Count, c = shape.Last;
        var xs = GradCheck.Uniform(n, 31, 2f);
        var rs = GradCheck.Uniform(n, 32);
        var gs = GradCheck.Uniform(c, 33).Select(v => 1f + 0.5f * v).ToArray();
        var bs = GradCheck.Uniform(c, 34);
        var weights = GradCheck.Uniform(n, 35);
        using var scope = new TensorScope();
        var x = GradCheck.Leaf(xs, shape);
        var res = withResidual ? GradCheck.Leaf(rs, shape) : null;
        var gamma = GradCheck.Leaf(gs, [c]);
        var beta = GradCheck.Leaf(bs, [c]);
        var y = Ops.LayerNorm(x, res, gamma, beta, eps);
        double[] Ref(double[][] v) => withResidual ? Reference(v[0], v[1], v[2], v[3], eps) : Reference(v[0], null, v[1], v[2], eps);
        float[][] inputs = withResidual ? [xs, rs, gs, bs] : [xs, gs, bs];
        GradCheck.AssertForward(y.ToFloatArray(), Ref(inputs.Select(GradCheck.ToDouble).ToArray()), "LayerNorm");

        GradCheck.BackwardWeighted(y, weights);
        int k = withResidual ? 1 : 0;
        var grads = new List<(int, float[], string)> { (0, GradCheck.TakeGrad(x), "x"), (k + 1, GradCheck.TakeGrad(gamma), "gamma"), (k + 2, GradCheck.TakeGrad(beta), "beta") };
        if (res is not null) grads.Add((1, GradCheck.TakeGrad(res), "residual"));
        GradCheck.AssertGradients("LayerNorm", Ref, inputs, weights, [.. grads]);
    }

    [Test]
    public void ResidualThatNeedsNoGradStillGivesTheInputItsGradient()
    {
        var xs = GradCheck.Uniform(2 * 9, 36);
        var rs = GradCheck.Uniform(2 * 9, 37);
        var weights = GradCheck.Uniform(2 * 9, 38);
        using var scope = new TensorScope();
        var x = GradCheck.Leaf(xs, [2, 9]);
        var res = Tensor.FromArray(rs, [2, 9]);
        var gamma = Tensor.Ones([9]);
        var beta = Tensor.Zeros([9]);
        GradCheck.BackwardWeighted(Ops.LayerNorm(x, res, gamma, beta, 1e-12f), weights);
        Assert.That(res.Grad, Is.Null);
        GradCheck.AssertGradients("LayerNorm", v => Reference(v[0], v[1], [.. Enumerable.Repeat(1.0, 9)], new double[9], 1e-12), [xs, rs], weights,
            (0, GradCheck.TakeGrad(x), "x"));
    }

    [Test]
    public void KnownRowNormalisesToHandDerivedValues()
    {
        // [1, 2, 3, 4]: mean 2.5, variance 1.25 → (x − 2.5)/√1.25 = ±1.3416408, ±0.4472136.
        using var scope = new TensorScope();
        var x = Tensor.FromArray([1f, 2f, 3f, 4f, 1001f, 1002f, 1003f, 1004f, 5f, 5f, 5f, 5f], [3, 4]);
        var y = Ops.LayerNorm(x, null, Tensor.Ones([4]), Tensor.Zeros([4]), 1e-12f).ToFloatArray();
        var row = new[] { -1.3416408f, -0.4472136f, 0.4472136f, 1.3416408f };
        Assert.That(y[..4], Is.EqualTo(row).Within(1e-6f));
        // A large common offset must not cost precision (the mean is removed before squaring).
        Assert.That(y[4..8], Is.EqualTo(row).Within(1e-5f));
        // A constant row has zero variance: with eps it normalises to exactly β.
        Assert.That(y[8..], Is.EqualTo(new[] { 0f, 0f, 0f, 0f }));

        // γ scales and β shifts: γ = [2, 2, 1, 1], β = [0, 1, 0, −1], residual [1, 1, 1, 1] leaves the row's shape.
        var gamma = Tensor.FromArray([2f, 2f, 1f, 1f]);
        var beta = Tensor.FromArray([0f, 1f, 0f, -1f]);
        var y2 = Ops.LayerNorm(Tensor.FromArray([1f, 2f, 3f, 4f], [1, 4]), Tensor.Ones([1, 4]), gamma, beta, 1e-12f).ToFloatArray();
        Assert.That(y2, Is.EqualTo(new[] { -2.6832816f, 0.1055728f, 0.4472136f, 0.3416408f }).Within(1e-6f));
    }

    [Test]
    public void WrongGammaShapeIsANamedError()
    {
        using var scope = new TensorScope();
        var ex = Assert.Throws<ArgumentException>(() => Ops.LayerNorm(Tensor.Zeros([2, 8]), null, Tensor.Ones([7]), Tensor.Zeros([8]), 1e-12f));
        Assert.That(ex!.Message, Does.Contain("[7]").And.Contain("[8]"));
    }
}
