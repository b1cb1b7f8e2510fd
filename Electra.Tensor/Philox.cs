using System.Runtime.CompilerServices;

namespace Electra;

/// <summary>
/// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a counter-based generator,
/// so any element's random number is a pure function of (seed, offset, index) and every device draws the same
/// numbers in any order. <c>kernels-cu/common.cuh</c> implements the identical stream.
/// Addressing: key = seed; counter = (index/4 as 64 bits, offset as 64 bits); element <c>index</c> takes word
/// index % 4 of that block. An op reserves its own <c>offset</c> so streams never overlap.
/// </summary>
public static partial class Philox
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57;
    private const uint W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>The raw Philox4x32-10 bijection of one 128-bit counter under a 64-bit key.</summary>
    public static (uint, uint, uint, uint) Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            if (round > 0) { k0 += W0; k1 += W1; }
            ulong p0 = (ulong)M0 * c0;
            ulong p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0;
            uint hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0);
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>The 32 random bits of element <paramref name="index"/> in stream (seed, offset).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Bits(ulong seed, ulong offset, ulong index)
    {
        ulong block = index >> 2;
        var (r0, r1, r2, r3) = Block((uint)block, (uint)(block >> 32), (uint)offset, (uint)(offset >> 32), (uint)seed, (uint)(seed >> 32));
        return (index & 3) switch { 0 => r0, 1 => r1, 2 => r2, _ => r3 };
    }

    /// <summary>Fills <paramref name="destination"/> with the bits of elements start, start+1, … (one block per 4).</summary>
    public static void Fill(ulong seed, ulong offset, ulong start, Span<uint> destination)
    {
        if (VectorBlocks.IsSupported) { FillVectorized(seed, offset, start, destination); return; }
        FillScalar(seed, offset, start, destination);
    }

    /// <summary><see cref="Fill"/> one block at a time: the reference the vector path is tested against.</summary>
    internal static void FillScalar(ulong seed, ulong offset, ulong start, Span<uint> destination)
    {
        int i = 0;
        while (i < destination.Length)
        {
            ulong index = start + (ulong)i;
            ulong block = index >> 2;
            var (r0, r1, r2, r3) = Block((uint)block, (uint)(block >> 32), (uint)offset, (uint)(offset >> 32), (uint)seed, (uint)(seed >> 32));
            for (int w = (int)(index & 3); w < 4 && i < destination.Length; w++, i++)
                destination[i] = w switch { 0 => r0, 1 => r1, 2 => r2, _ => r3 };
        }
    }

    /// <summary>Uniform in [0, 1) with 24 bits: what dropout compares against p.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Uniform(uint bits) => (bits >> 8) * (1f / 16777216f);

    /// <summary>
    /// Uniform in the open interval (0, 1): safe to take logarithms of. 23 bits, because k + ½ is exact in a float
    /// only for k &lt; 2^23; with 24 bits the top value rounded up to exactly 1 (and half the others to even).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float UniformOpen(uint bits) => ((bits >> 9) + 0.5f) * (1f / 8388608f);

    /// <summary>
    /// A standard Gumbel draw −log(−log u). Computed with <see cref="PortableLog"/> so the CUDA kernels, doing the
    /// same correctly-rounded float operations in the same order, produce bit-identical noise.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Gumbel(uint bits) => -PortableLog(-PortableLog(UniformOpen(bits)));

    /// <summary>
    /// Natural logarithm of a positive normal float from basic IEEE operations only (no FMA, no libm), accurate to
    /// a few ulp: x = 2^e·m with m in [√½, √2), log m = 2·atanh(s), s = (m−1)/(m+1), by its odd series.
    /// </summary>
    public static float PortableLog(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        int e = (int)((bits >> 23) & 0xFF) - 127;
        float m = BitConverter.UInt32BitsToSingle((bits & 0x007FFFFF) | 0x3F800000); // [1, 2)
        if (m > 1.41421356f) { m *= 0.5f; e += 1; }
        float s = (m - 1f) / (m + 1f);
        float s2 = s * s;
        float poly = 2f / 9f;
        poly = poly * s2 + 2f / 7f;
        poly = poly * s2 + 2f / 5f;
        poly = poly * s2 + 2f / 3f;
        poly = poly * s2 + 2f;
        return e * 0.693147181f + s * poly;
    }
}
