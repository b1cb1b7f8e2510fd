using Electra.Cuda;
using static Electra.Tests.Cuda.Gpu;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>Every CudaBackend primitive against the CPU backend (the spec), on random inputs, odd sizes included.</summary>
[Category("Gpu")]
public class CudaBackendTests
{
    private const double F32 = 1e-5;
    private static readonly IBackend Cpu = Backends.Cpu;

    [TestCase(1)]
    [TestCase(1000)]
    [TestCase(70001)]
    public void ElementwiseMatchesCpu(int n)
    {
        _ = Backend;
        var a = TestData.RandomFloats(n, 1, 3f);
        var b = TestData.RandomFloats(n, 2, 3f);
        using var ca = Tensor.FromArray(a, [n]);
        using var cb = Tensor.FromArray(b, [n]);
        using var ga = Floats(a, n);
        using var gb = Floats(b, n);

        using var cOut = Tensor.Empty([n]);
        using var gOut = Poisoned(n);
        Cpu.Add(ca, cb, cOut, 0.5f, -2f);
        Backend.Add(ga, gb, gOut, 0.5f, -2f);
        AssertClose(gOut.ToFloatArray(), cOut.ToFloatArray(), F32, "Add");

        using var gOut2 = Poisoned(n);
        Cpu.Scale(ca, -1.75f, cOut);
        Backend.Scale(ga, -1.75f, gOut2);
        AssertClose(gOut2.ToFloatArray(), cOut.ToFloatArray(), F32, "Scale");

        using var cs = Tensor.Scalar(0.3f);
        using var gs = Tensor.Scalar(0.3f, Dev);
        using var gOut3 = Poisoned(n);
        Cpu.ScaleByScalar(ca, cs, 2f, cOut);
        Backend.ScaleByScalar(ga, gs, 2f, gOut3);
        AssertClose(gOut3.ToFloatArray(), cOut.ToFloatArray(), F32, "ScaleByScalar");

        var ia = RandomInts(n, 3, 3);
        var ib = RandomInts(n, 3, 4);
        using var cne = Tensor.Empty([n]);
        using var gne = Poisoned(n);
        using var cia = Tensor.FromArray(ia, [n]);
        using var cib = Tensor.FromArray(ib, [n]);
        using var gia = Ints(ia, n);
        using var gib = Ints(ib, n);
        Cpu.NotEqual(cia, cib, cne);
        Backend.NotEqual(gia, gib, gne);
        Assert.That(gne.ToFloatArray(), Is.EqualTo(cne.ToFloatArray()), "NotEqual");

        using var gSum = Poisoned(1);
        using var cSum = Tensor.Empty([1]);
        Cpu.Sum(ca, cSum, 0.25f);
        Backend.Sum(ga, gSum, 0.25f);
        Assert.That(gSum.Item(), Is.EqualTo(cSum.Item()).Within(1e-5 * (Math.Abs(cSum.Item()) + a.Select(Math.Abs).Sum() * 1e-2)), "Sum");

        var p = 0.1f;
        using var cDrop = Tensor.Empty([n]);
        using var gDrop = Poisoned(n);
        Cpu.Dropout(ca, p, 0x1234_5678_9ABCUL, 77, cDrop);
        Backend.Dropout(ga, p, 0x1234_5678_9ABCUL, 77, gDrop);
        Assert.That(gDrop.ToFloatArray(), Is.EqualTo(cDrop.ToFloatArray()), "Dropout: same Philox mask, same products");
    }

