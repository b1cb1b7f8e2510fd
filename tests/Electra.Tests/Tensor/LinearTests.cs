namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

public class LinearTests
{
    /// <summary>y[r, o] = Σ_i x[r, i]·W[o, i] + b[o], optionally through GELU. x is read as [rows, In].</summary>
    private static double[] Reference(double[] x, double[] w, double[]? b, int rows, int inF, int outF, bool gelu)
    {
        var y = new double[rows * outF];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outF; o++)
            {
                double s = b?[o] ?? 0;
                for (int i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
                y[r * outF + o] = gelu ? GradCheck.Gelu(s) : s;
            }
        return y;
    }

    [TestCase(new[] { 2, 7, 13 }, 11, true)]
    [TestCase(new[] { 5, 3 }, 1, true)]
    [TestCase(new[] { 3, 1, 17 }, 9, false)]
    public void LinearMatchesReferenceAndFiniteDifferences(int[] xDims, int outF, bool withBias)
    {
        var xShape = new Shape(xDims);
        int inF = xShape.Last, rows = (int)xShape.Rows;
        var xs = GradCheck.Uniform((int)xShape.Count, 1);
        var ws = GradCheck.Uniform(outF * inF, 2, 0.5f);
        var bs = GradCheck.Uniform(outF, 3);
        var r = GradCheck.Uniform(rows * outF, 4);
        using var scope = new TensorScope();
        var x = GradCheck.Leaf(xs, xShape);
        var w = GradCheck.Leaf(ws, [outF, inF]);
        var b = withBias ? GradCheck.Leaf(bs, [outF]) : null;
        var y = Ops.Linear(x, w, b);
        var outDims = xShape.ToArray();
        outDims[^1] = outF;
        Assert.That(y.Shape, Is.EqualTo(new Shape(outDims)));
        GradCheck.AssertForward(y.ToFloatArray(), Reference(GradCheck.ToDouble(xs), GradCheck.ToDouble(ws), withBias ? GradCheck.ToDouble(bs) : null, rows, inF, outF, false), "Linear");

        GradCheck.BackwardWeighted(y, r);
        var grads = new List<(int, float[], string)> { (0, GradCheck.TakeGrad(x), "x"), (1, GradCheck.TakeGrad(w), "W") };
        if (b is not null) grads.Add((2, GradCheck.TakeGrad(b), "b"));
        GradCheck.AssertGradients("Linear", v => Reference(v[0], v[1], withBias ? v[2] : null, rows, inF, outF, false),
            withBias ? [xs, ws, bs] : [xs, ws], r, [.. grads]);
    }

    [TestCase(new[] { 2, 7, 13 }, 11)]
    [TestCase(new[] { 4, 37 }, 6)]
    public void LinearGeluMatchesReferenceAndFiniteDifferences(int[] xDims, int outF)
    {
        var xShape = new Shape(xDims);
        int inF = xShape.Last, rows = (int)xShape.Rows;
        // Scales put the pre-activations across GELU's curved region (roughly [−3, 3]).
        var xs = GradCheck.Uniform((int)xShape.Count, 11);
        var ws = GradCheck.Uniform(outF * inF, 12, 2.5f / MathF.Sqrt(inF));
        var bs = GradCheck.Uniform(outF, 13);
        var r = GradCheck.Uniform(rows * outF, 14);
        using var scope = new TensorScope();
        var x = GradCheck.Leaf(xs, xShape);
        var w = GradCheck.Leaf(ws, [outF, inF]);
        var b = GradCheck.Leaf(bs, [outF]);
        var y = Ops.LinearGelu(x, w, b);
        GradCheck.AssertForward(y.ToFloatArray(), Reference(GradCheck.ToDouble(xs), GradCheck.ToDouble(ws), GradCheck.ToDouble(bs), rows, inF, outF, true), "LinearGelu");

        GradCheck.BackwardWeighted(y, r);
        GradCheck.AssertGradients("LinearGelu", v => Reference(v[0], v[1], v[2], rows, inF, outF, true), [xs, ws, bs], r,
            (0, GradCheck.TakeGrad(x), "x"), (1, GradCheck.TakeGrad(w), "W"), (2, GradCheck.TakeGrad(b), "b"));
    }

    [Test]
    public void GeluOfKnownPointsIsExact()
    {
        // GELU(x) = x·Φ(x): Φ(1) = 0.8413447461, Φ(−1) = 0.1586552539, Φ(0) = 0.5, Φ(3) = 0.9986501020.
        using var scope = new TensorScope();
        var x = Tensor.FromArray([1f, -1f, 0f, 3f], [4, 1]);
        var w = Tensor.FromArray([1f], [1, 1]);
        var b = Tensor.Zeros([1]);
        var y = Ops.LinearGelu(x, w, b).ToFloatArray();
        Assert.That(y[0], Is.EqualTo(0.8413447f).Within(2e-7f));
        Assert.That(y[1], Is.EqualTo(-0.1586553f).Within(2e-7f));
        Assert.That(y[2], Is.EqualTo(0f));
        Assert.That(y[3], Is.EqualTo(2.9959503f).Within(5e-7f));
        Assert.That(GradCheck.Gelu(1), Is.EqualTo(0.8413447460685429).Within(1e-13), "the test's own erf");
    }

    [Test]
    public void MismatchedWeightIsANamedError()
    {
        using var scope = new TensorScope();
        var x = Tensor.Zeros([8, 100]);
        var w = Tensor.Zeros([256, 128]);
        w.Name = "encoder.dense.weight";
        var ex = Assert.Throws<ArgumentException>(() => Ops.Linear(x, w, null));
        Assert.That(ex!.Message, Does.Contain("[8, 100]").And.Contain("[256, 128]").And.Contain("encoder.dense.weight"));
    }
}
