namespace Electra.Tests.Tensor;

public class ElementwiseTests
{
    [TestCase(new[] { 37 }, 1f, 1f)]
    [TestCase(new[] { 7, 13 }, 0.5f, -2f)]
    public void AddMatchesReferenceAndFiniteDifferences(int[] dims, float alpha, float beta)
    {
        var shape = new Shape(dims);
        int n = (int)shape.Count;
        var a = GradCheck.Uniform(n, 21);
        var b = GradCheck.Uniform(n, 22);
        var r = GradCheck.Uniform(n, 23);
        double[] Reference(double[][] v) => v[0].Select((x, i) => alpha * x + beta * v[1][i]).ToArray();
        using var scope = new TensorScope();
        var ta = GradCheck.Leaf(a, shape);
        var tb = GradCheck.Leaf(b, ta.Shape);
        var y = Ops.Add(ta, tb, alpha, beta);
        GradCheck.AssertForward(y.ToFloatArray(), Reference([GradCheck.ToDouble(a), GradCheck.ToDouble(b)]), "Add");
        GradCheck.BackwardWeighted(y, r);
        GradCheck.AssertGradients("Add", Reference, [a, b], r, (0, GradCheck.TakeGrad(ta), "a"), (1, GradCheck.TakeGrad(tb), "b"));
    }

    [Test]
    public void AddOfATensorWithItselfAccumulatesBothUses()
    {
        var a = GradCheck.Uniform(13, 24);
        var r = GradCheck.Uniform(13, 25);
        using var scope = new TensorScope();
        var ta = GradCheck.Leaf(a, [13]);
        GradCheck.BackwardWeighted(Ops.Add(ta, ta, 2f, 3f), r);
        // ∂/∂a Σ r∘(2a + 3a) = 5r
        GradCheck.AssertClose(GradCheck.TakeGrad(ta), r.Select(v => 5.0 * v).ToArray(), 1e-6, 1e-6, "Add(a, a)");
    }

    [Test]
    public void ScaleAndReshapeMatchFiniteDifferences()
    {
        var x = GradCheck.Uniform(21, 26);
        var r = GradCheck.Uniform(21, 27);
        double[] Reference(double[][] v) => v[0].Select(e => -1.75 * e).ToArray();
        using var scope = new TensorScope();
        var tx = GradCheck.Leaf(x, [3, 7]);
        var y = Ops.Scale(tx, -1.75f).Reshape(7, 3);
        GradCheck.AssertForward(y.ToFloatArray(), Reference([GradCheck.ToDouble(x)]), "Scale");
        GradCheck.BackwardWeighted(y, r);
        GradCheck.AssertGradients("Scale", Reference, [x], r, (0, GradCheck.TakeGrad(tx), "x"));
    }

    [TestCase(1, 1f)]
    [TestCase(5000, 0.25f)]
    public void SumMatchesReferenceAndFiniteDifferences(int n, float scale)
    {
        var x = GradCheck.Uniform(n, 28);
        const float upstream = -0.6f;
        double[] Reference(double[][] v) => [upstream * scale * v[0].Sum()];
        using var scope = new TensorScope();
        var tx = GradCheck.Leaf(x, [n]);
        var y = Ops.Sum(tx, scale);
        Assert.That(y.Shape, Is.EqualTo(new Shape()));
        GradCheck.AssertForward([y.Item() * upstream], Reference([GradCheck.ToDouble(x)]), "Sum");
        // A non-unit upstream gradient checks that Sum scales by it.
        GradCheck.BackwardWeighted(y, [upstream]);
        GradCheck.AssertGradients("Sum", Reference, [x], null, (0, GradCheck.TakeGrad(tx), "x"));
    }

    [Test]
    public void ArgmaxTakesTheLowestIndexOnTiesAndNotEqualMakesLabels()
    {
        using var scope = new TensorScope();
        var x = Electra.Tensor.FromArray([1f, 3f, 3f, -1f, 0f, 0f, 0f, 0f, -5f, -2f, -7f, -2f], [3, 4]);
        Assert.That(Ops.Argmax(x).ToIntArray(), Is.EqualTo(new[] { 1, 0, 1 }));
        var a = Electra.Tensor.FromArray([5, 6, 7, 8]);
        var b = Electra.Tensor.FromArray([5, 0, 7, 9]);
        Assert.That(Ops.NotEqual(a, b).ToFloatArray(), Is.EqualTo(new[] { 0f, 1f, 0f, 1f }));
    }
}