    [Test]
    public void FillAndCopyConvertExactly()
    {
        _ = Backend;
        using var f = Tensor.Empty([5], DType.F32, Dev);
        Backend.Fill(f, -2.5f);
        Assert.That(f.ToFloatArray(), Is.EqualTo(new[] { -2.5f, -2.5f, -2.5f, -2.5f, -2.5f }));
        using var i = Tensor.Empty([3], DType.I32, Dev);
        Backend.Fill(i, -7f);
        Assert.That(i.ToIntArray(), Is.EqualTo(new[] { -7, -7, -7 }));

        var x = TestData.RandomFloats(1001, 5, 100f);
        x[0] = float.NaN;
        using var gx = Floats(x, 1001);
        using var bf = Tensor.Empty([1001], DType.BF16, Dev);
        Backend.Copy(gx, bf);
        using var cx = Tensor.FromArray(x, [1001]);
        using var cbf = Tensor.Empty([1001], DType.BF16);
        Cpu.Copy(cx, cbf);
        Assert.That(bf.ToArray<ushort>(), Is.EqualTo(cbf.ToArray<ushort>()), "f32 → bf16 rounds to nearest even, as the CPU");
        using var back = Poisoned(1001);
        Backend.Copy(bf, back);
        var cback = Tensor.Empty([1001]);
        Cpu.Copy(cbf, cback);
        Assert.That(back.ToArray<uint>(), Is.EqualTo(cback.ToArray<uint>()));
        cback.Dispose();
    }

    [Test]
    public void KernelsRejectMixedOrUnsupportedDTypesByName()
    {
        // Element-wise kernels exist for f32 and bf16 storage, one dtype per call; the F32-only ones (losses,
        // reductions to a scalar, parameters) name what they got.
        using var bf = Tensor.Empty([64], DType.BF16, Dev);
        using var f = Tensor.Empty([64], DType.F32, Dev);
        using var i = Tensor.Empty([64], DType.I32, Dev);
        var e = Assert.Throws<ArgumentException>(() => Backend.Scale(bf, 2f, f));
        Assert.That(e!.Message, Does.Contain("Scale").And.Contain("bf16").And.Contain("f32"));
        Assert.Throws<ArgumentException>(() => Backend.Add(f, bf, f, 1f, 1f));
        e = Assert.Throws<ArgumentException>(() => Backend.Dropout(i, 0.1f, 1, 2, i));
        Assert.That(e!.Message, Does.Contain("Dropout").And.Contain("i32"));
        using var one = Tensor.Empty([1], DType.F32, Dev);
        e = Assert.Throws<ArgumentException>(() => Backend.Sum(bf, one, 1f));
        Assert.That(e!.Message, Does.Contain("Sum").And.Contain("bf16"));
        using var bias = Tensor.Empty([8], DType.BF16, Dev);
        using var x = Tensor.Empty([8, 8], DType.BF16, Dev);
        e = Assert.Throws<ArgumentException>(() => Backend.AddBias(x, bias, x));
        Assert.That(e!.Message, Does.Contain("AddBias").And.Contain("bf16"), "a bias is an F32 parameter");
    }

    [Test]
    public void GemmWithEmptyInnerDimensionScalesABf16Output()
    {
        // K = 0: C = β·C. The scale kernel is F32-only, so a BF16 C goes through an F32 copy.
        using var a = Tensor.Empty([3, 0], DType.BF16, Dev);
        using var b = Tensor.Empty([0, 5], DType.BF16, Dev);
        var values = TestData.RandomFloats(15, 77, 4f);
        using var c32 = Floats(values, [3, 5]);
        using var c = Tensor.Empty([3, 5], DType.BF16, Dev);
        Backend.Copy(c32, c);
        Backend.Gemm(a, false, b, false, c, 1f, 0.5f);
        using var back = Poisoned([3, 5]);
        Backend.Copy(c, back);
        using var expected = Tensor.FromArray(values, [3, 5]);
        using var ebf = Tensor.Empty([3, 5], DType.BF16);
        Cpu.Copy(expected, ebf);
        using var e32 = Tensor.Empty([3, 5]);
        Cpu.Copy(ebf, e32);
        var halved = e32.ToFloatArray().Select(v => v * 0.5f).ToArray(); // halving a bf16 value is exact
        Assert.That(back.ToFloatArray(), Is.EqualTo(halved));
    }

