using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Electra.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Argmax(Tensor x, Tensor dst)
    {
        int rows = (int)x.Shape.Rows, cols = x.Shape.Last;
        if (dst.Count != rows) throw new ArgumentException($"Argmax: dst {dst.Shape} needs {rows} elements");
        float* px = P(x);
        int* pd = PI(dst);
        ParallelRows(rows, cols, (s, e) =>
        {
            for (int r = s; r < e; r++)
                pd[r] = ArgmaxRow(new ReadOnlySpan<float>(px + (long)r * cols, cols));
        });
    }

    /// <summary>
    /// Index of the largest element, the lowest on ties (−0 and +0 tie); a NaN wins over numbers, so a row with
    /// NaNs gives its first NaN (as the CUDA kernel does). Sixteen lanes each keep their first maximum, and
    /// merging them by (value, then lowest index) gives the scalar scan's answer.
    /// </summary>
    internal static int ArgmaxRow(ReadOnlySpan<float> x)
    {
        int n = x.Length;
        if (!Vector512.IsHardwareAccelerated || n < 16) return ArgmaxScalar(x);
        ref float x0 = ref MemoryMarshal.GetReference(x);
        var best = Vector512.LoadUnsafe(ref x0);
        var index = Vector512<int>.Indices;
        var nan = ~Vector512.Equals(best, best);
        int i = 16;
        for (; i + 16 <= n; i += 16)
        {
            var v = Vector512.LoadUnsafe(ref x0, (nuint)i);
            nan |= ~Vector512.Equals(v, v);
            var better = Vector512.GreaterThan(v, best);
            best = Vector512.ConditionalSelect(better, v, best);
            index = Vector512.ConditionalSelect(better.AsInt32(), Vector512.Create(i) + Vector512<int>.Indices, index);
        }
        if (i < n)
        {
            // The last 16 elements, overlapping ones already seen: each lane's columns still increase, and a
            // column seen twice is the same (value, index) pair either way.
            int last = n - 16;
            var v = Vector512.LoadUnsafe(ref x0, (nuint)last);
            nan |= ~Vector512.Equals(v, v);
            var better = Vector512.GreaterThan(v, best);
            best = Vector512.ConditionalSelect(better, v, best);
            index = Vector512.ConditionalSelect(better.AsInt32(), Vector512.Create(last) + Vector512<int>.Indices, index);
        }
        if (nan != Vector512<float>.Zero) return ArgmaxScalar(x);
        float bestValue = best.GetElement(0);
        int bestIndex = index.GetElement(0);
        for (int j = 1; j < 16; j++)
        {
            float s = best.GetElement(j);
            int c = index.GetElement(j);
            if (s > bestValue || (s == bestValue && c < bestIndex)) { bestValue = s; bestIndex = c; }
        }
        return bestIndex;
    }

    private static int ArgmaxScalar(ReadOnlySpan<float> x)
    {
        int bestIndex = 0;
        for (int c = 0; c < x.Length; c++)
        {
            if (float.IsNaN(x[c])) return c;
            if (x[c] > x[bestIndex]) bestIndex = c;
        }
        return x.Length == 0 ? -1 : bestIndex;
    }
}
