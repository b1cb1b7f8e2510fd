using Electra.Benchmarks.Cuda;
using static Electra.Tests.Cuda.Gpu;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>
/// The benchmarks' baselines compute what the kernels they are compared with compute (else a speed-up means
/// nothing): the cuBLAS attention sequence and the unfused layernorm / softmax-CE / Gumbel sequences against the
/// CPU reference.
/// </summary>
[Category("Gpu")]
public class BaselineParityTests
{
    private static readonly IBackend Cpu = Backends.Cpu;

    // F32 runs its GEMMs in TF32 (10-bit mantissas): 2e-3 relative; BF16 keeps P and dS in bf16: 1e-2.
    [TestCase(DType.F32, 2, 37, 2, 64, 2e-3)]
    [TestCase(DType.F32, 2, 128, 4, 64, 2e-3)]
    [TestCase(DType.BF16, 3, 70, 2, 64, 1e-2)]
    public void CublasAttentionMatchesCpu(DType dtype, int b, int t, int nh, int hs, double tolerance)
    {
        var be = Backend;
        int h = nh * hs;
        float scale = 1f / MathF.Sqrt(hs);
        var mask = KernelTestInputs.PaddingMask(b, t, 7);
        var qkv = TestData.RandomFloats(b * t * 3 * h, 81, 1.5f);
        var dOut = TestData.RandomFloats(b * t * h, 82);
        if (dtype == DType.BF16)
        {
            qkv = qkv.Select(v => BFloat16.ToFloat(BFloat16.FromFloat(v))).ToArray();
            dOut = dOut.Select(v => BFloat16.ToFloat(BFloat16.FromFloat(v))).ToArray();
        }
        using var cQkv = Tensor.FromArray(qkv, [b, t, 3 * h]);
        using var cMask = Tensor.FromArray(mask, [b, t]);
        using var cOut = Tensor.Empty([b, t, h]);
        using var cLse = Tensor.Empty([b, nh, t]);
        Cpu.AttentionForward(cQkv, cMask, nh, scale, 0f, 0, 0, cOut, cLse);
        using var cDOut = Tensor.FromArray(dOut, [b, t, h]);
        using var cDqkv = Tensor.Empty([b, t, 3 * h]);
        Cpu.AttentionBackward(cDOut, cQkv, cMask, cOut, cLse, nh, scale, 0f, 0, 0, cDqkv);

        using var gQkv = Device(qkv, dtype, b, t, 3 * h);
        using var gDOut = Device(dOut, dtype, b, t, h);
        using var gMask = Ints(mask, b, t);
        using var gOut = Tensor.Full([b, t, h], float.NaN, dtype, Dev);
        using var gDqkv = Tensor.Full([b, t, 3 * h], float.NaN, dtype, Dev);
        using (var baseline = new AttentionBaseline(be, b, t, nh, hs, dtype))
        {
            baseline.Forward(gQkv, gMask, scale, gOut);
            baseline.Backward(gDOut, gQkv, scale, gDqkv);
        }
        AssertClose(gOut.ToFloatArray(), cOut.ToFloatArray(), tolerance, "baseline output");
        AssertClose(gDqkv.ToFloatArray(), cDqkv.ToFloatArray(), tolerance, "baseline dQkv");
    }

