using static Electra.Tests.Cuda.Gpu;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>
/// The BF16 instances of the kernels on the mixed-precision step's path against the CPU reference, which computes in
/// F32 on the same bf16-rounded inputs. Tolerances, and why:
/// <list type="bullet">
/// <item>A kernel that computes one F32 value from its inputs and rounds it once to bf16 (round to nearest even, 8
///   significant bits) is off from the exact F32 result by at most half a bf16 ulp, ≤ 2⁻⁸·|value|; the GPU's F32 value
///   may itself differ from the CPU's by a few F32 ulps (erff/expf, FMA contraction): element-wise bound
///   2⁻⁸·|want| + 1e-6·(1 + |want|), and at least 99% of elements must be exactly the CPU value rounded.</item>
/// <item>Pure moves (gather, scatter, dropout's x·(1/(1−p)), a single add of two bf16 values rounded once) are exact.</item>
/// <item>F32 results summed from bf16 inputs (column sums, embedding gradients, GEMM into F32) see only F32
///   summation order: bf16·bf16 products are exact in F32, so 1e-5 relative (the F32 tests' tolerance).</item>
/// </list>
/// </summary>
[Category("Gpu")]
public class Bf16KernelTests
{
    private static readonly IBackend Cpu = Backends.Cpu;

    private static float Round(float v) => BFloat16.ToFloat(BFloat16.FromFloat(v));

    /// <summary>Each element within one rounding of the CPU's F32 value, and nearly all exactly its rounding.</summary>
    private static void AssertRoundedOnce(float[] got, float[] want, string what)
    {
        Assert.That(got, Has.Length.EqualTo(want.Length), what);
        int exact = 0;
        for (int i = 0; i < got.Length; i++)
        {
            if (float.IsNaN(got[i])) Assert.Fail($"{what}: element {i} is NaN (unwritten?), expected {want[i]}");
            double bound = Math.Abs(want[i]) * (1.0 / 256) + 1e-6 * (1 + Math.Abs(want[i]));
            if (Math.Abs(got[i] - (double)want[i]) > bound)
                Assert.Fail($"{what}: element {i} is {got[i]}, expected {want[i]} within one bf16 rounding ({bound:E2})");
            if (got[i] == Round(want[i])) exact++;
        }
        Assert.That(exact, Is.GreaterThanOrEqualTo(got.Length * 99 / 100), $"{what}: only {exact} of {got.Length} elements are the CPU value rounded");
    }

    private static float[] Rounded(float[] x) => x.Select(Round).ToArray();

    private static Tensor Bf16Copy(Tensor f32)
    {
        var t = Tensor.Empty(f32.Shape.ToArray(), DType.BF16, Dev);
        Backend.Copy(f32, t);
        return t;
    }

    [TestCase(1)]
    [TestCase(1001)]
    [TestCase(70001)]
    public void ElementwiseMatchesCpu(int n)
    {
        _ = Backend;
        var (ga, a) = KernelTestInputs.Bf16(TestData.RandomFloats(n, 1, 3f), [n]);
        var (gb, b) = KernelTestInputs.Bf16(TestData.RandomFloats(n, 2, 3f), [n]);
        using var _a = ga;
        using var _b = gb;
        using var ca = Tensor.FromArray(a, [n]);
        using var cb = Tensor.FromArray(b, [n]);
        using var cOut = Tensor.Empty([n]);

        using var gAdd = KernelTestInputs.PoisonedBf16(n);
        Cpu.Add(ca, cb, cOut, 0.5f, -2f);
        Backend.Add(ga, gb, gAdd, 0.5f, -2f);
        AssertRoundedOnce(gAdd.ToFloatArray(), cOut.ToFloatArray(), "Add α = 0.5, β = −2");

        using var gSum = KernelTestInputs.PoisonedBf16(n);
        Cpu.Add(ca, cb, cOut, 1f, 1f);
        Backend.Add(ga, gb, gSum, 1f, 1f);
        Assert.That(gSum.ToFloatArray(), Is.EqualTo(Rounded(cOut.ToFloatArray())), "a + b of bf16 values is one F32 add, rounded once");

        using var gScale = KernelTestInputs.PoisonedBf16(n);
        Cpu.Scale(ca, -1.75f, cOut);
        Backend.Scale(ga, -1.75f, gScale);
        Assert.That(gScale.ToFloatArray(), Is.EqualTo(Rounded(cOut.ToFloatArray())), "Scale");

        using var cs = Tensor.Scalar(0.3f);
        using var gs = Tensor.Scalar(0.3f, Dev);
        using var gScaled = KernelTestInputs.PoisonedBf16(n);
        Cpu.ScaleByScalar(ca, cs, 2f, cOut);
        Backend.ScaleByScalar(ga, gs, 2f, gScaled);
        Assert.That(gScaled.ToFloatArray(), Is.EqualTo(Rounded(cOut.ToFloatArray())), "ScaleByScalar (F32 scalar)");

        var (gInPlace, _) = KernelTestInputs.Bf16(a, [n]);
        using var _inPlace = gInPlace;
        Backend.ScaleByScalar(gInPlace, gs, 2f, gInPlace);
        Assert.That(gInPlace.ToFloatArray(), Is.EqualTo(gScaled.ToFloatArray()), "ScaleByScalar in place");

        foreach (float p in new[] { 0.1f, 0.5f })
        {
            using var gDrop = KernelTestInputs.PoisonedBf16(n);
            Cpu.Dropout(ca, p, 0x1234_5678_9ABCUL, 77, cOut);
            Backend.Dropout(ga, p, 0x1234_5678_9ABCUL, 77, gDrop);
            Assert.That(gDrop.ToFloatArray(), Is.EqualTo(Rounded(cOut.ToFloatArray())), $"Dropout p = {p}: the same Philox mask, x/(1−p) rounded once");
        }
    }

