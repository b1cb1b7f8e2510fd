using Electra.Tests.Tensor;
using static Electra.Tests.Cuda.Gpu;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>
/// The attention kernels (attention.cu in F32 and BF16, attention_mma.cu) with a NaN or an infinity in Q or K: NaN
/// in exactly the CPU backend's places in the output, the lse and dQkv, −∞ lse exactly where the CPU has it, and the
/// finite rest close to the CPU. Outputs are poisoned with a finite value, so an unwritten element cannot pass as NaN.
/// </summary>
[Category("Gpu")]
public class AttentionNanKernelTests
{
    private const float Sentinel = 12288f; // exact in BF16 too

    public static IEnumerable<TestCaseData> Cases()
    {
        // (T, NH, HS, dtype, tensor cores): T = 37 is one partial tile; T = 70 spans two key tiles.
        var kernels = new (int T, int NH, int HS, DType DType, bool TensorCores)[]
        {
            (37, 2, 32, DType.F32, false), (70, 2, 64, DType.F32, false), (37, 1, 128, DType.F32, false),
            (70, 2, 64, DType.BF16, false), (70, 2, 64, DType.BF16, true), (37, 2, 32, DType.BF16, true),
        };
        foreach (var k in kernels)
            foreach (var c in AttentionNanCases.All(k.T, k.NH, k.HS))
                yield return new TestCaseData(c, k.T, k.NH, k.HS, k.DType, k.TensorCores)
                    .SetArgDisplayNames(c.Name, $"T{k.T}", $"NH{k.NH}", $"HS{k.HS}", k.DType.ToString(), k.TensorCores ? "mma" : "ffma");
    }

    [TestCaseSource(nameof(Cases))]
    public void NanLandsWhereTheCpuPutsIt(AttentionNanCases.Case c, int t, int nh, int hs, DType dtype, bool tensorCores)
    {
        var be = Backend;
        int b = AttentionNanCases.B, h = nh * hs;
        float scale = 1f / MathF.Sqrt(hs);
        bool bf16 = dtype == DType.BF16;
        var qkvData = bf16 ? c.Qkv.Select(v => BFloat16.ToFloat(BFloat16.FromFloat(v))).ToArray() : c.Qkv;
        var dOutData = TestData.RandomFloats(b * t * h, 77);
        if (bf16) dOutData = dOutData.Select(v => BFloat16.ToFloat(BFloat16.FromFloat(v))).ToArray();
        var (cOut, cLse, cD) = Cpu(qkvData, dOutData, c.Mask, b, t, nh, h, scale);

        bool saved = be.UseTensorCoreAttention;
        be.UseTensorCoreAttention = tensorCores;
        try
        {
            using var gQkv = OnDevice(qkvData, dtype, b, t, 3 * h);
            using var gDOut = OnDevice(dOutData, dtype, b, t, h);
            using var gMask = Ints(c.Mask, b, t);
            using var gOut = Tensor.Full([b, t, h], Sentinel, dtype, Dev);
            using var gLse = Tensor.Full([b, nh, t], Sentinel, DType.F32, Dev);
            be.AttentionForward(gQkv, gMask, nh, scale, 0f, 1, 0, gOut, gLse);
            using var gD = Tensor.Full([b, t, 3 * h], Sentinel, dtype, Dev);
            be.AttentionBackward(gDOut, gQkv, gMask, gOut, gLse, nh, scale, 0f, 1, 0, gD);

            double tolerance = bf16 ? 2e-2 : 1e-4;
            AssertSameNonFinite(gOut.ToFloatArray(), cOut, tolerance, $"{c.Name}: output");
            AssertSameNonFinite(gLse.ToFloatArray(), cLse, bf16 ? 1e-3 : 1e-5, $"{c.Name}: lse");
            AssertSameNonFinite(gD.ToFloatArray(), cD, tolerance, $"{c.Name}: dQkv");
            if (c.ForwardNan) Assert.That(cOut.Count(float.IsNaN), Is.GreaterThan(0), "the case is one that must show NaN");
        }
        finally
        {
            be.UseTensorCoreAttention = saved;
        }
    }

    /// <summary>NaN and ±∞ at the same indices, and the finite elements within a relative tolerance.</summary>
    private static void AssertSameNonFinite(float[] got, float[] want, double tolerance, string what)
    {
        Assert.That(got, Has.Length.EqualTo(want.Length), what);
        for (int i = 0; i < got.Length; i++)
        {
            if (float.IsNaN(want[i]) != float.IsNaN(got[i]) || (float.IsInfinity(want[i]) && want[i] != got[i]))
                Assert.Fail($"{what}: element {i} is {got[i]}, the CPU's is {want[i]}");
        }
        var finite = Enumerable.Range(0, got.Length).Where(i => float.IsFinite(want[i])).ToArray();
        Assert.That(finite.Select(i => got[i]), Has.None.EqualTo(Sentinel), what + ": unwritten elements");
        AssertClose(finite.Select(i => got[i]).ToArray(), finite.Select(i => want[i]).ToArray(), tolerance, what);
    }

    private static Tensor OnDevice(float[] data, DType dtype, params int[] shape)
    {
        if (dtype == DType.F32) return Floats(data, shape);
        using var f32 = Floats(data, shape);
        var bf = Tensor.Empty(shape, DType.BF16, Dev);
        Backend.Copy(f32, bf);
        return bf;
    }

    private static (float[] Out, float[] Lse, float[] DQkv) Cpu(float[] qkv, float[] dOut, int[] mask, int b, int t, int nh, int h, float scale)
    {
        var cpu = Backends.Cpu;
        using var cQkv = Tensor.FromArray(qkv, [b, t, 3 * h]);
        using var cMask = Tensor.FromArray(mask, [b, t]);
        using var cOut = Tensor.Empty([b, t, h]);
        using var cLse = Tensor.Empty([b, nh, t]);
        cpu.AttentionForward(cQkv, cMask, nh, scale, 0f, 1, 0, cOut, cLse);
        using var cDOut = Tensor.FromArray(dOut, [b, t, h]);
        using var cD = Tensor.Empty([b, t, 3 * h]);
        cpu.AttentionBackward(cDOut, cQkv, cMask, cOut, cLse, nh, scale, 0f, 1, 0, cD);
        return (cOut.ToFloatArray(), cLse.ToFloatArray(), cD.ToFloatArray());
    }
}
