using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Electra.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void AdamW(IReadOnlyList<AdamWSlot> slots, float lr, float beta1, float beta2, float eps, int step, bool biasCorrection)
    {
        float c1 = biasCorrection ? 1f / (1f - MathF.Pow(beta1, step)) : 1f;
        float c2 = biasCorrection ? 1f / (1f - MathF.Pow(beta2, step)) : 1f;
        // Checked before any update, so a bad slot leaves every parameter untouched (and the error unwrapped).
        foreach (var s in slots)
        {
            if (s.Grad.Count != s.Param.Count || s.M.Count != s.Param.Count || s.V.Count != s.Param.Count)
                throw new ArgumentException($"AdamW: parameter {s.Param.Name ?? s.Param.Shape.ToString()} {s.Param.Shape} has grad {s.Grad.Shape}, m {s.M.Shape}, v {s.V.Shape}");
            if (s.Bf16Copy is { } copy && (copy.DType != DType.BF16 || copy.Count != s.Param.Count))
                throw new ArgumentException($"AdamW: the copy of {s.Param.Name ?? s.Param.Shape.ToString()} must be {s.Param.Count} bf16 elements, got {copy.Shape} {copy.DType.Name()}");
        }
        // Element-wise, so any split gives the same bits; fixed chunks of each tensor spread the word table (most
        // of the parameters) over all cores.
        const int chunk = 16384;
        foreach (var s in slots)
        {
            float* p = P(s.Param), g = P(s.Grad), m = P(s.M), v = P(s.V);
            ushort* copy = s.Bf16Copy is null ? null : (ushort*)s.Bf16Copy.Pointer;
            float wd = s.WeightDecay;
            int n = (int)s.Param.Count;
            ParallelRows((n + chunk - 1) / chunk, chunk, (first, end) =>
            {
                int start = first * chunk, stop = Math.Min(n, end * chunk);
                AdamWRange(p + start, g + start, m + start, v + start, stop - start, lr, beta1, beta2, eps, c1, c2, wd);
                if (copy != null)
                    for (int i = start; i < stop; i++) copy[i] = BFloat16.FromFloat(p[i]);
            });
        }
    }

    /// <summary>The update of one range; the SIMD lanes do the scalar loop's operations in its order (no FMA), bit for bit.</summary>
    private static void AdamWRange(float* p, float* g, float* m, float* v, int n, float lr, float beta1, float beta2, float eps, float c1, float c2, float wd)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var b1 = Vector512.Create(beta1); var ob1 = Vector512.Create(1f - beta1);
            var b2 = Vector512.Create(beta2); var ob2 = Vector512.Create(1f - beta2);
            var vc1 = Vector512.Create(c1); var vc2 = Vector512.Create(c2);
            var veps = Vector512.Create(eps); var vwd = Vector512.Create(wd); var vlr = Vector512.Create(lr);
            for (; i + 16 <= n; i += 16)
            {
                var gi = Vector512.Load(g + i);
                var mi = b1 * Vector512.Load(m + i) + ob1 * gi;
                var vi = b2 * Vector512.Load(v + i) + ob2 * gi * gi;
                mi.Store(m + i);
                vi.Store(v + i);
                var pi = Vector512.Load(p + i);
                var update = mi * vc1 / (Vector512.Sqrt(vi * vc2) + veps) + vwd * pi;
                (pi - vlr * update).Store(p + i);
            }
        }
        for (; i < n; i++)
        {
            float gi = g[i];
            float mi = m[i] = beta1 * m[i] + (1f - beta1) * gi;
            float vi = v[i] = beta2 * v[i] + (1f - beta2) * gi * gi;
            float update = mi * c1 / (MathF.Sqrt(vi * c2) + eps) + wd * p[i];
            p[i] -= lr * update;
        }
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