    [Test]
    public void CastsRoundToNearestEvenAndKeepSpecials()
    {
        _ = Backend;
        // Halfway cases both ways, the largest finite values, subnormals, ±0, ±∞ and NaN.
        float[] special =
        [
            BitConverter.UInt32BitsToSingle(0x3F808000), BitConverter.UInt32BitsToSingle(0x3F818000), BitConverter.UInt32BitsToSingle(0x3F808001),
            float.MaxValue, -float.MaxValue, BitConverter.UInt32BitsToSingle(0x7F7F8000), 1e-40f, -1e-45f, 0f, -0f,
            float.PositiveInfinity, float.NegativeInfinity, float.NaN,
        ];
        var x = special.Concat(TestData.RandomFloats(997, 9, 1e4f)).ToArray();
        using var gx = Gpu.Floats(x, x.Length);
        using var bf = Tensor.Empty([x.Length], DType.BF16, Dev);
        Backend.Copy(gx, bf);
        var bits = bf.ToArray<ushort>();
        for (int i = 0; i < x.Length; i++)
            Assert.That(bits[i], Is.EqualTo(BFloat16.FromFloat(x[i])), $"f32 → bf16 of {x[i]} (0x{BitConverter.SingleToUInt32Bits(x[i]):X8})");
        using var back = Poisoned(x.Length);
        Backend.Copy(bf, back);
        Assert.That(back.ToArray<uint>(), Is.EqualTo(bits.Select(b => (uint)b << 16).ToArray()), "bf16 → f32 is exact");
    }