    [TestCase(1, 1, 1, false, false)]
    [TestCase(37, 65, 129, false, false)]
    [TestCase(37, 65, 129, true, false)]
    [TestCase(37, 65, 129, false, true)]
    [TestCase(37, 65, 129, true, true)]
    [TestCase(128, 256, 512, false, true)]
    public void GemmMatchesCpu(int m, int n, int k, bool transA, bool transB)
    {
        _ = Backend;
        foreach (int batch in new[] { 0, 3 })
        {
            int[] Shape(int r, int c) => batch == 0 ? [r, c] : [batch, r, c];
            int bMul = Math.Max(batch, 1);
            var a = TestData.RandomFloats(bMul * m * k, 10 + m);
            var b = TestData.RandomFloats(bMul * k * n, 20 + n);
            var c0 = TestData.RandomFloats(bMul * m * n, 30 + k);
            using var ca = Tensor.FromArray(a, Shape(transA ? k : m, transA ? m : k));
            using var cb = Tensor.FromArray(b, Shape(transB ? n : k, transB ? k : n));
            using var cc = Tensor.FromArray(c0, Shape(m, n));
            using var ga = Floats(a, Shape(transA ? k : m, transA ? m : k));
            using var gb = Floats(b, Shape(transB ? n : k, transB ? k : n));
            using var gc = Floats(c0, Shape(m, n));
            Cpu.Gemm(ca, transA, cb, transB, cc, 0.7f, 0.5f);
            Backend.AllowTf32 = true;
            Backend.Gemm(ga, transA, gb, transB, gc, 0.7f, 0.5f);
            AssertClose(gc.ToFloatArray(), cc.ToFloatArray(), 1e-3, $"TF32 GEMM batch {batch}");

            using var gc2 = Poisoned(Shape(m, n));
            using var cc2 = Tensor.Empty(Shape(m, n));
            Cpu.Gemm(ca, transA, cb, transB, cc2);
            Backend.AllowTf32 = false;
            try
            {
                Backend.Gemm(ga, transA, gb, transB, gc2);
            }
            finally
            {
                Backend.AllowTf32 = true;
            }
            AssertClose(gc2.ToFloatArray(), cc2.ToFloatArray(), F32, $"F32 GEMM batch {batch} (β = 0 over NaN poison)");
        }
    }

