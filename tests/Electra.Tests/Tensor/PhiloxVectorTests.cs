using System.Runtime.Intrinsics;

namespace Electra.Tests.Tensor;

/// <summary>
/// The SIMD Philox and Gumbel paths against the scalar definitions, bit for bit: the CPU sampler uses them, the
/// CUDA kernels reproduce the scalar stream, so a single differing lane would change which token gets sampled.
/// </summary>
public class PhiloxVectorTests
{
    private static void RequireVectors()
    {
        if (!Philox.VectorBlocks.IsSupported) Assert.Ignore("this CPU has no AVX-512F: the vector path is not used here");
    }

    [TestCase(0UL, 0UL, 0UL, 4096)]
    [TestCase(0x299f31d0_a4093822UL, 0x03707344_13198a2eUL, 1UL, 1000)]     // unaligned start: scalar head
    [TestCase(77UL, 1234UL, 0xFFFF_FFFFUL * 4 - 37, 200)]                   // the block index's high word carries
    [TestCase(ulong.MaxValue, ulong.MaxValue, ulong.MaxValue - 130, 131)]   // the last elements of the counter space
    [TestCase(5UL, 6UL, 3UL, 33)]
    [TestCase(5UL, 6UL, 8UL, 31)]                                            // tail only
    public void VectorFillEqualsScalarFill(ulong seed, ulong offset, ulong start, int count)
    {
        RequireVectors();
        var expected = new uint[count];
        for (int i = 0; i < count; i++) expected[i] = Philox.Bits(seed, offset, start + (ulong)i);
        var scalar = new uint[count];
        Philox.FillScalar(seed, offset, start, scalar);
        var vector = new uint[count + 1];
        vector[count] = 0xDEADBEEF; // the vector tail must not write past the span
        Philox.Fill(seed, offset, start, vector.AsSpan(0, count));
        Assert.That(scalar, Is.EqualTo(expected));
        Assert.That(vector[..count], Is.EqualTo(expected));
        Assert.That(vector[count], Is.EqualTo(0xDEADBEEF));
    }

    [Test]
    public void VectorFillEqualsBitsOverManySeedsAndOffsets()
    {
        RequireVectors();
        var rng = new Random(3);
        var buffer = new uint[97];
        for (int trial = 0; trial < 2000; trial++)
        {
            ulong seed = (ulong)rng.NextInt64() * 3, offset = (ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 40), start = (ulong)rng.NextInt64();
            int count = rng.Next(1, buffer.Length);
            Philox.Fill(seed, offset, start, buffer.AsSpan(0, count));
            for (int i = 0; i < count; i++)
                if (buffer[i] != Philox.Bits(seed, offset, start + (ulong)i))
                    Assert.Fail($"seed {seed}, offset {offset}, element {start + (ulong)i}: {buffer[i]:x8} vs {Philox.Bits(seed, offset, start + (ulong)i):x8}");
        }
        Assert.That(buffer[0], Is.Not.EqualTo(0u));
    }

    [Test]
    public void VectorGumbelEqualsScalarGumbelOnItsWholeDomain()
    {
        // Gumbel(bits) depends on bits >> 9 only: 2^23 distinct inputs, all of them checked, extremes included.
        var lanes = new uint[16];
        var result = new float[16];
        int mismatches = 0;
        string first = "";
        for (uint k = 0; k < (1u << 23); k += 16)
        {
            for (int j = 0; j < 16; j++) lanes[j] = ((k + (uint)j) << 9) | (uint)(j * 31); // low bits must not matter
            Philox.Gumbel(Vector512.Create(lanes)).CopyTo(result);
            for (int j = 0; j < 16; j++)
            {
                float expected = Philox.Gumbel(lanes[j]);
                if (BitConverter.SingleToUInt32Bits(result[j]) != BitConverter.SingleToUInt32Bits(expected))
                {
                    if (mismatches++ == 0) first = $"bits {lanes[j]:x8}: vector {result[j]:R}, scalar {expected:R}";
                }
            }
        }
        Assert.That(mismatches, Is.Zero, first);
    }

    [Test]
    public void VectorPortableLogEqualsScalarOverNormalFloats()
    {
        // Every 37th positive normal float (≈ 57 million), plus the ends of the range and the √2 switch.
        var input = new float[16];
        var result = new float[16];
        uint[] special = [0x00800000, 0x7F7FFFFF, 0x3F800000, BitConverter.SingleToUInt32Bits(1.41421356f), BitConverter.SingleToUInt32Bits(1.41421356f) + 1, BitConverter.SingleToUInt32Bits(1.41421356f) - 1, 0x3F7FFFFF];
        int mismatches = 0;
        for (uint b = 0x00800000; b < 0x7F800000 - 16 * 37; b += 16 * 37)
        {
            for (int j = 0; j < 16; j++) input[j] = BitConverter.UInt32BitsToSingle(b + (uint)j * 37);
            if (b < 0x00800000 + 16 * 37) for (int j = 0; j < special.Length; j++) input[j] = BitConverter.UInt32BitsToSingle(special[j]);
            Philox.PortableLog(Vector512.Create(input)).CopyTo(result);
            for (int j = 0; j < 16; j++)
                if (BitConverter.SingleToUInt32Bits(result[j]) != BitConverter.SingleToUInt32Bits(Philox.PortableLog(input[j]))) mismatches++;
        }
        Assert.That(mismatches, Is.Zero);
        Assert.That(Philox.PortableLog(Vector512.Create(1f)).GetElement(0), Is.EqualTo(0f));
    }

    [Test]
    public void GumbelMaxIsTheLargestNoiseValue()
    {
        float max = float.NegativeInfinity;
        uint argmax = 0;
        for (uint k = 0; k < (1u << 23); k++)
        {
            float g = Philox.Gumbel(k << 9);
            if (g > max) { max = g; argmax = k; }
        }
        Assert.That(BitConverter.SingleToUInt32Bits(Philox.GumbelMax), Is.EqualTo(BitConverter.SingleToUInt32Bits(max)),
            $"the largest Gumbel value is {max:R} (bits 0x{BitConverter.SingleToUInt32Bits(max):X8}) at uniform index {argmax}");
        Assert.That(Philox.GumbelMax, Is.GreaterThan(16f).And.LessThan(17f)); // −log(−log(1 − 2^−24)) ≈ 16.64
    }
}
