using static Electra.Tests.Cuda.Gpu;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>kernels-cu/attention.cu against the CPU reference: F32 within 1e-4, BF16 storage within 1e-2.</summary>
[Category("Gpu")]
public class AttentionKernelTests
{
    private static readonly IBackend Cpu = Backends.Cpu;

    // (B, T, NH, HS, dropout, padding step): T = 37, 50, 70, 129 are not multiples of any tile.
    [TestCase(2, 37, 2, 64, 0f, 5)]
    [TestCase(3, 128, 4, 64, 0.1f, 17)]
    [TestCase(2, 19, 1, 32, 0.2f, 0)]
    [TestCase(2, 70, 3, 32, 0f, 9)]
    [TestCase(1, 50, 2, 128, 0.1f, 7)]
    [TestCase(2, 129, 1, 128, 0f, 11)]
    public void ForwardAndBackwardMatchCpu(int b, int t, int nh, int hs, float dropout, int pad)
    {
        _ = Backend;
        int h = nh * hs;
        float scale = 1f / MathF.Sqrt(hs);
        var qkv = TestData.RandomFloats(b * t * 3 * h, 1000 + t, 1.5f);
        var dOut = TestData.RandomFloats(b * t * h, 2000 + t);
        var mask = KernelTestInputs.PaddingMask(b, t, pad);
        const ulong seed = 0xE1EC_7A5EUL, offset = 12345;

        var (cOut, cLse, cDqkv) = CpuAttention(qkv, dOut, mask, b, t, nh, h, scale, dropout, seed, offset);

        using var gQkv = Floats(qkv, b, t, 3 * h);
        using var gMask = Ints(mask, b, t);
        using var gOut = Poisoned(b, t, h);
        using var gLse = Poisoned(b, nh, t);
        Backend.AttentionForward(gQkv, gMask, nh, scale, dropout, seed, offset, gOut, gLse);
        AssertClose(gOut.ToFloatArray(), cOut, 1e-4, "attention output");
        AssertClose(gLse.ToFloatArray(), cLse, 1e-5, "log-sum-exp");

        using var gDOut = Floats(dOut, b, t, h);
        using var gDqkv = Poisoned(b, t, 3 * h);
        Backend.AttentionBackward(gDOut, gQkv, gMask, gOut, gLse, nh, scale, dropout, seed, offset, gDqkv);
        var got = gDqkv.ToFloatArray();
        AssertClose(got, cDqkv, 1e-4, "dQkv");

        // Two kernels, no atomics: a second run gives the same bits.
        using var gDqkv2 = Poisoned(b, t, 3 * h);
        Backend.AttentionBackward(gDOut, gQkv, gMask, gOut, gLse, nh, scale, dropout, seed, offset, gDqkv2);
        Assert.That(gDqkv2.ToFloatArray(), Is.EqualTo(got), "backward is deterministic");
    }

    [TestCase(2, 45, 4, 64, 0.1f)]
    [TestCase(1, 33, 2, 32, 0f)]
    public void Bf16MatchesCpuOnRoundedInputs(int b, int t, int nh, int hs, float dropout)
    {
        _ = Backend;
        int h = nh * hs;
        float scale = 1f / MathF.Sqrt(hs);
        var mask = KernelTestInputs.PaddingMask(b, t, 6);
        var (gQkv, qkv) = KernelTestInputs.Bf16(TestData.RandomFloats(b * t * 3 * h, 31, 1.5f), [b, t, 3 * h]);
        var (gDOut, dOut) = KernelTestInputs.Bf16(TestData.RandomFloats(b * t * h, 32), [b, t, h]);
        using var _q = gQkv;
        using var _d = gDOut;
        const ulong seed = 99, offset = 7;
        var (cOut, cLse, cDqkv) = CpuAttention(qkv, dOut, mask, b, t, nh, h, scale, dropout, seed, offset);

        using var gMask = Ints(mask, b, t);
        using var gOut = KernelTestInputs.PoisonedBf16(b, t, h);
        using var gLse = Poisoned(b, nh, t);
        Backend.AttentionForward(gQkv, gMask, nh, scale, dropout, seed, offset, gOut, gLse);
        AssertClose(gOut.ToFloatArray(), cOut, 1e-2, "bf16 attention output");
        AssertClose(gLse.ToFloatArray(), cLse, 1e-3, "bf16 log-sum-exp");

        // The backward reads the output the forward stored (rounded to bf16), as training would.
        using var gDqkv = KernelTestInputs.PoisonedBf16(b, t, 3 * h);
        Backend.AttentionBackward(gDOut, gQkv, gMask, gOut, gLse, nh, scale, dropout, seed, offset, gDqkv);
        AssertClose(gDqkv.ToFloatArray(), cDqkv, 1e-2, "bf16 dQkv");
    }

    private static (float[] Out, float[] Lse, float[] DQkv) CpuAttention(float[] qkv, float[] dOut, int[] mask, int b, int t, int nh, int h,
        float scale, float dropout, ulong seed, ulong offset)
    {
        using var cQkv = Tensor.FromArray(qkv, [b, t, 3 * h]);
        using var cMask = Tensor.FromArray(mask, [b, t]);
        using var cOut = Tensor.Empty([b, t, h]);
        using var cLse = Tensor.Empty([b, nh, t]);
        Cpu.AttentionForward(cQkv, cMask, nh, scale, dropout, seed, offset, cOut, cLse);
        using var cDOut = Tensor.FromArray(dOut, [b, t, h]);
        using var cDqkv = Tensor.Empty([b, t, 3 * h]);
        Cpu.AttentionBackward(cDOut, cQkv, cMask, cOut, cLse, nh, scale, dropout, seed, offset, cDqkv);
        return (cOut.ToFloatArray(), cLse.ToFloatArray(), cDqkv.ToFloatArray());
    }
}