    [TestCase(1, 1)]
    [TestCase(33, 7)]
    [TestCase(515, 768)]
    public void BiasFamilyMatchesCpu(int rows, int cols)
    {
        _ = Backend;
        var (gx, x) = KernelTestInputs.Bf16(TestData.RandomFloats(rows * cols, 40, 3f), [rows, cols]);
        var (gdy, dy) = KernelTestInputs.Bf16(TestData.RandomFloats(rows * cols, 42), [rows, cols]);
        using var _x = gx;
        using var _dy = gdy;
        var bias = TestData.RandomFloats(cols, 41);
        using var cx = Tensor.FromArray(x, [rows, cols]);
        using var cdy = Tensor.FromArray(dy, [rows, cols]);
        using var cbias = Tensor.FromArray(bias, [cols]);
        using var gbias = Gpu.Floats(bias, cols);
        using var cy = Tensor.Empty([rows, cols]);

        using var gy = KernelTestInputs.PoisonedBf16(rows, cols);
        Cpu.AddBias(cx, cbias, cy);
        Backend.AddBias(gx, gbias, gy);
        AssertRoundedOnce(gy.ToFloatArray(), cy.ToFloatArray(), "AddBias (F32 bias)");

        using var gGelu = KernelTestInputs.PoisonedBf16(rows, cols);
        Cpu.BiasGeluForward(cx, cbias, cy);
        Backend.BiasGeluForward(gx, gbias, gGelu);
        AssertRoundedOnce(gGelu.ToFloatArray(), cy.ToFloatArray(), "BiasGeluForward");

        using var cdx = Tensor.Empty([rows, cols]);
        using var cdb = Tensor.Empty([cols]);
        using var gdx = KernelTestInputs.PoisonedBf16(rows, cols);
        using var gdb = Poisoned(cols);
        Cpu.BiasGeluBackward(cdy, cx, cbias, cdx, cdb);
        Backend.BiasGeluBackward(gdy, gx, gbias, gdx, gdb);
        var dxGot = gdx.ToFloatArray();
        AssertRoundedOnce(dxGot, cdx.ToFloatArray(), "BiasGeluBackward dX");
        // dBias sums the dX the kernel stored (bf16), in F32: the reference sums those same values.
        using var cStored = Tensor.FromArray(dxGot, [rows, cols]);
        using var cdbStored = Tensor.Empty([cols]);
        Cpu.SumRows(cStored, cdbStored, 0f);
        AssertClose(gdb.ToFloatArray(), cdbStored.ToFloatArray(), 1e-5, "BiasGeluBackward dBias (F32, from the stored bf16 dX)");

        var start = TestData.RandomFloats(cols, 43);
        using var cacc = Tensor.FromArray(start, [cols]);
        using var gacc = Gpu.Floats(start, cols);
        Cpu.SumRows(cdy, cacc, 0.5f);
        Backend.SumRows(gdy, gacc, 0.5f);
        AssertClose(gacc.ToFloatArray(), cacc.ToFloatArray(), 1e-5, "SumRows of bf16 rows into F32, β = 0.5");

        using var cam = Tensor.Empty([rows], DType.I32);
        using var gam = PoisonedInts(rows);
        Cpu.Argmax(cx, cam);
        Backend.Argmax(gx, gam);
        Assert.That(gam.ToIntArray(), Is.EqualTo(cam.ToIntArray()), "Argmax of bf16 rows: the same order and ties (lowest index) as the rounded floats");
    }

    [TestCase(2, 37, 128)]
    [TestCase(1000, 515, 64)]
    [TestCase(30522, 4096, 130)]
    public void EmbeddingAndRowsMatchCpu(int v, int n, int e)
    {
        _ = Backend;
        var table = TestData.RandomFloats(v * e, 50);
        var ids = RandomInts(n, v, 51);
        for (int i = 0; i < n; i += 5) ids[i] = 0; // many repeats, as [PAD] or token type 0
        using var ct = Tensor.FromArray(table, [v, e]);
        using var gt = Gpu.Floats(table, v, e);
        using var cid = Tensor.FromArray(ids, [n]);
        using var gid = Ints(ids, n);
        using var co = Tensor.Empty([n, e]);
        using var go = KernelTestInputs.PoisonedBf16(n, e);
        Cpu.EmbeddingForward(ct, cid, co);
        Backend.EmbeddingForward(gt, gid, go);
        Assert.That(go.ToFloatArray(), Is.EqualTo(Rounded(co.ToFloatArray())), "EmbeddingForward: F32 table rows written as bf16");

        var (gdo, dOut) = KernelTestInputs.Bf16(TestData.RandomFloats(n * e, 52), [n, e]);
        using var _do = gdo;
        using var cdo = Tensor.FromArray(dOut, [n, e]);
        var start = TestData.RandomFloats(v * e, 53);
        using var cdt = Tensor.FromArray(start, [v, e]);
        using var gdt = Gpu.Floats(start, v, e);
        using var gdt2 = Gpu.Floats(start, v, e);
        Cpu.EmbeddingBackward(cdo, cid, cdt);
        Backend.EmbeddingBackward(gdo, gid, gdt);
        Backend.EmbeddingBackward(gdo, gid, gdt2);
        AssertClose(gdt.ToFloatArray(), cdt.ToFloatArray(), 1e-5, "EmbeddingBackward: bf16 rows into the F32 table gradient");
        Assert.That(gdt2.ToArray<uint>(), Is.EqualTo(gdt.ToArray<uint>()), "EmbeddingBackward is deterministic");

        int m = Math.Min(n, v);
        var idx = Enumerable.Range(0, v).OrderBy(i => (i * 7919) % v).Take(m).ToArray(); // distinct
        using var cidx = Tensor.FromArray(idx, [m]);
        using var gidx = Ints(idx, m);
        var (gTable, rounded) = KernelTestInputs.Bf16(table, [v, e]);
        using var _t = gTable;
        using var cRounded = Tensor.FromArray(rounded, [v, e]);
        using var cg = Tensor.Empty([m, e]);
        using var gg = KernelTestInputs.PoisonedBf16(m, e);
        Cpu.GatherRows(cRounded, cidx, cg);
        Backend.GatherRows(gTable, gidx, gg);
        Assert.That(gg.ToFloatArray(), Is.EqualTo(cg.ToFloatArray()), "GatherRows of 2-byte rows");

        var (gsrc, src) = KernelTestInputs.Bf16(TestData.RandomFloats(m * e, 54), [m, e]);
        using var _s = gsrc;
        using var csrc = Tensor.FromArray(src, [m, e]);
        foreach (bool acc in new[] { false, true })
        {
            using var cdst = Tensor.FromArray(rounded, [v, e]);
            using var gdst = Bf16Copy(gt);
            Cpu.ScatterRows(csrc, cidx, cdst, acc);
            Backend.ScatterRows(gsrc, gidx, gdst, acc);
            Assert.That(gdst.ToFloatArray(), Is.EqualTo(Rounded(cdst.ToFloatArray())), $"ScatterRows of 2-byte rows, accumulate={acc} (one F32 add, rounded once)");
        }
    }

