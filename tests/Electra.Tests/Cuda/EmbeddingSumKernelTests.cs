using static Electra.Tests.Cuda.Gpu;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>
/// kernels-cu/embedding_sum.cu against the CPU reference: the forward in F32 and BF16, the three table gradients
/// written and accumulated, at sizes that are not multiples of the 256-position tile or the 32-column tile, with
/// many equal ids and ids spread over the vocabulary; and the same bits across runs and execution orders.
/// </summary>
[Category("Gpu")]
public class EmbeddingSumKernelTests
{
    private static readonly IBackend Cpu = Backends.Cpu;
    private const int Pad = 0, Mask = 103;

    public enum Ids { Spread, AllMask, Pretraining }

    /// <summary>[B, T] ids: uniform over the vocabulary; all [MASK]; or [CLS] … [SEP] rows with 15% [MASK] and [PAD] tails.</summary>
    private static int[] MakeIds(Ids kind, int b, int t, int v, int seed)
    {
        var rng = new Random(seed);
        var ids = new int[b * t];
        for (int r = 0; r < b; r++)
        {
            int real = kind == Ids.Pretraining ? Math.Max(2, t - rng.Next(t / 2)) : t;
            for (int j = 0; j < t; j++)
            {
                int i = r * t + j;
                ids[i] = kind switch
                {
                    Ids.AllMask => Mask,
                    Ids.Spread => rng.Next(v),
                    _ => j == 0 ? 101 : j == real - 1 ? 102 : j >= real ? Pad : rng.NextDouble() < 0.15 ? Mask : 999 + rng.Next(v - 999),
                };
            }
        }
        return ids;
    }

