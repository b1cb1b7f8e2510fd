namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

/// <summary>
/// Ops.LayerNorm with its input bias and dropout (LayerNorm(dropout(x + b) + residual)) is the same function, to the
/// bit, as the three ops one by one, and so are its gradients: the fused form exists only to save passes.
/// </summary>
public class LayerNormInputTests
{
    [TestCase(5, 7, 0.1f, true)]
    [TestCase(33, 64, 0.5f, false)]
    [TestCase(16, 256, 0f, true)]
    public void FusedBiasAndDropoutEqualTheUnfusedOps(int rows, int c, float p, bool withResidual)
    {
        var x = TestData.RandomFloats(rows * c, 1);
        var r = TestData.RandomFloats(rows * c, 2);
        var bias = TestData.RandomFloats(c, 3, 0.5f);
        var gamma = TestData.RandomFloats(c, 4).Select(v => 1f + 0.5f * v).ToArray();
        var beta = TestData.RandomFloats(c, 5, 0.2f);
        var target = TestData.RandomFloats(rows * c, 6);

        (float[] Y, float[][] Grads) Run(bool fused)
        {
            var leaves = new[] { Leaf(x, rows, c), Leaf(r, rows, c), Leaf(bias, c), Leaf(gamma, c), Leaf(beta, c) };
            var (tx, tr, tb, tg, tbeta) = (leaves[0], leaves[1], leaves[2], leaves[3], leaves[4]);
            var rng = new RandomStream(77);
            float[] y;
            using (new TensorScope())
            {
                Tensor outp;
                if (fused) outp = Ops.LayerNorm(tx, withResidual ? tr : null, tg, tbeta, 1e-12f, tb, p, rng);
                else
                {
                    var u = Ops.Add(tx, Broadcast(tb, rows), 1f, 1f);
                    if (p > 0f) u = Ops.Dropout(u, p, rng);
                    outp = Ops.LayerNorm(u, withResidual ? tr : null, tg, tbeta, 1e-12f);
                }
                y = outp.ToFloatArray();
                Ops.MeanSquaredError(outp, Tensor.FromArray(target, [rows, c])).Backward();
            }
            var grads = leaves.Select(l => l.Grad?.ToFloatArray() ?? []).ToArray();
            foreach (var l in leaves) l.Dispose();
            return (y, grads);
        }

        var (yFused, gFused) = Run(fused: true);
        var (yPlain, gPlain) = Run(fused: false);
        Assert.That(yFused, Is.EqualTo(yPlain), "forward, bit for bit");
        string[] names = ["x", "residual", "bias", "gamma", "beta"];
        for (int i = 0; i < names.Length; i++)
        {
            if (i == 1 && !withResidual) continue;
            // Bias gradients are column sums in another order than the unfused Add's broadcast backward.
            if (i == 2) Assert.That(gFused[i], Is.EqualTo(gPlain[i]).Within(1e-6f), names[i]);
            else Assert.That(gFused[i], Is.EqualTo(gPlain[i]), $"∂/∂{names[i]}, bit for bit");
        }
    }

    private static Tensor Leaf(float[] v, params int[] shape)
    {
        var t = Tensor.FromArray(v, shape);
        t.RequiresGrad = true;
        return t;
    }

    /// <summary>bias [C] repeated over rows, differentiably (its gradient is the column sums).</summary>
    private static Tensor Broadcast(Tensor bias, int rows)
    {
        int c = (int)bias.Count;
        var ids = Tensor.FromArray(new int[rows], [rows]);
        return Ops.GatherRows(bias.Reshape(1, c), ids);
    }
}