    [TestCase(1, 1, 1, false, false)]
    [TestCase(37, 65, 129, false, false)]
    [TestCase(37, 65, 129, true, false)]
    [TestCase(37, 65, 129, false, true)]
    [TestCase(37, 65, 129, true, true)]
    [TestCase(130, 256, 96, false, true)]
    public void GemmOfBf16OperandsMatchesCpu(int m, int n, int k, bool transA, bool transB)
    {
        _ = Backend;
        foreach (int batch in new[] { 0, 3 })
        {
            int[] Shape(int r, int c) => batch == 0 ? [r, c] : [batch, r, c];
            int bMul = Math.Max(batch, 1);
            var (ga, a) = KernelTestInputs.Bf16(TestData.RandomFloats(bMul * m * k, 10 + m), Shape(transA ? k : m, transA ? m : k));
            var (gb, b) = KernelTestInputs.Bf16(TestData.RandomFloats(bMul * k * n, 20 + n), Shape(transB ? n : k, transB ? k : n));
            using var _a = ga;
            using var _b = gb;
            using var ca = Tensor.FromArray(a, Shape(transA ? k : m, transA ? m : k));
            using var cb = Tensor.FromArray(b, Shape(transB ? n : k, transB ? k : n));
            var c0 = TestData.RandomFloats(bMul * m * n, 30 + k);
            using var cc = Tensor.FromArray(c0, Shape(m, n));
            Cpu.Gemm(ca, transA, cb, transB, cc, 0.7f, 0.5f);

            using var g32 = Gpu.Floats(c0, Shape(m, n));
            Backend.Gemm(ga, transA, gb, transB, g32, 0.7f, 0.5f);
            AssertClose(g32.ToFloatArray(), cc.ToFloatArray(), 1e-5, $"bf16 × bf16 → F32 (weight gradients), batch {batch}");

            using var cc0 = Tensor.Empty(Shape(m, n));
            Cpu.Gemm(ca, transA, cb, transB, cc0);
            using var g16 = KernelTestInputs.PoisonedBf16(Shape(m, n));
            Backend.Gemm(ga, transA, gb, transB, g16);
            AssertRoundedOnce(g16.ToFloatArray(), cc0.ToFloatArray(), $"bf16 × bf16 → bf16 (activations), batch {batch}");
        }
    }