    [Test]
    public void UnfusedLayerNormMatchesCpu()
    {
        var be = Backend;
        const int rows = 300, c = 256;
        var x = TestData.RandomFloats(rows * c, 91, 2f);
        var r = TestData.RandomFloats(rows * c, 92);
        var gamma = TestData.RandomFloats(c, 93);
        var beta = TestData.RandomFloats(c, 94);
        var dY = TestData.RandomFloats(rows * c, 95);
        using var cx = Tensor.FromArray(x, [rows, c]);
        using var cr = Tensor.FromArray(r, [rows, c]);
        using var cg = Tensor.FromArray(gamma, [c]);
        using var cb = Tensor.FromArray(beta, [c]);
        using var cy = Tensor.Empty([rows, c]);
        using var cs = Tensor.Empty([rows, c]);
        using var cMean = Tensor.Empty([rows]);
        using var cRstd = Tensor.Empty([rows]);
        Cpu.LayerNormForward(cx, cr, cg, cb, 1e-5f, cy, cMean, cRstd, cs);
        using var cdY = Tensor.FromArray(dY, [rows, c]);
        using var cdS = Tensor.Empty([rows, c]);
        using var cdG = Tensor.Empty([c]);
        using var cdB = Tensor.Empty([c]);
        Cpu.LayerNormBackward(cdY, cs, cg, cMean, cRstd, cdS, cdG, cdB);

        using var gx = Floats(x, rows, c);
        using var gr = Floats(r, rows, c);
        using var gg = Floats(gamma, c);
        using var gb = Floats(beta, c);
        using var gy = Poisoned(rows, c);
        using var gs = Poisoned(rows, c);
        using var gMean = Poisoned(rows);
        using var gRstd = Poisoned(rows);
        UnfusedBaselines.LayerNormForward(be, gx, gr, gg, gb, 1e-5f, gy, gMean, gRstd, gs);
        AssertClose(gy.ToFloatArray(), cy.ToFloatArray(), 1e-5, "unfused y");
        AssertClose(gRstd.ToFloatArray(), cRstd.ToFloatArray(), 1e-5, "unfused rstd");

        int partials = UnfusedBaselines.PartialRows(rows);
        using var gdY = Floats(dY, rows, c);
        using var gdS = Poisoned(rows, c);
        using var gdG = Poisoned(c);
        using var gdB = Poisoned(c);
        using var a = Poisoned(rows);
        using var bb = Poisoned(rows);
        using var pG = Poisoned(partials, c);
        using var pB = Poisoned(partials, c);
        UnfusedBaselines.LayerNormBackward(be, gdY, gs, gg, gMean, gRstd, gdS, gdG, gdB, a, bb, pG, pB);
        AssertClose(gdS.ToFloatArray(), cdS.ToFloatArray(), 1e-4, "unfused dS");
        AssertClose(gdG.ToFloatArray(), cdG.ToFloatArray(), 1e-4, "unfused dγ");
        AssertClose(gdB.ToFloatArray(), cdB.ToFloatArray(), 1e-4, "unfused dβ");
    }

    [Test]
    public void UnfusedSoftmaxCrossEntropyAndGumbelMatchCpu()
    {
        var be = Backend;
        const int m = 37, v = 5003;
        var logits = TestData.RandomFloats(m * v, 101, 4f);
        var targets = RandomInts(m, v, 102);
        const ulong seed = 11, offset = 12;
        using var cx = Tensor.FromArray(logits, [m, v]);
        using var ct = Tensor.FromArray(targets, [m]);
        using var cLoss = Tensor.Empty([m]);
        using var cd = Tensor.Empty([m, v]);
        using var cSamples = Tensor.Empty([m], DType.I32);
        Cpu.SoftmaxCrossEntropy(cx, ct, -100, cLoss, cd, 0.5f, cSamples, 0.7f, seed, offset);

        using var gx = Floats(logits, m, v);
        using var gt = Ints(targets, m);
        using var gLoss = Poisoned(m);
        using var gd = Poisoned(m, v);
        using var gSamples = PoisonedInts(m);
        using var max = Poisoned(m);
        using var sum = Poisoned(m);
        using var scores = Poisoned(m, v);
        UnfusedBaselines.SoftmaxCrossEntropy(be, gx, gt, gLoss, gd, 0.5f, max, sum, gSamples, scores, 0.7f, seed, offset);
        AssertClose(gLoss.ToFloatArray(), cLoss.ToFloatArray(), 1e-5, "unfused loss");
        AssertClose(gd.ToFloatArray(), cd.ToFloatArray(), 1e-4, "unfused gradient");
        Assert.That(gSamples.ToIntArray(), Is.EqualTo(cSamples.ToIntArray()), "the unfused noise is the CPU's, bit for bit");
    }

    private static Tensor Device(float[] data, DType dtype, params int[] shape)
    {
        using var f = Floats(data, shape);
        var t = Tensor.Empty(shape, dtype, Dev);
        Backend.Copy(f, t);
        return t;
    }
}
