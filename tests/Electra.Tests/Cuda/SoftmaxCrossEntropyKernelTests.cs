using static Electra.Tests.Cuda.Gpu;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>kernels-cu/softmax_cross_entropy.cu against the CPU reference: loss, gradient (in place or not), sample.</summary>
[Category("Gpu")]
public class SoftmaxCrossEntropyKernelTests
{
    private static readonly IBackend Cpu = Backends.Cpu;
    private const int Ignore = -100;

    // V = 30,522 (the vocabulary; rows alternate 16-byte alignment), 10 and 1,001 (odd sizes, short rows).
    [TestCase(17, 30522, true)]
    [TestCase(3, 10, false)]
    [TestCase(40, 1001, true)]
    [TestCase(9, 1001, false)]
    public void LossGradientAndSampleMatchCpu(int m, int v, bool inPlace)
    {
        _ = Backend;
        var logits = TestData.RandomFloats(m * v, m + v, 6f);
        var targets = RandomInts(m, v, 5);
        for (int r = 0; r < m; r += 4) targets[r] = Ignore; // some rows are not masked positions
        const float gradScale = 1f / 7f, temperature = 0.8f;
        const ulong seed = 0xABCDEF, offset = 4242;

        using var cx = Tensor.FromArray(logits, [m, v]);
        using var ct = Tensor.FromArray(targets, [m]);
        using var cl = Tensor.Empty([m]);
        using var cd = Tensor.Empty([m, v]);
        using var cs = Tensor.Empty([m], DType.I32);
        Cpu.SoftmaxCrossEntropy(cx, ct, Ignore, cl, cd, gradScale, cs, temperature, seed, offset);

        using var gx = Floats(logits, m, v);
        using var gt = Ints(targets, m);
        using var gl = Poisoned(m);
        using var gs = PoisonedInts(m);
        using var gdSeparate = inPlace ? null : Poisoned(m, v);
        var gd = inPlace ? gx : gdSeparate!;
        Backend.SoftmaxCrossEntropy(gx, gt, Ignore, gl, gd, gradScale, gs, temperature, seed, offset);
        AssertClose(gl.ToFloatArray(), cl.ToFloatArray(), 1e-5, "losses");
        AssertClose(gd.ToFloatArray(), cd.ToFloatArray(), 1e-4, "dLogits");
        Assert.That(gs.ToIntArray(), Is.EqualTo(cs.ToIntArray()), "samples are bit-identical to the CPU's");
        var losses = gl.ToFloatArray();
        for (int r = 0; r < m; r += 4) Assert.That(losses[r], Is.EqualTo(0f), $"ignored row {r} has loss 0");
    }

    [Test]
    public void LossOnlyWithoutGradientOrSamples()
    {
        _ = Backend;
        const int m = 6, v = 333;
        var logits = TestData.RandomFloats(m * v, 8, 4f);
        var targets = RandomInts(m, v, 9);
        using var cx = Tensor.FromArray(logits, [m, v]);
        using var ct = Tensor.FromArray(targets, [m]);
        using var cl = Tensor.Empty([m]);
        Cpu.SoftmaxCrossEntropy(cx, ct, Ignore, cl, null, 1f, null, 1f, 0, 0);
        using var gx = Floats(logits, m, v);
        using var gt = Ints(targets, m);
        using var gl = Poisoned(m);
        Backend.SoftmaxCrossEntropy(gx, gt, Ignore, gl, null, 1f, null, 1f, 0, 0);
        AssertClose(gl.ToFloatArray(), cl.ToFloatArray(), 1e-5, "losses");
        Assert.That(gx.ToFloatArray(), Is.EqualTo(logits), "logits untouched when no gradient is asked for");
    }

    [Test]
    public void Bf16MatchesCpuOnRoundedInputs()
    {
        _ = Backend;
        const int m = 11, v = 30522;
        var (gx, logits) = KernelTestInputs.Bf16(TestData.RandomFloats(m * v, 21, 6f), [m, v]);
        using var _x = gx;
        var targets = RandomInts(m, v, 22);
        targets[3] = Ignore;
        using var cx = Tensor.FromArray(logits, [m, v]);
        using var ct = Tensor.FromArray(targets, [m]);
        using var cl = Tensor.Empty([m]);
        using var cd = Tensor.Empty([m, v]);
        using var cs = Tensor.Empty([m], DType.I32);
        Cpu.SoftmaxCrossEntropy(cx, ct, Ignore, cl, cd, 0.5f, cs, 1f, 5, 6);
        using var gt = Ints(targets, m);
        using var gl = Poisoned(m);
        using var gs = PoisonedInts(m);
        Backend.SoftmaxCrossEntropy(gx, gt, Ignore, gl, gx, 0.5f, gs, 1f, 5, 6);
        AssertClose(gl.ToFloatArray(), cl.ToFloatArray(), 1e-5, "bf16 losses");
        AssertClose(gx.ToFloatArray(), cd.ToFloatArray(), 1e-2, "bf16 dLogits (in place)");
        Assert.That(gs.ToIntArray(), Is.EqualTo(cs.ToIntArray()), "bf16 samples are bit-identical to the CPU's on the same values");
    }

    [Test]
    public void TargetOutsideVocabularyIsReported()
    {
        _ = Backend;
        using var gx = Floats(TestData.RandomFloats(2 * 50, 1), 2, 50);
        using var gt = Ints([3, 50], 2);
        using var gl = Poisoned(2);
        Backend.SoftmaxCrossEntropy(gx, gt, Ignore, gl, null, 1f, null, 1f, 0, 0);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Backend.Synchronize());
        Assert.That(e!.Message, Does.Contain("row 1").And.Contain("target 50"));
    }
}
