using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Electra;

// SIMD versions of Philox bits and of the Gumbel transform. They exist for speed only: every lane must equal the
// scalar function bit for bit (tests/Electra.Tests/Tensor/PhiloxVectorTests.cs checks the whole Gumbel domain), so
// they repeat the scalar operations in the same order with the same correctly-rounded IEEE operations — no FMA,
// no reassociation, no approximate reciprocal.
public static partial class Philox
{
    /// <summary>Eight Philox blocks per step in the 64-bit lanes of a Vector512 (AVX-512F's 32×32→64 multiply).</summary>
    internal static class VectorBlocks
    {
        public static bool IsSupported => Avx512F.IsSupported;
    }

    /// <summary>
    /// Eight consecutive blocks (first, first+1, …) as 32 words in element order. Each counter word lives in the
    /// low half of a 64-bit lane; the high halves carry garbage that <c>vpmuludq</c> ignores and the final
    /// packing drops, which saves a mask per round.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block8(ulong first, ulong seed, ulong offset, out Vector512<uint> lo, out Vector512<uint> hi)
    {
        var block = Vector512.Create(first) + Vector512.Create(0UL, 1, 2, 3, 4, 5, 6, 7);
        var c0 = block;
        var c1 = block >>> 32;
        var c2 = Vector512.Create(offset & 0xFFFFFFFF);
        var c3 = Vector512.Create(offset >> 32);
        uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
        var m0 = Vector512.Create((ulong)M0).AsUInt32();
        var m1 = Vector512.Create((ulong)M1).AsUInt32();
        for (int round = 0; round < 10; round++)
        {
            if (round > 0) { k0 += W0; k1 += W1; }
            var p0 = Avx512F.Multiply(c0.AsUInt32(), m0);
            var p1 = Avx512F.Multiply(c2.AsUInt32(), m1);
            var n0 = (p1 >>> 32) ^ c1 ^ Vector512.Create((ulong)k0);
            var n2 = (p0 >>> 32) ^ c3 ^ Vector512.Create((ulong)k1);
            c0 = n0; c1 = p1; c2 = n2; c3 = p0;
        }
        // Lane j holds words 4j..4j+3: pack (w0, w1) and (w2, w3) into 64-bit pairs, then interleave the pairs.
        var low = Vector512.Create(0xFFFFFFFFUL);
        var a = Vector512.ConditionalSelect(low, c0, c1 << 32);
        var b = Vector512.ConditionalSelect(low, c2, c3 << 32);
        lo = Avx512F.PermuteVar8x64x2(a, Vector512.Create(0UL, 8, 1, 9, 2, 10, 3, 11), b).AsUInt32();
        hi = Avx512F.PermuteVar8x64x2(a, Vector512.Create(4UL, 12, 5, 13, 6, 14, 7, 15), b).AsUInt32();
    }

    private static void FillVectorized(ulong seed, ulong offset, ulong start, Span<uint> destination)
    {
        int i = 0, n = destination.Length;
        // A partial first block goes through the scalar path (one block).
        int head = (int)Math.Min((ulong)n, (4 - (start & 3)) & 3);
        if (head > 0) { FillScalar(seed, offset, start, destination[..head]); i = head; }
        ref uint d = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(destination);
        for (; i + 32 <= n; i += 32)
        {
            Block8((start + (ulong)i) >> 2, seed, offset, out var lo, out var hi);
            lo.StoreUnsafe(ref d, (nuint)i);
            hi.StoreUnsafe(ref d, (nuint)(i + 16));
        }
        if (i < n)
        {
            Span<uint> tail = stackalloc uint[32];
            ref uint t = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(tail);
            Block8((start + (ulong)i) >> 2, seed, offset, out var lo, out var hi);
            lo.StoreUnsafe(ref t);
            hi.StoreUnsafe(ref t, 16);
            tail[..(n - i)].CopyTo(destination[i..]);
        }
    }

    /// <summary>Lane-wise <see cref="UniformOpen(uint)"/>: (bits>>9) is below 2^23, so the conversion is exact.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> UniformOpen(Vector512<uint> bits) =>
        (Vector512.ConvertToSingle((bits >>> 9).AsInt32()) + Vector512.Create(0.5f)) * Vector512.Create(1f / 8388608f);

    /// <summary>Lane-wise <see cref="Gumbel(uint)"/>, bit-identical to it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Gumbel(Vector512<uint> bits) => -PortableLog(-PortableLog(UniformOpen(bits)));

    /// <summary>Lane-wise <see cref="PortableLog(float)"/> for positive normal floats, bit-identical to it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> PortableLog(Vector512<float> x)
    {
        var bits = x.AsUInt32();
        var e = ((bits >>> 23) & Vector512.Create(0xFFu)).AsInt32() - Vector512.Create(127);
        var m = ((bits & Vector512.Create(0x007FFFFFu)) | Vector512.Create(0x3F800000u)).AsSingle(); // [1, 2)
        var big = Vector512.GreaterThan(m, Vector512.Create(1.41421356f));
        m = Vector512.ConditionalSelect(big, m * Vector512.Create(0.5f), m);
        e -= big.AsInt32(); // all-ones is −1
        var one = Vector512.Create(1f);
        var s = (m - one) / (m + one);
        var s2 = s * s;
        var poly = Vector512.Create(2f / 9f);
        poly = poly * s2 + Vector512.Create(2f / 7f);
        poly = poly * s2 + Vector512.Create(2f / 5f);
        poly = poly * s2 + Vector512.Create(2f / 3f);
        poly = poly * s2 + Vector512.Create(2f);
        return Vector512.ConvertToSingle(e) * Vector512.Create(0.693147181f) + s * poly;
    }

    /// <summary>
    /// The largest value <see cref="Gumbel(uint)"/> takes over all 2^32 inputs (found by enumerating the 2^23
    /// distinct uniforms; a test repeats the enumeration). No column's noise exceeds it, which makes
    /// "x/τ + GumbelMax &lt; best" a proof that the column cannot win a Gumbel-max draw.
    /// </summary>
    public static readonly float GumbelMax = BitConverter.UInt32BitsToSingle(0x41851592); // 16.635532, at u = 1 − 2^−24
}
