using static Electra.Tests.Cuda.Gpu;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>kernels-cu/layernorm.cu against the CPU reference, with and without the fused residual add.</summary>
[Category("Gpu")]
public class LayerNormKernelTests
{
    private static readonly IBackend Cpu = Backends.Cpu;

    [TestCase(1, 64, true)]
    [TestCase(37, 256, true)]
    [TestCase(1000, 100, false)]
    [TestCase(130, 1024, true)]
    [TestCase(5, 7, false)]
    public void ForwardAndBackwardMatchCpu(int rows, int c, bool withResidual)
    {
        _ = Backend;
        // A common offset per row checks the centred variance.
        var x = TestData.RandomFloats(rows * c, rows + c).Select((v, i) => v + 3f * (i / c % 5)).ToArray();
        var r = TestData.RandomFloats(rows * c, rows + c + 1);
        var gamma = TestData.RandomFloats(c, 3).Select(v => 1f + 0.5f * v).ToArray();
        var beta = TestData.RandomFloats(c, 4, 0.2f);
        var dy = TestData.RandomFloats(rows * c, 5);
        const float eps = 1e-12f;

        using var cx = Tensor.FromArray(x, [rows, c]);
        using var cr = Tensor.FromArray(r, [rows, c]);
        using var cg = Tensor.FromArray(gamma, [c]);
        using var cb = Tensor.FromArray(beta, [c]);
        using var cy = Tensor.Empty([rows, c]);
        using var cm = Tensor.Empty([rows]);
        using var cs = Tensor.Empty([rows]);
        using var cSum = Tensor.Empty([rows, c]);
        Cpu.LayerNormForward(cx, withResidual ? cr : null, cg, cb, eps, cy, cm, cs, cSum);

        using var gx = Floats(x, rows, c);
        using var gr = Floats(r, rows, c);
        using var gg = Floats(gamma, c);
        using var gb = Floats(beta, c);
        using var gy = Poisoned(rows, c);
        using var gm = Poisoned(rows);
        using var gs = Poisoned(rows);
        using var gSum = Poisoned(rows, c);
        Backend.LayerNormForward(gx, withResidual ? gr : null, gg, gb, eps, gy, gm, gs, gSum);
        AssertClose(gy.ToFloatArray(), cy.ToFloatArray(), 1e-5, "y");
        AssertClose(gm.ToFloatArray(), cm.ToFloatArray(), 1e-6, "mean");
        AssertClose(gs.ToFloatArray(), cs.ToFloatArray(), 1e-5, "rstd");
        AssertClose(gSum.ToFloatArray(), cSum.ToFloatArray(), 1e-7, "sum");

        using var cdy = Tensor.FromArray(dy, [rows, c]);
        using var cdS = Tensor.Empty([rows, c]);
        using var cdg = Tensor.Empty([c]);
        using var cdb = Tensor.Empty([c]);
        Cpu.LayerNormBackward(cdy, cSum, cg, cm, cs, cdS, cdg, cdb);

        using var gdy = Floats(dy, rows, c);
        using var gdS = Poisoned(rows, c);
        using var gdg = Poisoned(c);
        using var gdb = Poisoned(c);
        Backend.LayerNormBackward(gdy, gSum, gg, gm, gs, gdS, gdg, gdb);
        AssertClose(gdS.ToFloatArray(), cdS.ToFloatArray(), 1e-4, "dS");
        AssertClose(gdg.ToFloatArray(), cdg.ToFloatArray(), 1e-4, "dGamma");
        AssertClose(gdb.ToFloatArray(), cdb.ToFloatArray(), 1e-5, "dBeta");

        // Two-stage column sums without atomics: a second run gives the same bits.
        using var gdg2 = Poisoned(c);
        using var gdb2 = Poisoned(c);
        Backend.LayerNormBackward(gdy, gSum, gg, gm, gs, gdS, gdg2, gdb2);
        Assert.That(gdg2.ToFloatArray(), Is.EqualTo(gdg.ToFloatArray()), "dGamma is deterministic");
        Assert.That(gdb2.ToFloatArray(), Is.EqualTo(gdb.ToFloatArray()), "dBeta is deterministic");

        // A shared norm's second use adds its dγ, dβ to the first's (addToParams): the sum of the two, in F32.
        using var gdg3 = Floats(gdg.ToFloatArray(), c);
        using var gdb3 = Floats(gdb.ToFloatArray(), c);
        Backend.LayerNormBackward(gdy, gSum, gg, gm, gs, gdS, gdg3, gdb3, addToParams: true);
        Assert.That(gdg3.ToFloatArray(), Is.EqualTo(gdg.ToFloatArray().Select(v => v + v).ToArray()), "dGamma added to what it held");
        Assert.That(gdb3.ToFloatArray(), Is.EqualTo(gdb.ToFloatArray().Select(v => v + v).ToArray()), "dBeta added to what it held");
    }