    [TestCase(1, 1)]
    [TestCase(33, 7)]
    [TestCase(515, 768)]
    public void BiasFamilyMatchesCpu(int rows, int cols)
    {
        _ = Backend;
        var x = TestData.RandomFloats(rows * cols, 40, 3f);
        var bias = TestData.RandomFloats(cols, 41);
        var dy = TestData.RandomFloats(rows * cols, 42);
        using var cx = Tensor.FromArray(x, [rows, cols]);
        using var cbias = Tensor.FromArray(bias, [cols]);
        using var cdy = Tensor.FromArray(dy, [rows, cols]);
        using var gx = Floats(x, rows, cols);
        using var gbias = Floats(bias, cols);
        using var gdy = Floats(dy, rows, cols);

        using var cy = Tensor.Empty([rows, cols]);
        using var gy = Poisoned(rows, cols);
        Cpu.AddBias(cx, cbias, cy);
        Backend.AddBias(gx, gbias, gy);
        AssertClose(gy.ToFloatArray(), cy.ToFloatArray(), F32, "AddBias");

        Cpu.BiasGeluForward(cx, cbias, cy);
        using var gy2 = Poisoned(rows, cols);
        Backend.BiasGeluForward(gx, gbias, gy2);
        AssertClose(gy2.ToFloatArray(), cy.ToFloatArray(), F32, "BiasGeluForward");

        using var cdx = Tensor.Empty([rows, cols]);
        using var cdb = Tensor.Empty([cols]);
        using var gdx = Poisoned(rows, cols);
        using var gdb = Poisoned(cols);
        Cpu.BiasGeluBackward(cdy, cx, cbias, cdx, cdb);
        Backend.BiasGeluBackward(gdy, gx, gbias, gdx, gdb);
        AssertClose(gdx.ToFloatArray(), cdx.ToFloatArray(), F32, "BiasGeluBackward dX");
        AssertClose(gdb.ToFloatArray(), cdb.ToFloatArray(), F32, "BiasGeluBackward dBias");

        var start = TestData.RandomFloats(cols, 43);
        using var cacc = Tensor.FromArray(start, [cols]);
        using var gacc = Floats(start, cols);
        Cpu.SumRows(cdy, cacc, 0.5f);
        Backend.SumRows(gdy, gacc, 0.5f);
        AssertClose(gacc.ToFloatArray(), cacc.ToFloatArray(), F32, "SumRows β = 0.5");

        using var cam = Tensor.Empty([rows], DType.I32);
        using var gam = PoisonedInts(rows);
        Cpu.Argmax(cx, cam);
        Backend.Argmax(gx, gam);
        Assert.That(gam.ToIntArray(), Is.EqualTo(cam.ToIntArray()), "Argmax");

        var labels = RandomInts(rows * cols, 2, 44).Select(v => (float)v).ToArray();
        var w = TestData.RandomFloats(rows * cols, 45).Select(Math.Abs).ToArray();
        using var cl = Tensor.FromArray(labels, [rows * cols]);
        using var cw = Tensor.FromArray(w, [rows * cols]);
        using var gl = Floats(labels, rows * cols);
        using var gw = Floats(w, rows * cols);
        using var closs = Tensor.Empty([rows * cols]);
        using var cd = Tensor.Empty([rows * cols]);
        using var gloss = Poisoned(rows * cols);
        using var gd = Poisoned(rows * cols);
        using var cflat = cx.Reshape(-1);
        using var gflat = gx.Reshape(-1);
        Cpu.BceWithLogits(cflat, cl, cw, closs, cd, 0.01f);
        Backend.BceWithLogits(gflat, gl, gw, gloss, gd, 0.01f);
        AssertClose(gloss.ToFloatArray(), closs.ToFloatArray(), F32, "BCE loss");
        AssertClose(gd.ToFloatArray(), cd.ToFloatArray(), F32, "BCE grad");
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
        var dOut = TestData.RandomFloats(n * e, 52);
        using var ct = Tensor.FromArray(table, [v, e]);
        using var gt = Floats(table, v, e);
        using var cid = Tensor.FromArray(ids, [n]);
        using var gid = Ints(ids, n);
        using var co = Tensor.Empty([n, e]);
        using var go = Poisoned(n, e);
        Cpu.EmbeddingForward(ct, cid, co);
        Backend.EmbeddingForward(gt, gid, go);
        Assert.That(go.ToFloatArray(), Is.EqualTo(co.ToFloatArray()), "EmbeddingForward copies rows exactly");

        using var cdo = Tensor.FromArray(dOut, [n, e]);
        using var gdo = Floats(dOut, n, e);
        var start = TestData.RandomFloats(v * e, 53);
        using var cdt = Tensor.FromArray(start, [v, e]);
        using var gdt = Floats(start, v, e);
        using var gdt2 = Floats(start, v, e);
        Cpu.EmbeddingBackward(cdo, cid, cdt);
        Backend.EmbeddingBackward(gdo, gid, gdt);
        Backend.EmbeddingBackward(gdo, gid, gdt2);
        var got = gdt.ToFloatArray();
        AssertClose(got, cdt.ToFloatArray(), F32, "EmbeddingBackward");
        Assert.That(gdt2.ToArray<uint>(), Is.EqualTo(gdt.ToArray<uint>()), "EmbeddingBackward is deterministic");

        int m = Math.Min(n, v);
        var idx = Enumerable.Range(0, v).OrderBy(i => (i * 7919) % v).Take(m).ToArray(); // distinct
        using var cidx = Tensor.FromArray(idx, [m]);
        using var gidx = Ints(idx, m);
        using var cg = Tensor.Empty([m, e]);
        using var gg = Poisoned(m, e);
        Cpu.GatherRows(ct, cidx, cg);
        Backend.GatherRows(gt, gidx, gg);
        Assert.That(gg.ToFloatArray(), Is.EqualTo(cg.ToFloatArray()), "GatherRows");

        var src = TestData.RandomFloats(m * e, 54);
        using var csrc = Tensor.FromArray(src, [m, e]);
        using var gsrc = Floats(src, m, e);
        foreach (bool acc in new[] { false, true })
        {
            using var cdst = Tensor.FromArray(table, [v, e]);
            using var gdst = Floats(table, v, e);
            Cpu.ScatterRows(csrc, cidx, cdst, acc);
            Backend.ScatterRows(gsrc, gidx, gdst, acc);
            Assert.That(gdst.ToFloatArray(), Is.EqualTo(cdst.ToFloatArray()), $"ScatterRows accumulate={acc}");
        }
    }