    [TestCase(3, 2)]
    [TestCase(17, 1001)]
    [TestCase(5, 30522)]
    public void SoftmaxCrossEntropyOfBf16LogitsMatchesCpu(int m, int v)
    {
        // V = 2 is a classifier's head: rows of 4 bytes, never a 16-byte group.
        _ = Backend;
        const int ignore = -100;
        var (gx, logits) = KernelTestInputs.Bf16(TestData.RandomFloats(m * v, 60 + v, 5f), [m, v]);
        using var _x = gx;
        var targets = RandomInts(m, v, 61);
        if (m > 2) targets[2] = ignore;
        using var cx = Tensor.FromArray(logits, [m, v]);
        using var ct = Tensor.FromArray(targets, [m]);
        using var cl = Tensor.Empty([m]);
        using var cd = Tensor.Empty([m, v]);
        using var cs = Tensor.Empty([m], DType.I32);
        Cpu.SoftmaxCrossEntropy(cx, ct, ignore, cl, cd, 0.25f, cs, 1f, 7, 8);
        using var gt = Ints(targets, m);
        using var gl = Poisoned(m);
        using var gs = PoisonedInts(m);
        Backend.SoftmaxCrossEntropy(gx, gt, ignore, gl, gx, 0.25f, gs, 1f, 7, 8);
        // The losses are F32 from F32 arithmetic on the same values (__expf against the CPU's exp): 1e-5.
        AssertClose(gl.ToFloatArray(), cl.ToFloatArray(), 1e-5, "losses (F32)");
        var got = gx.ToFloatArray();
        var want = cd.ToFloatArray();
        // The gradient is (softmax − onehot)·scale in F32, rounded once; __expf differs from the CPU's exp by a few
        // ulps, and softmax terms of 1e-5 carry that as an absolute 1e-9: the rounding bound holds element-wise.
        for (int i = 0; i < got.Length; i++)
            Assert.That(Math.Abs(got[i] - want[i]), Is.LessThanOrEqualTo(Math.Abs(want[i]) / 256 + 1e-7), $"dLogits element {i}");
        Assert.That(gs.ToIntArray(), Is.EqualTo(cs.ToIntArray()), "Gumbel samples from bf16 logits equal the CPU's on the same values");
    }

    [TestCase(1, 7, false)]
    [TestCase(37, 256, true)]
    [TestCase(130, 1024, true)]
    public void LayerNormOfBf16RowsMatchesCpu(int rows, int c, bool withResidual)
    {
        _ = Backend;
        var (gx, x) = KernelTestInputs.Bf16(TestData.RandomFloats(rows * c, 70 + c, 2f), [rows, c]);
        var (gr, r) = KernelTestInputs.Bf16(TestData.RandomFloats(rows * c, 71 + c), [rows, c]);
        var (gdy, dy) = KernelTestInputs.Bf16(TestData.RandomFloats(rows * c, 72 + c), [rows, c]);
        using var _x = gx;
        using var _r = gr;
        using var _dy = gdy;
        var gamma = TestData.RandomFloats(c, 73).Select(v => 1f + 0.1f * v).ToArray();
        var beta = TestData.RandomFloats(c, 74, 0.1f);
        // The kernel rounds s = x + r to bf16 before the statistics (the backward sees s as stored): so does the reference.
        var s = withResidual ? x.Zip(r, (a, b) => Round(a + b)).ToArray() : x;
        using var cs = Tensor.FromArray(s, [rows, c]);
        using var cg = Tensor.FromArray(gamma, [c]);
        using var cb = Tensor.FromArray(beta, [c]);
        using var cy = Tensor.Empty([rows, c]);
        using var cm = Tensor.Empty([rows]);
        using var cr = Tensor.Empty([rows]);
        Cpu.LayerNormForward(cs, null, cg, cb, 1e-12f, cy, cm, cr, null);
        using var gg = Gpu.Floats(gamma, c);
        using var gb = Gpu.Floats(beta, c);
        using var gy = KernelTestInputs.PoisonedBf16(rows, c);
        using var gm = Poisoned(rows);
        using var grs = Poisoned(rows);
        using var gsum = withResidual ? KernelTestInputs.PoisonedBf16(rows, c) : null;
        Backend.LayerNormForward(gx, withResidual ? gr : null, gg, gb, 1e-12f, gy, gm, grs, gsum);
        AssertRoundedOnce(gy.ToFloatArray(), cy.ToFloatArray(), "y");
        AssertClose(gm.ToFloatArray(), cm.ToFloatArray(), 1e-5, "mean (F32)");
        AssertClose(grs.ToFloatArray(), cr.ToFloatArray(), 1e-5, "rstd (F32)");

        using var cdy = Tensor.FromArray(dy, [rows, c]);
        using var cdS = Tensor.Empty([rows, c]);
        using var cdg = Tensor.Empty([c]);
        using var cdb = Tensor.Empty([c]);
        Cpu.LayerNormBackward(cdy, cs, cg, cm, cr, cdS, cdg, cdb);
        using var gdS = KernelTestInputs.PoisonedBf16(rows, c);
        using var gdg = Poisoned(c);
        using var gdb = Poisoned(c);
        Backend.LayerNormBackward(gdy, withResidual ? gsum! : gx, gg, gm, grs, gdS, gdg, gdb);
        // dS = rstd·(dŷ − mean dŷ − x̂·mean(dŷ∘x̂)) cancels: its F32 value carries the F32 error of the row means
        // (≈ C·2⁻²⁴ relative to the row's scale), so a small element gets that as an absolute error.
        var dsGot = gdS.ToFloatArray();
        var dsWant = cdS.ToFloatArray();
        double rowScale = dsWant.Max(Math.Abs);
        for (int i = 0; i < dsGot.Length; i++)
            Assert.That(Math.Abs(dsGot[i] - dsWant[i]), Is.LessThanOrEqualTo(Math.Abs(dsWant[i]) / 256 + 1e-5 * rowScale), $"dS element {i}");
        AssertClose(gdg.ToFloatArray(), cdg.ToFloatArray(), 1e-5, "dGamma (F32)");
        AssertClose(gdb.ToFloatArray(), cdb.ToFloatArray(), 1e-5, "dBeta (F32)");
    }

