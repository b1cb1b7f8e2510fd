using System.Numerics.Tensors;

namespace Electra.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void AdamW(IReadOnlyList<AdamWSlot> slots, float lr, float beta1, float beta2, float eps, int step, bool biasCorrection)
    {
        float c1 = biasCorrection ? 1f / (1f - MathF.Pow(beta1, step)) : 1f;
        float c2 = biasCorrection ? 1f / (1f - MathF.Pow(beta2, step)) : 1f;
        // Checked before any update, so a bad slot leaves every parameter untouched (and the error unwrapped).
        foreach (var s in slots)
            if (s.Grad.Count != s.Param.Count || s.M.Count != s.Param.Count || s.V.Count != s.Param.Count)
                throw new ArgumentException($"AdamW: parameter {s.Param.Name ?? s.Param.Shape.ToString()} {s.Param.Shape} has grad {s.Grad.Shape}, m {s.M.Shape}, v {s.V.Shape}");
        Parallel.For(0, slots.Count, k =>
        {
            var s = slots[k];
            var p = F(s.Param);
            var g = F(s.Grad);
            var m = F(s.M);
            var v = F(s.V);
            float wd = s.WeightDecay;
            for (int i = 0; i < p.Length; i++)
            {
                float gi = g[i];
                float mi = m[i] = beta1 * m[i] + (1f - beta1) * gi;
                float vi = v[i] = beta2 * v[i] + (1f - beta2) * gi * gi;
                float update = mi * c1 / (MathF.Sqrt(vi * c2) + eps) + wd * p[i];
                p[i] -= lr * update;
            }
        });
    }

    public void GlobalNorm(IReadOnlyList<Tensor> tensors, Tensor norm)
    {
        double total = 0;
        foreach (var t in tensors)
        {
            var s = F(t);
            const int block = 4096;
            for (int i = 0; i < s.Length; i += block)
                total += TensorPrimitives.SumOfSquares(s.Slice(i, Math.Min(block, s.Length - i)));
        }
        F(norm)[0] = (float)Math.Sqrt(total);
    }

    public void ClipByNorm(IReadOnlyList<Tensor> tensors, Tensor norm, float maxNorm)
    {
        float n = F(norm)[0];
        float scale = maxNorm / MathF.Max(n, maxNorm);
        if (scale == 1f) return;
        foreach (var t in tensors) TensorPrimitives.Multiply(F(t), scale, F(t));
    }
}