    [Test]
    public void EmbeddingIdOutOfRangeIsReportedAtSynchronize()
    {
        _ = Backend;
        using var t = Floats(new float[8], 4, 2);
        using var ids = Ints([1, 9, 2], 3);
        using var o = Poisoned(3, 2);
        Backend.EmbeddingForward(t, ids, o);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Backend.Synchronize());
        Assert.That(ex!.Message, Does.Contain("id 9").And.Contain("position 1"));
        Assert.DoesNotThrow(() => Backend.Synchronize(), "the error is reported once");
    }

    [Test]
    public void OptimizerFamilyMatchesCpu()
    {
        _ = Backend;
        int[] sizes = [1, 37, 70000, 256];
        var cpu = new List<AdamWSlot>();
        var gpu = new List<AdamWSlot>();
        var all = new List<Tensor>();
        for (int i = 0; i < sizes.Length; i++)
        {
            int n = sizes[i];
            var p = TestData.RandomFloats(n, 60 + i);
            var g = TestData.RandomFloats(n, 70 + i, 0.1f);
            var m = TestData.RandomFloats(n, 80 + i, 0.01f);
            var v = TestData.RandomFloats(n, 90 + i, 0.001f).Select(Math.Abs).ToArray();
            float wd = i % 2 == 0 ? 0.01f : 0f;
            Tensor C(float[] d) { var t = Tensor.FromArray(d, [n]); all.Add(t); return t; }
            Tensor G(float[] d) { var t = Floats(d, n); all.Add(t); return t; }
            cpu.Add(new AdamWSlot(C(p), C(g), C(m), C(v), wd));
            gpu.Add(new AdamWSlot(G(p), G(g), G(m), G(v), wd));
        }
        try
        {
            using var cn = Tensor.Empty([1]);
            using var gn = Poisoned(1);
            Cpu.GlobalNorm(cpu.Select(s => s.Grad).ToArray(), cn);
            Backend.GlobalNorm(gpu.Select(s => s.Grad).ToArray(), gn);
            Assert.That(gn.Item(), Is.EqualTo(cn.Item()).Within(1e-5).Percent.Or.EqualTo(cn.Item()).Within(1e-6), "GlobalNorm");

            // maxNorm under the norm, so the clip really scales.
            float maxNorm = cn.Item() / 3f;
            Cpu.ClipByNorm(cpu.Select(s => s.Grad).ToArray(), cn, maxNorm);
            Backend.ClipByNorm(gpu.Select(s => s.Grad).ToArray(), gn, maxNorm);
            for (int i = 0; i < sizes.Length; i++)
                AssertClose(gpu[i].Grad.ToFloatArray(), cpu[i].Grad.ToFloatArray(), F32, $"ClipByNorm tensor {i}");

            for (int step = 1; step <= 3; step++)
            {
                Cpu.AdamW(cpu, 1e-3f, 0.9f, 0.999f, 1e-6f, step, biasCorrection: step == 2);
                Backend.AdamW(gpu, 1e-3f, 0.9f, 0.999f, 1e-6f, step, biasCorrection: step == 2);
            }
            for (int i = 0; i < sizes.Length; i++)
            {
                AssertClose(gpu[i].Param.ToFloatArray(), cpu[i].Param.ToFloatArray(), F32, $"AdamW param {i}");
                AssertClose(gpu[i].M.ToFloatArray(), cpu[i].M.ToFloatArray(), F32, $"AdamW m {i}");
                AssertClose(gpu[i].V.ToFloatArray(), cpu[i].V.ToFloatArray(), F32, $"AdamW v {i}");
            }
        }
        finally
        {
            foreach (var t in all) t.Dispose();
        }
    }
}
