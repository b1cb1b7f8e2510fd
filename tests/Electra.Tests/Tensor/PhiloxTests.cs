namespace Electra.Tests.Tensor;

public class PhiloxTests
{
    // Random123's kat_vectors, the three "philox4x32 10" lines: counter (4 words), key (2 words), expected (4 words).
    [TestCase(0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [TestCase(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [TestCase(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void BlockMatchesRandom123KnownAnswers(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint r0, uint r1, uint r2, uint r3)
    {
        Assert.That(Philox.Block(c0, c1, c2, c3, k0, k1), Is.EqualTo((r0, r1, r2, r3)));
    }

    [Test]
    public void BitsAddressesBlocksAsDocumented()
    {
        // key = seed (low word first); counter = (index/4 as 64 bits, offset as 64 bits); word = index % 4.
        Assert.That(Philox.Bits(0, 0, 1), Is.EqualTo(0xe169c58du), "word 1 of the all-zero known-answer block");
        const ulong seed = 0x299f31d0_a4093822UL, offset = 0x03707344_13198a2eUL, block = 0x05a308d3_243f6a88UL;
        var (r0, r1, r2, r3) = Philox.Block(0x243f6a88, 0x05a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0);
        Assert.That(new[] { Philox.Bits(seed, offset, block * 4), Philox.Bits(seed, offset, block * 4 + 1), Philox.Bits(seed, offset, block * 4 + 2), Philox.Bits(seed, offset, block * 4 + 3) },
            Is.EqualTo(new[] { r0, r1, r2, r3 }));
        Assert.That(Philox.Bits(seed, offset, block * 4 + 4), Is.EqualTo(Philox.Block(0x243f6a89, 0x05a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0).Item1));
    }

    [TestCase(0UL, 1000)]
    [TestCase(3UL, 1)]
    [TestCase(5UL, 10)]
    [TestCase(0xFFFF_FFFFUL * 4 + 2, 11)] // the block index crosses 2^32: its high word must carry
    public void FillAgreesWithBits(ulong start, int count)
    {
        const ulong seed = 42, offset = 9;
        var filled = new uint[count];
        Philox.Fill(seed, offset, start, filled);
        for (int i = 0; i < count; i++)
            Assert.That(filled[i], Is.EqualTo(Philox.Bits(seed, offset, start + (ulong)i)), $"element {start + (ulong)i}");
    }

    [Test]
    public void StreamsDifferBySeedAndOffset()
    {
        Assert.That(Philox.Bits(1, 0, 0), Is.Not.EqualTo(Philox.Bits(2, 0, 0)));
        Assert.That(Philox.Bits(1, 0, 0), Is.Not.EqualTo(Philox.Bits(1, 1, 0)));
        Assert.That(Philox.Bits(1UL << 32, 0, 0), Is.Not.EqualTo(Philox.Bits(0, 0, 0)), "the seed's high word is part of the key");
        Assert.That(Philox.Bits(0, 1UL << 32, 0), Is.Not.EqualTo(Philox.Bits(0, 0, 0)), "the offset's high word is part of the counter");
    }

    [TestCase(0x00000000u)]
    [TestCase(0x000000FFu)]
    [TestCase(0x00000100u)]
    [TestCase(0x7FFFFFFFu)]
    [TestCase(0x80000000u)]
    [TestCase(0xFFFFFEFFu)]
    [TestCase(0xFFFFFFFFu)]
    public void UniformIsHalfOpenAndUniformOpenIsOpen(uint bits)
    {
        float u = Philox.Uniform(bits);
        Assert.That(u, Is.GreaterThanOrEqualTo(0f).And.LessThan(1f));
        float o = Philox.UniformOpen(bits);
        Assert.That(o, Is.GreaterThan(0f).And.LessThan(1f));
        Assert.That(float.IsFinite(Philox.Gumbel(bits)), Is.True);
    }

    [Test]
    public void UniformOpenIsOpenForEveryInput()
    {
        // Every value the top bits can take, with the low bits set to their worst case.
        for (uint hi = 0; hi < (1u << 23); hi++)
        {
            uint bits = (hi << 9) | 0x1FF;
            float o = Philox.UniformOpen(bits);
            if (!(o > 0f && o < 1f)) Assert.Fail($"UniformOpen(0x{bits:X8}) = {o:R}, outside (0, 1)");
        }
        Assert.That(Philox.UniformOpen(0), Is.GreaterThan(0f));
    }

    [Test]
    public void PortableLogIsWithinAFewUlpOfMathLog()
    {
        // Dense grid over (0, 20], plus the tiny values a Gumbel draw takes logarithms of.
        int worstUlp = 0;
        float worstAt = 0;
        void Check(float x)
        {
            float exact = (float)Math.Log(x);
            float ours = Philox.PortableLog(x);
            int ulp = Math.Abs(BitConverter.SingleToInt32Bits(ours) - BitConverter.SingleToInt32Bits(exact));
            if (MathF.Sign(ours) != MathF.Sign(exact) && exact != 0f) ulp = int.MaxValue;
            if (ulp > worstUlp) { worstUlp = ulp; worstAt = x; }
        }
        for (int i = 1; i <= 2_000_000; i++) Check(i * (20f / 2_000_000));
        for (float x = 1e-30f; x < 1f; x *= 1.0001f) Check(x);
        for (float x = 1f; x < 1.001f; x = MathF.BitIncrement(x)) Check(x);
        for (float x = 1f; x > 0.999f; x = MathF.BitDecrement(x)) Check(x);
        Assert.That(worstUlp, Is.LessThanOrEqualTo(4), $"worst at x = {worstAt:R}: PortableLog {Philox.PortableLog(worstAt):R}, Math.Log {Math.Log(worstAt):R}");
    }

    [Test]
    public void GumbelHasTheStandardMeanAndVariance()
    {
        const int n = 1_000_000;
        var bits = new uint[n];
        Philox.Fill(2024, 3, 0, bits);
        double sum = 0, sumSq = 0;
        foreach (var b in bits)
        {
            double g = Philox.Gumbel(b);
            sum += g;
            sumSq += g * g;
        }
        double mean = sum / n, variance = sumSq / n - mean * mean;
        // Euler–Mascheroni γ and π²/6; σ = 1.28, so the standard error of the mean is 0.0013: 5σ ≈ 0.0064.
        Assert.That(mean, Is.EqualTo(0.5772156649).Within(0.0064));
        Assert.That(variance, Is.EqualTo(Math.PI * Math.PI / 6).Within(0.03));
    }
}
