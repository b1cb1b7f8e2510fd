namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

public class EmbeddingTests
{
    /// <summary>out[r, :] = table[ids[r], :] — the reference for both Embedding and GatherRows.</summary>
    private static double[] Rows(double[] table, int[] ids, int width)
    {
        var y = new double[ids.Length * width];
        for (int r = 0; r < ids.Length; r++)
            Array.Copy(table, ids[r] * width, y, r * width, width);
        return y;
    }

    [Test]
    public void EmbeddingWithRepeatedIdsMatchesFiniteDifferences()
    {
        const int v = 11, e = 5;
        int[] ids = [3, 0, 3, 10, 7, 3, 0, 2, 9, 10, 4, 3, 1, 7]; // [2, 7]; id 3 four times, 0, 7 and 10 twice
        var table = GradCheck.Uniform(v * e, 71);
        var r = GradCheck.Uniform(ids.Length * e, 72);
        using var scope = new TensorScope();
        var t = GradCheck.Leaf(table, [v, e]);
        var y = Ops.Embedding(t, Tensor.FromArray(ids, [2, 7]));
        Assert.That(y.Shape, Is.EqualTo(new Shape(2, 7, e)));
        // A lookup copies: the forward is exact.
        Assert.That(y.ToFloatArray(), Is.EqualTo(Rows(GradCheck.ToDouble(table), ids, e).Select(d => (float)d).ToArray()));
        GradCheck.BackwardWeighted(y, r);
        var dTable = GradCheck.TakeGrad(t);
        GradCheck.AssertGradients("Embedding", x => Rows(x[0], ids, e), [table], r, (0, dTable, "table"));
        Assert.That(dTable.AsSpan(5 * e, e).ToArray(), Is.All.EqualTo(0f), "an unused id gets no gradient");
    }

    [Test]
    public void OutOfRangeIdIsANamedError()
    {
        using var scope = new TensorScope();
        var table = Tensor.Zeros([4, 3]);
        table.Name = "embeddings.word_embeddings.weight";
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Embedding(table, Tensor.FromArray([1, 4, 0])));
        Assert.That(ex!.Message, Does.Contain("id 4").And.Contain("position 1").And.Contain("embeddings.word_embeddings.weight"));
    }

    [TestCase(9, 13, new[] { 8, 0, 5, 2 })]
    [TestCase(3, 1, new[] { 2 })]
    public void GatherRowsMatchesFiniteDifferences(int rows, int c, int[] indices)
    {
        var xs = GradCheck.Uniform(rows * c, 73);
        var r = GradCheck.Uniform(indices.Length * c, 74);
        using var scope = new TensorScope();
        var x = GradCheck.Leaf(xs, [rows, c]);
        var y = Ops.GatherRows(x, Tensor.FromArray(indices));
        Assert.That(y.Shape, Is.EqualTo(new Shape(indices.Length, c)));
        Assert.That(y.ToFloatArray(), Is.EqualTo(Rows(GradCheck.ToDouble(xs), indices, c).Select(d => (float)d).ToArray()));
        GradCheck.BackwardWeighted(y, r);
        GradCheck.AssertGradients("GatherRows", a => Rows(a[0], indices, c), [xs], r, (0, GradCheck.TakeGrad(x), "x"));
    }

    [Test]
    public void GatherRowsCarriesIntegerRows()
    {
        using var scope = new TensorScope();
        var ids = Tensor.FromArray([10, 11, 20, 21, 30, 31], [3, 2]);
        Assert.That(Ops.GatherRows(ids, Tensor.FromArray([2, 0])).ToIntArray(), Is.EqualTo(new[] { 30, 31, 10, 11 }));
        Assert.That(Ops.ScatterRows(ids, Tensor.FromArray([1]), Tensor.FromArray([7, 8], [1, 2])).ToIntArray(),
            Is.EqualTo(new[] { 10, 11, 7, 8, 30, 31 }));
    }
}
