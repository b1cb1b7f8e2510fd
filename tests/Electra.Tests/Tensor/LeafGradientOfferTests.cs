namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

/// <summary>
/// A leaf's gradient so far is offered to the next use's backward (GradAccumulation), which adds into it: a tied
/// weight's second use (Linear's dW GEMM with β = 1), a shared LayerNorm's γ and β, a second backward pass without
/// ZeroGrad. The sums must be those of adding the uses' gradients one by one.
/// </summary>
public class LeafGradientOfferTests
{
    private static Tensor Leaf(float[] values, params int[] shape)
    {
        var t = Tensor.FromArray(values, shape, Device.Cpu);
        t.RequiresGrad = true;
        return t;
    }

    [Test]
    public void ATiedWeightSumsTheGradientsOfItsUses()
    {
        // y1 = x1·Wᵀ + b, y2 = x2·Wᵀ + b; loss = Σ y1 + ¼·Σ y2: dW[o, k] = Σ_i x1[i, k] + ¼·Σ_i x2[i, k], db = n1 + ¼·n2.
        const int n1 = 5, n2 = 3, inF = 4, outF = 6;
        var x1 = TestData.RandomFloats(n1 * inF, 1);
        var x2 = TestData.RandomFloats(n2 * inF, 2);
        using var w = Leaf(TestData.RandomFloats(outF * inF, 5), outF, inF);
        using var b = Leaf(TestData.RandomFloats(outF, 6), outF);
        for (int pass = 1; pass <= 2; pass++)
        {
            using (new TensorScope())
            {
                var y1 = Ops.Linear(Tensor.FromArray(x1, [n1, inF]), w, b);
                var y2 = Ops.Linear(Tensor.FromArray(x2, [n2, inF]), w, b);
                Ops.Add(Ops.Sum(y1), Ops.Sum(y2, 0.25f)).Backward();
            }
            var dw = new double[outF * inF];
            var db = new double[outF];
            foreach (var (x, weight, n) in new[] { (x1, 1.0, n1), (x2, 0.25, n2) })
                for (int i = 0; i < n; i++)
                    for (int o = 0; o < outF; o++)
                    {
                        db[o] += pass * weight;
                        for (int k = 0; k < inF; k++) dw[o * inF + k] += pass * weight * x[i * inF + k];
                    }
            GradCheck.AssertClose(w.Grad!.ToFloatArray(), dw, 1e-5, 1e-5, $"dW after pass {pass} (a second pass adds to the first)");
            GradCheck.AssertClose(b.Grad!.ToFloatArray(), db, 1e-5, 1e-5, $"db after pass {pass}");
        }
    }

    [Test]
    public void ASharedLayerNormSumsItsParametersGradients()
    {
        const int rows = 4, c = 8;
        var xs = new[] { TestData.RandomFloats(rows * c, 11), TestData.RandomFloats(rows * c, 12) };
        var weights = new[] { 1f, 0.25f };
        var gammaValues = TestData.RandomFloats(c, 15, 0.5f).Select(v => v + 1f).ToArray();
        var betaValues = TestData.RandomFloats(c, 16);
        Tensor Use(int i, Tensor gamma, Tensor beta) =>
            Ops.Sum(Ops.LayerNorm(Tensor.FromArray(xs[i], [rows, c]), null, gamma, beta, 1e-5f), weights[i]);

        // Each use on its own parameters: the sum of their gradients is what the shared parameters must get.
        var alone = new (float[] G, float[] B)[2];
        for (int i = 0; i < 2; i++)
        {
            using var g = Leaf(gammaValues, c);
            using var b = Leaf(betaValues, c);
            using (new TensorScope()) Use(i, g, b).Backward();
            alone[i] = (g.Grad!.ToFloatArray(), b.Grad!.ToFloatArray());
        }
        using var gamma = Leaf(gammaValues, c);
        using var beta = Leaf(betaValues, c);
        using (new TensorScope()) Ops.Add(Use(0, gamma, beta), Use(1, gamma, beta)).Backward();
        GradCheck.AssertClose(gamma.Grad!.ToFloatArray(), alone[0].G.Zip(alone[1].G, (a, b) => (double)a + b).ToArray(), 1e-6, 1e-6, "dγ of the two uses");
        GradCheck.AssertClose(beta.Grad!.ToFloatArray(), alone[0].B.Zip(alone[1].B, (a, b) => (double)a + b).ToArray(), 1e-6, 1e-6, "dβ of the two uses");
    }
}