    [Test]
    public void AdamWWritesTheBf16CopyInTheSamePass()
    {
        _ = Backend;
        int[] sizes = [1, 37, 70000, 256];
        var all = new List<Tensor>();
        Tensor C(float[] d) { var t = Tensor.FromArray(d, [d.Length]); all.Add(t); return t; }
        Tensor G(float[] d) { var t = Gpu.Floats(d, d.Length); all.Add(t); return t; }
        Tensor Copy(Device dev, int n) { var t = Tensor.Full([n], float.NaN, DType.BF16, dev); all.Add(t); return t; }
        var cpu = new List<AdamWSlot>();
        var gpu = new List<AdamWSlot>();
        for (int i = 0; i < sizes.Length; i++)
        {
            int n = sizes[i];
            var p = TestData.RandomFloats(n, 60 + i);
            var g = TestData.RandomFloats(n, 70 + i, 0.1f);
            var m = TestData.RandomFloats(n, 80 + i, 0.01f);
            var v = TestData.RandomFloats(n, 90 + i, 0.001f).Select(Math.Abs).ToArray();
            float wd = i % 2 == 0 ? 0.01f : 0f;
            bool withCopy = i != 1; // a slot without a copy beside ones with: the table mixes both
            cpu.Add(new AdamWSlot(C(p), C(g), C(m), C(v), wd, withCopy ? Copy(Device.Cpu, n) : null));
            gpu.Add(new AdamWSlot(G(p), G(g), G(m), G(v), wd, withCopy ? Copy(Dev, n) : null));
        }
        try
        {
            for (int step = 1; step <= 2; step++)
            {
                Cpu.AdamW(cpu, 1e-3f, 0.9f, 0.999f, 1e-6f, step, biasCorrection: false);
                Backend.AdamW(gpu, 1e-3f, 0.9f, 0.999f, 1e-6f, step, biasCorrection: false);
            }
            for (int i = 0; i < sizes.Length; i++)
            {
                var p = gpu[i].Param.ToFloatArray();
                AssertClose(p, cpu[i].Param.ToFloatArray(), 1e-5, $"AdamW param {i}");
                if (gpu[i].Bf16Copy is null) continue;
                Assert.That(gpu[i].Bf16Copy!.ToArray<ushort>(), Is.EqualTo(p.Select(BFloat16.FromFloat).ToArray()), $"GPU copy {i} is its updated param, rounded");
                var cp = cpu[i].Param.ToFloatArray();
                Assert.That(cpu[i].Bf16Copy!.ToArray<ushort>(), Is.EqualTo(cp.Select(BFloat16.FromFloat).ToArray()), $"CPU copy {i} is its updated param, rounded");
            }
        }
        finally
        {
            foreach (var t in all) t.Dispose();
        }
    }
}