    [TestCase(1, 64, 0.1f, true)]
    [TestCase(300, 256, 0.1f, true)]
    [TestCase(130, 1024, 0.5f, false)]
    [TestCase(37, 100, 0f, true)]
    public void InputBiasAndDropoutMatchCpu(int rows, int c, float p, bool withResidual)
    {
        _ = Backend;
        var x = TestData.RandomFloats(rows * c, rows + 2 * c);
        var r = TestData.RandomFloats(rows * c, rows + c + 9);
        var bias = TestData.RandomFloats(c, 21, 0.5f);
        var gamma = TestData.RandomFloats(c, 22).Select(v => 1f + 0.5f * v).ToArray();
        var beta = TestData.RandomFloats(c, 23, 0.2f);
        var dy = TestData.RandomFloats(rows * c, 24);
        const ulong seed = 0x5EED, offset = 12345;

        using var cb = Tensor.FromArray(bias, [c]);
        using var gbias = Floats(bias, c);
        var cIn = new LayerNormInput(cb, p, seed, offset);
        var gIn = new LayerNormInput(gbias, p, seed, offset);

        using var cx = Tensor.FromArray(x, [rows, c]);
        using var cr = Tensor.FromArray(r, [rows, c]);
        using var cg = Tensor.FromArray(gamma, [c]);
        using var cbeta = Tensor.FromArray(beta, [c]);
        using var cy = Tensor.Empty([rows, c]);
        using var cm = Tensor.Empty([rows]);
        using var cs = Tensor.Empty([rows]);
        using var cSum = Tensor.Empty([rows, c]);
        Cpu.LayerNormForward(cx, withResidual ? cr : null, cg, cbeta, 1e-12f, cy, cm, cs, cSum, cIn);

        using var gx = Floats(x, rows, c);
        using var gr = Floats(r, rows, c);
        using var gg = Floats(gamma, c);
        using var gbeta = Floats(beta, c);
        using var gy = Poisoned(rows, c);
        using var gm = Poisoned(rows);
        using var gs = Poisoned(rows);
        using var gSum = Poisoned(rows, c);
        Backend.LayerNormForward(gx, withResidual ? gr : null, gg, gbeta, 1e-12f, gy, gm, gs, gSum, gIn);
        // s = dropout(x + b) + r is formed with the same roundings as the CPU's three passes (no contraction).
        Assert.That(gSum.ToFloatArray(), Is.EqualTo(cSum.ToFloatArray()), "s, bit for bit (the same mask, the same roundings)");
        AssertClose(gy.ToFloatArray(), cy.ToFloatArray(), 1e-5, "y");
        AssertClose(gs.ToFloatArray(), cs.ToFloatArray(), 1e-5, "rstd");

        using var cdy = Tensor.FromArray(dy, [rows, c]);
        using var cdS = Tensor.Empty([rows, c]);
        using var cdX = Tensor.Empty([rows, c]);
        using var cdg = Tensor.Empty([c]);
        using var cdb = Tensor.Empty([c]);
        using var cdBias = Tensor.Empty([c]);
        Cpu.LayerNormBackward(cdy, cSum, cg, cm, cs, cdS, cdg, cdb, cIn, cdX, cdBias);

        using var gdy = Floats(dy, rows, c);
        using var gdS = Poisoned(rows, c);
        using var gdX = Poisoned(rows, c);
        using var gdg = Poisoned(c);
        using var gdb = Poisoned(c);
        using var gdBias = Poisoned(c);
        Backend.LayerNormBackward(gdy, gSum, gg, gm, gs, gdS, gdg, gdb, gIn, gdX, gdBias);
        AssertClose(gdS.ToFloatArray(), cdS.ToFloatArray(), 1e-4, "dS");
        AssertClose(gdX.ToFloatArray(), cdX.ToFloatArray(), 1e-4, "dX");
        var dropped = cdX.ToFloatArray().Select(v => v == 0f).ToArray();
        Assert.That(gdX.ToFloatArray().Select(v => v == 0f), Is.EqualTo(dropped), "dX is zero exactly where the CPU's mask dropped");
        AssertClose(gdg.ToFloatArray(), cdg.ToFloatArray(), 1e-4, "dGamma");
        AssertClose(gdb.ToFloatArray(), cdb.ToFloatArray(), 1e-5, "dBeta");
        AssertClose(gdBias.ToFloatArray(), cdBias.ToFloatArray(), 1e-4, "dBias");
    }

