using static Electra.Tests.Cuda.Gpu;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>
/// kernels-cu/attention_mma.cu (BF16 qkv, HS 32/64, mma.sync) against the CPU reference on the same bf16-rounded
/// inputs, within 1e-2 relative; and against attention.cu's BF16 FFMA path, which computes the same function.
/// </summary>
[Category("Gpu")]
public class AttentionTensorCoreTests
{
    private static readonly IBackend Cpu = Backends.Cpu;

    // (B, T, NH, HS, dropout, padding step): T = 1, 45, 70, 129, 200 leave partial 64-row tiles (and partial
    // 32-query tiles in dK/dV); odd T puts dropout pairs across Philox block boundaries.
    [TestCase(2, 45, 4, 64, 0.1f, 6)]
    [TestCase(3, 128, 4, 64, 0f, 17)]
    [TestCase(2, 129, 2, 64, 0.2f, 11)]
    [TestCase(1, 200, 1, 64, 0.1f, 0)]
    [TestCase(2, 70, 3, 32, 0f, 9)]
    [TestCase(2, 33, 2, 32, 0.1f, 5)]
    [TestCase(2, 1, 1, 64, 0f, 0)]
    public void MatchesCpuOnRoundedInputs(int b, int t, int nh, int hs, float dropout, int pad)
    {
        var be = Backend;
        Assert.That(be.UseTensorCoreAttention, Is.True, "the tensor-core path is the default for bf16");
        int h = nh * hs;
        float scale = 1f / MathF.Sqrt(hs);
        var mask = KernelTestInputs.PaddingMask(b, t, pad);
        var (gQkv, qkv) = KernelTestInputs.Bf16(TestData.RandomFloats(b * t * 3 * h, 500 + t, 1.5f), [b, t, 3 * h]);
        var (gDOut, dOut) = KernelTestInputs.Bf16(TestData.RandomFloats(b * t * h, 600 + t), [b, t, h]);
        using var _q = gQkv;
        using var _d = gDOut;
        const ulong seed = 0xA77E, offset = 3;
        var (cOut, cLse, cDqkv) = CpuAttention(qkv, dOut, mask, b, t, nh, h, scale, dropout, seed, offset);

        using var gMask = Ints(mask, b, t);
        using var gOut = KernelTestInputs.PoisonedBf16(b, t, h);
        using var gLse = Poisoned(b, nh, t);
        be.AttentionForward(gQkv, gMask, nh, scale, dropout, seed, offset, gOut, gLse);
        AssertClose(gOut.ToFloatArray(), cOut, 1e-2, "mma attention output");
        AssertClose(gLse.ToFloatArray(), cLse, 1e-3, "mma log-sum-exp");

        using var gDqkv = KernelTestInputs.PoisonedBf16(b, t, 3 * h);
        be.AttentionBackward(gDOut, gQkv, gMask, gOut, gLse, nh, scale, dropout, seed, offset, gDqkv);
        var got = gDqkv.ToFloatArray();
        // Each of dQ, dK, dV on its own: a wrong third must not hide behind two right ones. At T = 1 the one key has
        // P = 1, so dS = P∘(dP − D) = 0 and dQ = dK = 0 exactly, while the CPU reference holds rounding noise (RMS
        // ≈ 4e-8): the norm is floored at an RMS of 1e-3 per element, 40× below the smallest gradient RMS of the
        // other cases (≈ 4e-2), so only a (near-)zero reference is compared absolutely (RMS error ≤ 1e-5 there).
        for (int part = 0; part < 3; part++)
            AssertClose(Part(got, b * t, h, part), Part(cDqkv, b * t, h, part), 1e-2, $"mma d{"QKV"[part]}", floorRms: 1e-3);

        using var gDqkv2 = KernelTestInputs.PoisonedBf16(b, t, 3 * h);
        be.AttentionBackward(gDOut, gQkv, gMask, gOut, gLse, nh, scale, dropout, seed, offset, gDqkv2);
        Assert.That(gDqkv2.ToFloatArray(), Is.EqualTo(got), "backward is deterministic");
    }

    [Test]
    public void AgreesWithTheFfmaKernels()
    {
        var be = Backend;
        const int b = 2, t = 96, nh = 2, hs = 64, h = nh * hs;
        float scale = 0.125f;
        var mask = KernelTestInputs.PaddingMask(b, t, 13);
        var (gQkv, _) = KernelTestInputs.Bf16(TestData.RandomFloats(b * t * 3 * h, 71, 1.5f), [b, t, 3 * h]);
        var (gDOut, _) = KernelTestInputs.Bf16(TestData.RandomFloats(b * t * h, 72), [b, t, h]);
        using var _q = gQkv;
        using var _d = gDOut;
        using var gMask = Ints(mask, b, t);
        float[] Run(bool tensorCores, out float[] dqkv)
        {
            be.UseTensorCoreAttention = tensorCores;
            try
            {
                using var o = KernelTestInputs.PoisonedBf16(b, t, h);
                using var lse = Poisoned(b, nh, t);
                using var d = KernelTestInputs.PoisonedBf16(b, t, 3 * h);
                be.AttentionForward(gQkv, gMask, nh, scale, 0.1f, 5, 6, o, lse);
                be.AttentionBackward(gDOut, gQkv, gMask, o, lse, nh, scale, 0.1f, 5, 6, d);
                dqkv = d.ToFloatArray();
                return o.ToFloatArray();
            }
            finally
            {
                be.UseTensorCoreAttention = true;
            }
        }
        var mmaOut = Run(true, out var mmaD);
        var ffmaOut = Run(false, out var ffmaD);
        AssertClose(mmaOut, ffmaOut, 1e-2, "output, mma vs FFMA");
        AssertClose(mmaD, ffmaD, 1e-2, "dQkv, mma vs FFMA");
    }

    private static float[] Part(float[] qkvLike, int rows, int h, int part)
    {
        var r = new float[rows * h];
        for (int i = 0; i < rows; i++) Array.Copy(qkvLike, (long)i * 3 * h + part * h, r, (long)i * h, h);
        return r;
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