    private static int[] MakeTypes(int b, int t, int k, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, b * t).Select(_ => rng.Next(k)).ToArray();
    }

    private static float Round(float x) => BFloat16.ToFloat(BFloat16.FromFloat(x));

    [TestCase(3, 37, 1000, 64, 2, 64, Ids.Spread, false)]
    [TestCase(5, 77, 30522, 128, 2, 128, Ids.Pretraining, true)]
    [TestCase(7, 128, 5000, 512, 2, 130, Ids.Pretraining, false)]
    [TestCase(9, 100, 200, 100, 3, 40, Ids.AllMask, true)]
    [TestCase(70, 128, 9000, 512, 2, 128, Ids.Pretraining, true)] // 35 tiles: pass 2 searches two rounds of 32
    [TestCase(1, 1, 7, 1, 1, 1, Ids.Spread, false)]
    [TestCase(4, 33, 500, 40, 2, 300, Ids.Spread, true)] // E > 256: pass 2 takes its columns in two rounds
    public void ForwardAndBackwardMatchCpu(int b, int t, int v, int p, int k, int e, Ids kind, bool bf16)
    {
        _ = Backend;
        int n = b * t;
        var ids = MakeIds(kind, b, t, v, 60 + n);
        var types = MakeTypes(b, t, k, 61 + n);
        var word = TestData.RandomFloats(v * e, 62);
        var position = TestData.RandomFloats(p * e, 63);
        var type = TestData.RandomFloats(k * e, 64);
        using var cw = Tensor.FromArray(word, [v, e]);
        using var cp = Tensor.FromArray(position, [p, e]);
        using var ct = Tensor.FromArray(type, [k, e]);
        using var cid = Tensor.FromArray(ids, [b, t]);
        using var cty = Tensor.FromArray(types, [b, t]);
        using var gw = Floats(word, v, e);
        using var gp = Floats(position, p, e);
        using var gt = Floats(type, k, e);
        using var gid = Ints(ids, b, t);
        using var gty = Ints(types, b, t);

        using var co = Tensor.Empty([n, e]);
        Cpu.EmbeddingSumForward(cw, cp, ct, cid, cty, co);
        using var go = bf16 ? KernelTestInputs.PoisonedBf16(n, e) : Poisoned(n, e);
        Backend.EmbeddingSumForward(gw, gp, gt, gid, gty, go);
        var want = co.ToFloatArray();
        // The same two F32 additions in the same order: exact, or its one bf16 rounding.
        Assert.That(go.ToFloatArray(), Is.EqualTo(bf16 ? want.Select(Round).ToArray() : want), "forward");

        var dOutData = TestData.RandomFloats(n * e, 65);
        var (gdo, dOut) = bf16 ? KernelTestInputs.Bf16(dOutData, [n, e]) : (Floats(dOutData, n, e), dOutData);
        using var dOutOwner = gdo;
        using var cdo = Tensor.FromArray(dOut, [n, e]);
        foreach (bool accumulate in new[] { false, true })
        {
            var start = (accumulate ? TestData.RandomFloats(v * e + p * e + k * e, 66) : Enumerable.Repeat(float.NaN, v * e + p * e + k * e)).ToArray();
            var (cdw, cdp, cdt) = Tables(start, v, p, k, e, Device.Cpu);
            var (gdw, gdp, gdt) = Tables(start, v, p, k, e, Dev);
            using (cdw) using (cdp) using (cdt) using (gdw) using (gdp) using (gdt)
            {
                if (!accumulate) { Cpu.Fill(cdw, 0f); Cpu.Fill(cdp, 0f); Cpu.Fill(cdt, 0f); }
                Cpu.EmbeddingSumBackward(cdo, cid, cty, Pad, cdw, cdp, cdt, accumulate);
                Backend.EmbeddingSumBackward(gdo, gid, gty, Pad, gdw, gdp, gdt, accumulate);
                string what = $"accumulate={accumulate}";
                var dw = gdw.ToFloatArray();
                AssertClose(dw, cdw.ToFloatArray(), 1e-5, "dWord " + what);
                AssertClose(gdp.ToFloatArray(), cdp.ToFloatArray(), 1e-5, "dPosition " + what);
                AssertClose(gdt.ToFloatArray(), cdt.ToFloatArray(), 1e-5, "dType " + what);
                Assert.That(dw[(Pad * e)..(Pad * e + e)], Is.EqualTo(start[(Pad * e)..(Pad * e + e)].Select(x => accumulate ? x : 0f).ToArray()),
                    "[PAD]'s row is left as it was (written: zero) " + what);
                if (t < p)
                    Assert.That(gdp.ToFloatArray()[(t * e)..], Is.EqualTo(start[(v * e + t * e)..(v * e + p * e)].Select(x => accumulate ? x : 0f).ToArray()),
                        "position rows ≥ T untouched (written: zero) " + what);
            }
        }
    }

    /// <summary>The three gradient tables on a device, filled from one array (NaN: poisoned).</summary>
    private static (Tensor Word, Tensor Position, Tensor Type) Tables(float[] start, int v, int p, int k, int e, Device device) =>
        (Tensor.FromArray(start[..(v * e)], [v, e], device),
         Tensor.FromArray(start[(v * e)..(v * e + p * e)], [p, e], device),
         Tensor.FromArray(start[(v * e + p * e)..], [k, e], device));

    [TestCase(false)]
    [TestCase(true)]
    public void BackwardBitsDoNotDependOnExecutionOrder(bool bf16)
    {
        _ = Backend;
        const int b = 11, t = 128, v = 2000, p = 512, k = 2, e = 128, n = b * t;
        var ids = MakeIds(Ids.Pretraining, b, t, v, 70);
        using var gid = Ints(ids, b, t);
        using var gty = Ints(MakeTypes(b, t, k, 71), b, t);
        var dOut = TestData.RandomFloats(n * e, 72);
        using var gdo = bf16 ? KernelTestInputs.Bf16(dOut, [n, e]).Device : Floats(dOut, n, e);
        var runs = new List<uint[]>();
        // In order, shuffled (CUDASIM_ORDER = 2, threads and blocks), and in order again; on a GPU the order is the
        // hardware's, and the bits must not change either.
        foreach (int order in new[] { 0, 2, 0, 2 })
        {
            using var _o = CudasimTests.Order(order);
            using var dw = Poisoned(v, e);
            using var dp = Poisoned(p, e);
            using var dt = Poisoned(k, e);
            Backend.EmbeddingSumBackward(gdo, gid, gty, Pad, dw, dp, dt, accumulate: false);
            runs.Add([.. dw.ToArray<uint>(), .. dp.ToArray<uint>(), .. dt.ToArray<uint>()]);
        }
        for (int i = 1; i < runs.Count; i++)
            Assert.That(runs[i], Is.EqualTo(runs[0]), $"run {i} (order {(i % 2 == 0 ? 0 : 2)}) has the same bits as run 0");
        Assert.That(runs[0].Select(BitConverter.UInt32BitsToSingle), Has.None.NaN, "every element written");
    }

    [Test]
    public void OutOfRangeIdsAreReportedAtSynchronize()
    {
        _ = Backend;
        using var w = Floats(new float[8], 4, 2);
        using var p = Floats(new float[6], 3, 2);
        using var ty = Floats(new float[4], 2, 2);
        using var ok = Ints([0, 0, 0], 1, 3);
        using var o = Poisoned(3, 2);
        using (var ids = Ints([1, 2, 9], 1, 3))
        {
            Backend.EmbeddingSumForward(w, p, ty, ids, ok, o);
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Backend.Synchronize());
            Assert.That(ex!.Message, Does.Contain("id 9").And.Contain("position 2"));
        }
        using (var types = Ints([0, 2, 0], 1, 3))
        {
            Backend.EmbeddingSumForward(w, p, ty, ok, types, o);
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Backend.Synchronize());
            Assert.That(ex!.Message, Does.Contain("token type id 2").And.Contain("position 1"));
        }
        Assert.DoesNotThrow(() => Backend.Synchronize(), "each error is reported once");
    }
}
