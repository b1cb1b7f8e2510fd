using System.Runtime.Intrinsics;

namespace Electra.Cpu;

/// <summary>
/// The dropout rule every backend shares — keep element i iff Philox.Uniform(bits[i]) ≥ p, scaling kept values by
/// 1/(1−p) — applied 16 lanes at a time. Uniform(bits) = (bits ≫ 8)·2⁻²⁴ is exact, and so is p·2²⁴, so the float
/// comparison is the integer one (bits ≫ 8) ≥ ⌈p·2²⁴⌉: the same decisions as the scalar rule, bit for bit.
/// </summary>
internal static unsafe class DropoutMask
{
    /// <summary>The smallest (bits ≫ 8) that is kept at drop probability <paramref name="p"/>.</summary>
    public static uint Threshold(float p) => (uint)Math.Clamp(Math.Ceiling(p * 16777216.0), 0.0, 16777216.0);

    /// <summary>y[i] = keep(bits[i]) ? x[i]·scale : 0, for n elements (x and y may be the same).</summary>
    public static void Apply(float* x, uint* bits, float p, float scale, float* y, int n)
    {
        uint threshold = Threshold(p);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vt = Vector512.Create(threshold);
            var vs = Vector512.Create(scale);
            for (; i + 16 <= n; i += 16)
            {
                var kept = Vector512.GreaterThanOrEqual(Vector512.ShiftRightLogical(Vector512.Load(bits + i), 8), vt).AsSingle();
                Vector512.Store(Vector512.BitwiseAnd(Vector512.Load(x + i) * vs, kept), y + i);
            }
        }
        for (; i < n; i++) y[i] = bits[i] >> 8 >= threshold ? x[i] * scale : 0f;
    }
}