    [Test]
    public void Bf16MatchesCpuOnRoundedInputs()
    {
        _ = Backend;
        const int rows = 77, c = 256;
        var (gx, x) = KernelTestInputs.Bf16(TestData.RandomFloats(rows * c, 11), [rows, c]);
        var (gr, r) = KernelTestInputs.Bf16(TestData.RandomFloats(rows * c, 12), [rows, c]);
        var (gdy, dy) = KernelTestInputs.Bf16(TestData.RandomFloats(rows * c, 13), [rows, c]);
        using var _x = gx;
        using var _r = gr;
        using var _dy = gdy;
        var gamma = TestData.RandomFloats(c, 14).Select(v => 1f + 0.5f * v).ToArray();
        var beta = TestData.RandomFloats(c, 15, 0.2f);
        // The kernel rounds s = x + r to bf16 before its statistics (the backward sees s as stored): so does the reference.
        var s = x.Zip(r, (a, b) => BFloat16.ToFloat(BFloat16.FromFloat(a + b))).ToArray();

        using var cs = Tensor.FromArray(s, [rows, c]);
        using var cg = Tensor.FromArray(gamma, [c]);
        using var cb = Tensor.FromArray(beta, [c]);
        using var cy = Tensor.Empty([rows, c]);
        using var cm = Tensor.Empty([rows]);
        using var cr = Tensor.Empty([rows]);
        Cpu.LayerNormForward(cs, null, cg, cb, 1e-12f, cy, cm, cr, null);
        using var cdy = Tensor.FromArray(dy, [rows, c]);
        using var cdS = Tensor.Empty([rows, c]);
        using var cdg = Tensor.Empty([c]);
        using var cdb = Tensor.Empty([c]);
        Cpu.LayerNormBackward(cdy, cs, cg, cm, cr, cdS, cdg, cdb);

        using var gg = Floats(gamma, c);
        using var gb = Floats(beta, c);
        using var gy = KernelTestInputs.PoisonedBf16(rows, c);
        using var gSum = KernelTestInputs.PoisonedBf16(rows, c);
        using var gm = Poisoned(rows);
        using var gs = Poisoned(rows);
        Backend.LayerNormForward(gx, gr, gg, gb, 1e-12f, gy, gm, gs, gSum);
        Assert.That(gSum.ToFloatArray(), Is.EqualTo(s), "bf16 sum is x + r rounded once");
        AssertClose(gy.ToFloatArray(), cy.ToFloatArray(), 1e-2, "bf16 y");
        AssertClose(gm.ToFloatArray(), cm.ToFloatArray(), 1e-5, "bf16 mean");
        using var gdS = KernelTestInputs.PoisonedBf16(rows, c);
        using var gdg = Poisoned(c);
        using var gdb = Poisoned(c);
        Backend.LayerNormBackward(gdy, gSum, gg, gm, gs, gdS, gdg, gdb);
        AssertClose(gdS.ToFloatArray(), cdS.ToFloatArray(), 1e-2, "bf16 dS");
        AssertClose(gdg.ToFloatArray(), cdg.ToFloatArray(), 1e-4, "bf16 dGamma");
        AssertClose(gdb.ToFloatArray(), cdb.ToFloatArray(), 1e-5, "bf16 dBeta");
    }
}
