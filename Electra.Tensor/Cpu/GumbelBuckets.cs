using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Electra.Cpu;

/// <summary>
/// Upper bounds of the Gumbel noise by how close its uniform is to 1, for pruning Gumbel-max scans exactly.
/// The noise is Philox.Gumbel(bits), a function of the 23 bits u = bits ≫ 9 only, and large only where u is
/// near 1. With z = 2²³ − 1 − u (the distance from the top), bucket b = lzcnt32(z) − 9 ∈ [0, 23] holds the u with
/// 1 − u ≈ 2^−(b+1): half of all columns are in bucket 0 (noise ≤ 0.37), one in 2^b at or above bucket b (noise
/// up to ≈ (b + 1)·ln 2). <see cref="Max"/>[b] is the largest noise over the whole bucket, found by evaluating
/// all 2²³ values of u once — an exhaustive maximum, so the bound holds whether or not the logarithm
/// approximation is monotone. 24 buckets fit one two-register permute, so the lookup costs no memory access.
/// </summary>
internal static class GumbelBuckets
{
    public const int Count = 24;

    public static bool IsSupported => Philox.VectorBlocks.IsSupported && Avx512CD.IsSupported;

    /// <summary>Max[b]: the largest Gumbel noise whose uniform falls in bucket b.</summary>
    public static readonly float[] Max = Build();

    private static readonly Vector512<float> Low = Vector512.Create(Max.AsSpan(0, 16));
    private static readonly Vector512<float> High = Vector512.Create([.. Max.AsSpan(16), .. new float[32 - Count]]);

    /// <summary>The bucket of u = bits ≫ 9 (scalar form, for tests and the table).</summary>
    public static int Of(uint bits) => System.Numerics.BitOperations.LeadingZeroCount(~bits >> 9) - 9;

    /// <summary>
    /// True when none of 16 columns can reach <paramref name="bound"/>: fl(fl(x·τ⁻¹) + Max[bucket]) &lt; bound in
    /// every lane. Round-to-nearest is monotone, so each lane's actual score is at most its bound; a NaN logit is
    /// never pruned (its comparison fails), so the scan still sees it.
    /// </summary>
    public static bool NoneCanReach(Vector512<float> x, Vector512<uint> bits, Vector512<float> invT, Vector512<float> bound)
    {
        var bucket = Avx512CD.LeadingZeroCount(Vector512.ShiftRightLogical(~bits, 9)) - Vector512.Create(9u);
        var noise = Avx512F.PermuteVar16x32x2(Low, bucket.AsInt32(), High);
        return Vector512.LessThanAll(x * invT + noise, bound);
    }

    private static float[] Build()
    {
        var max = new float[Count];
        for (int b = 0; b < Count; b++)
        {
            // Bucket b is the run of u with z = 2²³ − 1 − u in [2^(22−b), 2^(23−b)); bucket 23 is z = 0 alone.
            uint zLow = b == Count - 1 ? 0 : 1u << (22 - b), zEnd = b == Count - 1 ? 1 : 1u << (23 - b);
            uint u = (1u << 23) - zEnd, end = (1u << 23) - zLow; // u in [u, end)
            float m = float.NegativeInfinity;
            if (Philox.VectorBlocks.IsSupported)
            {
                var lanes = Vector512.Create(float.NegativeInfinity);
                for (; u + 16 <= end; u += 16)
                    lanes = Vector512.Max(lanes, Philox.Gumbel(Vector512.ShiftLeft(Vector512.Create(u) + Vector512<uint>.Indices, 9)));
                for (int j = 0; j < 16; j++) m = MathF.Max(m, lanes.GetElement(j));
            }
            for (; u < end; u++) m = MathF.Max(m, Philox.Gumbel(u << 9));
            max[b] = m;
        }
        return max;
    }
}
