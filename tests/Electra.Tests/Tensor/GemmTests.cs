using Electra.Cpu;

namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

/// <summary>
/// The packed, blocked CPU SGEMM against a naive double-precision product, for every transpose combination, every
/// micro-kernel (AVX-512, AVX2, scalar: forced, so each runs on any x86 machine), both work splits, edge tiles.
/// Error bound: a float dot product of length k accumulated in any order (blocked, FMA) satisfies
/// |ĉ − c| ≤ γ_k·Σ_p |a_ip·b_pj| with γ_k = k·u/(1 − k·u), u = 2⁻²⁴; the alpha and beta terms add a few more
/// roundings. So each element is checked against (k + 4)·u·(|alpha|·Σ_p |a_ip·b_pj| + |beta·c_ij|): the worst case
/// for float accumulation, yet far below the O(|a||b|) error that a wrong index, a lost k block or a dropped edge
/// makes.
/// </summary>
public unsafe class GemmTests
{
    private static readonly GemmKernel[] Kernels = [GemmKernel.Vector512, GemmKernel.Vector256, GemmKernel.Scalar];

    /// <summary>op(A)·op(B) in double, with the per-element error bound of a float product.</summary>
    private static (double[] c, double[] bound) Reference(float[] a, bool transA, float[] b, bool transB, float[] c0,
        int m, int n, int k, float alpha, float beta)
    {
        var c = new double[m * n];
        var bound = new double[m * n];
        const double u = 1.0 / (1 << 24);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0, abs = 0;
                for (int p = 0; p < k; p++)
                {
                    double x = transA ? a[p * m + i] : a[i * k + p];
                    double y = transB ? b[j * k + p] : b[p * n + j];
                    s += x * y;
                    abs += Math.Abs(x * y);
                }
                double prior = beta == 0f ? 0 : beta * (double)c0[i * n + j];
                c[i * n + j] = alpha * s + prior;
                bound[i * n + j] = (k + 4) * u * (Math.Abs(alpha) * abs + Math.Abs(prior)) + 1e-30;
            }
        return (c, bound);
    }

    private static void Check(float[] got, double[] want, double[] bound, string what)
    {
        for (int i = 0; i < want.Length; i++)
        {
            double err = Math.Abs(got[i] - want[i]);
            if (!(err <= bound[i]))
                Assert.Fail($"{what}: element {i} is {got[i]}, expected {want[i]} (|error| {err:E2} > bound {bound[i]:E2})");
        }
    }

    private static void RunCase(int m, int n, int k, bool transA, bool transB, float alpha, float beta, GemmKernel kernel, int threads, int seed)
    {
        var a = TestData.RandomFloats(m * k, seed);
        var b = TestData.RandomFloats(k * n, seed + 1);
        // beta = 0 must not read C: poison it so a read shows up as NaN.
        var c = beta == 0f ? Enumerable.Repeat(float.NaN, m * n).ToArray() : TestData.RandomFloats(m * n, seed + 2);
        var (want, bound) = Reference(a, transA, b, transB, c, m, n, k, alpha, beta);
        fixed (float* pa = a, pb = b, pc = c)
            CpuGemm.Run(pa, transA, pb, transB, pc, m, n, k, alpha, beta, kernel, threads);
        Check(c, want, bound, $"{m}×{k}·{k}×{n} {(transA ? "T" : "N")}{(transB ? "T" : "N")} α={alpha} β={beta} {kernel} threads={threads}");
    }

    private static IEnumerable<TestCaseData> OddShapes()
    {
        // [m, n, k]: single elements, sizes around every tile edge (MR 12/6/4, NR 32/16/4), K across a KC=256 block.
        int[][] shapes =
        [
            [1, 1, 1], [1, 7, 17], [7, 1, 33], [17, 33, 1], [13, 31, 65], [33, 65, 129], [65, 129, 7],
            [129, 17, 255], [255, 33, 257], [12, 32, 256], [24, 64, 513], [11, 255, 33],
        ];
        foreach (var s in shapes)
            foreach (var transA in new[] { false, true })
                foreach (var transB in new[] { false, true })
                    yield return new TestCaseData(s[0], s[1], s[2], transA, transB).SetArgDisplayNames(
                        $"{s[0]}x{s[1]}x{s[2]}", transA ? "T" : "N", transB ? "T" : "N");
    }

    [TestCaseSource(nameof(OddShapes))]
    public void OddShapesMatchDoubleReferenceWithEveryKernel(int m, int n, int k, bool transA, bool transB)
    {
        foreach (var kernel in Kernels)
            RunCase(m, n, k, transA, transB, 1f, 0f, kernel, threads: 1, seed: m * 31 + n * 7 + k);
    }

    [TestCase(1.5f, 0f)]
    [TestCase(1f, 1f)]
    [TestCase(-0.5f, 0.25f)]
    [TestCase(2f, -1f)]
    public void AlphaAndBetaScaleProductAndPriorC(float alpha, float beta)
    {
        foreach (var kernel in Kernels)
            foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false), (true, true) })
                RunCase(37, 45, 70, ta, tb, alpha, beta, kernel, threads: 1, seed: 5);
    }

    // Large M: shared packed B, row blocks in parallel, several K blocks (so beta applies once, then accumulates).
    [TestCase(1000, 70, 300, false, false)]
    [TestCase(1000, 70, 300, false, true)]
    [TestCase(1000, 70, 300, true, false)]
    [TestCase(1000, 70, 300, true, true)]
    // Small M: tiles of C split over columns, each task packing its own slices over all of K.
    [TestCase(100, 300, 600, false, false)]
    [TestCase(100, 300, 600, false, true)]
    [TestCase(100, 300, 600, true, false)]
    [TestCase(100, 300, 600, true, true)]
    // Small M and N, long K: split-K partials added in order.
    [TestCase(100, 70, 5000, false, false)]
    [TestCase(100, 70, 5000, true, false)]
    [TestCase(100, 70, 5000, false, true)]
    [TestCase(100, 70, 5000, true, true)]
    public void ParallelSplitsMatchReference(int m, int n, int k, bool transA, bool transB)
    {
        foreach (var threads in new[] { 2, 4 })
        {
            RunCase(m, n, k, transA, transB, 1f, 0f, GemmKernel.Auto, threads, seed: 11);
            RunCase(m, n, k, transA, transB, 0.5f, 1f, GemmKernel.Vector512, threads, seed: 12);
        }
    }

    [Test]
    public void SplitKGivesTheSameBitsForAnyThreadCount()
    {
        int m = 40, n = 50, k = 4500;
        var a = TestData.RandomFloats(k * m, 41);
        var b = TestData.RandomFloats(k * n, 42);
        var c1 = new float[m * n];
        var c2 = new float[m * n];
        fixed (float* pa = a, pb = b, p1 = c1, p2 = c2)
        {
            CpuGemm.Run(pa, true, pb, false, p1, m, n, k, 1f, 0f, GemmKernel.Auto, threads: 1);
            CpuGemm.Run(pa, true, pb, false, p2, m, n, k, 1f, 0f, GemmKernel.Auto, threads: 3);
        }
        Assert.That(c2, Is.EqualTo(c1));
    }

    [Test]
    public void WideNBeyondOneColumnBlock()
    {
        // n > NC = 4096: two column blocks; m large enough for the shared-B split.
        RunCase(800, 4100, 20, false, true, 1f, 0f, GemmKernel.Auto, threads: 2, seed: 3);
    }

    [Test]
    public void ZeroKScalesCByBeta()
    {
        var c = new[] { 1f, 2f, 3f, 4f, 5f, 6f };
        fixed (float* pc = c)
            CpuGemm.Run(null, false, null, false, pc, 2, 3, 0, 1f, 0.5f);
        Assert.That(c, Is.EqualTo(new[] { 0.5f, 1f, 1.5f, 2f, 2.5f, 3f }));
        var poisoned = Enumerable.Repeat(float.NaN, 6).ToArray();
        fixed (float* pc = poisoned)
            CpuGemm.Run(null, false, null, false, pc, 2, 3, 0, 1f, 0f);
        Assert.That(poisoned, Is.All.EqualTo(0f));
    }

    [Test]
    public void BackendGemmMatchesReferenceForRank2AndBatchedRank3()
    {
        var backend = CpuBackend.Instance;
        // Rank 2 through the public entry point, NT as in Linear's forward.
        int m = 50, n = 40, k = 30;
        var a = TestData.RandomFloats(m * k, 21);
        var b = TestData.RandomFloats(n * k, 22);
        using (var ta = Tensor.FromArray(a, [m, k]))
        using (var tb = Tensor.FromArray(b, [n, k]))
        using (var tc = Tensor.Full([m, n], float.NaN))
        {
            backend.Gemm(ta, false, tb, true, tc);
            var (want, bound) = Reference(a, false, b, true, new float[m * n], m, n, k, 1f, 0f);
            Check(tc.ToFloatArray(), want, bound, "rank 2 NT");
        }
        // Batched: small products (one task per matrix) and large ones (each split), with alpha and beta.
        foreach (var (bm, bn, bk) in new[] { (9, 17, 13), (400, 300, 300) })
        {
            int batch = 3;
            var ba = TestData.RandomFloats(batch * bk * bm, 31);
            var bb = TestData.RandomFloats(batch * bk * bn, 32);
            var bc = TestData.RandomFloats(batch * bm * bn, 33);
            using var ta = Tensor.FromArray(ba, [batch, bk, bm]);   // stored [K, M]: transA
            using var tb = Tensor.FromArray(bb, [batch, bk, bn]);
            using var tc = Tensor.FromArray(bc, [batch, bm, bn]);
            backend.Gemm(ta, true, tb, false, tc, alpha: 0.75f, beta: 2f);
            var got = tc.ToFloatArray();
            for (int i = 0; i < batch; i++)
            {
                var (want, bound) = Reference(ba[(i * bk * bm)..((i + 1) * bk * bm)], true, bb[(i * bk * bn)..((i + 1) * bk * bn)], false,
                    bc[(i * bm * bn)..((i + 1) * bm * bn)], bm, bn, bk, 0.75f, 2f);
                Check(got[(i * bm * bn)..((i + 1) * bm * bn)], want, bound, $"batched {bm}×{bk}·{bk}×{bn} matrix {i}");
            }
        }
    }

    [Test]
    public void MismatchedShapesNameBothOperands()
    {
        using var a = Tensor.Zeros([4, 5]);
        using var b = Tensor.Zeros([6, 3]);
        using var c = Tensor.Zeros([4, 3]);
        var ex = Assert.Throws<ArgumentException>(() => CpuBackend.Instance.Gemm(a, false, b, false, c));
        Assert.That(ex!.Message, Does.Contain("[4, 5]").And.Contain("[6, 3]"));
    }
}
