using Electra.Cpu;

namespace Electra.Tests.Tensor;

/// <summary>The vectorised dropout rule against the scalar one it must reproduce exactly.</summary>
public unsafe class DropoutMaskTests
{
    [TestCase(0.1f)]
    [TestCase(0.5f)]
    [TestCase(0.9f)]
    [TestCase(0f)]
    [TestCase(1f / 3f)]
    public void KeepsExactlyWhatTheScalarRuleKeeps(float p)
    {
        const int n = 16 * 64 + 7; // whole vectors and a tail
        var rng = new Random(5);
        var bits = new uint[n];
        var x = new float[n];
        for (int i = 0; i < n; i++) { bits[i] = (uint)rng.NextInt64(0, 1L << 32); x[i] = (float)rng.NextDouble() - 0.5f; }
        // Straddle the threshold: the largest dropped and the smallest kept 24-bit values, and their neighbours.
        uint t = DropoutMask.Threshold(p);
        for (int d = -2; d <= 2; d++)
            if (t + d is var v && v <= 0xFFFFFF) bits[100 + d] = ((uint)v << 8) | 0xAB;
        bits[200] = 0; bits[201] = uint.MaxValue;

        float keep = 1f / (1f - p);
        var y = new float[n];
        fixed (float* px = x, py = y)
        fixed (uint* pb = bits)
            DropoutMask.Apply(px, pb, p, keep, py, n);
        for (int i = 0; i < n; i++)
            Assert.That(y[i], Is.EqualTo(Philox.Uniform(bits[i]) >= p ? x[i] * keep : 0f), $"element {i}, bits 0x{bits[i]:X8}");
    }

    [Test]
    public void ThresholdIsTheFirstKeptValue()
    {
        foreach (float p in new[] { 0f, 0.1f, 0.25f, 0.5f, 0.999f })
        {
            uint t = DropoutMask.Threshold(p);
            Assert.That(Philox.Uniform(t << 8) >= p, Is.True, $"p={p}: {t} is kept");
            if (t > 0) Assert.That(Philox.Uniform((t - 1) << 8) >= p, Is.False, $"p={p}: {t - 1} is dropped");
        }
        Assert.That(DropoutMask.Threshold(1f), Is.EqualTo(1u << 24), "p = 1 keeps nothing");
    }
}
