namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

/// <summary>The CPU AdamW's SIMD lanes and chunked split must give the scalar update's exact bits.</summary>
public class AdamWVectorTests
{
    [TestCase(1, false)]
    [TestCase(37, true)]
    [TestCase(40_003, false)]   // several chunks and a tail
    public void UpdateIsBitIdenticalToTheScalarFormula(int n, bool biasCorrection)
    {
        var p = GradCheck.Uniform(n, 1, 1f);
        var g = GradCheck.Uniform(n, 2, 0.1f);
        var m = GradCheck.Uniform(n, 3, 0.01f);
        var v = Array.ConvertAll(GradCheck.Uniform(n, 4, 0.01f), x => x * x);
        const float lr = 3e-4f, b1 = 0.9f, b2 = 0.999f, eps = 1e-6f, wd = 0.01f;
        const int step = 7;
        using var scope = new TensorScope();
        var slot = new AdamWSlot(Tensor.FromArray(p), Tensor.FromArray(g), Tensor.FromArray(m), Tensor.FromArray(v), wd);
        Backends.Cpu.AdamW([slot], lr, b1, b2, eps, step, biasCorrection);
        float c1 = biasCorrection ? 1f / (1f - MathF.Pow(b1, step)) : 1f;
        float c2 = biasCorrection ? 1f / (1f - MathF.Pow(b2, step)) : 1f;
        for (int i = 0; i < n; i++)
        {
            m[i] = b1 * m[i] + (1f - b1) * g[i];
            v[i] = b2 * v[i] + (1f - b2) * g[i] * g[i];
            p[i] -= lr * (m[i] * c1 / (MathF.Sqrt(v[i] * c2) + eps) + wd * p[i]);
        }
        Assert.That(slot.M.ToFloatArray(), Is.EqualTo(m));
        Assert.That(slot.V.ToFloatArray(), Is.EqualTo(v));
        Assert.That(slot.Param.ToFloatArray(), Is.EqualTo(p));
    }
}
