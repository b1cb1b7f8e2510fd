using System.Collections.Concurrent;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

// The GEMM and erf tests force each micro-kernel (Vector512, Vector256, scalar) on any machine, and the benchmarks
// time them, so both see the internals.
[assembly: InternalsVisibleTo("Electra.Tests")]
[assembly: InternalsVisibleTo("Electra.Benchmarks")]

namespace Electra.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Gemm(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha = 1f, float beta = 0f)
    {
        a.RequireDType(DType.F32, "Gemm A");
        b.RequireDType(DType.F32, "Gemm B");
        c.RequireDType(DType.F32, "Gemm C");
        var (batch, m, n, k) = GemmShape.Of(a, transA, b, transB, c);
        CpuGemm.RunBatched(batch, P(a), transA, P(b), transB, P(c), m, n, k, alpha, beta);
    }
}

/// <summary>Which micro-kernel runs the inner loop; tests force each one, production uses <see cref="Auto"/>.</summary>
internal enum GemmKernel { Auto, Vector512, Vector256, Scalar }

/// <summary>
/// Single-precision GEMM on row-major matrices: C[m,n] = alpha·op(A)·op(B) + beta·C, blocked as in GotoBLAS/BLIS.
/// For each KC-deep slice of K, op(B) is packed into NR-wide column panels and op(A) into MR-tall row panels, both
/// contiguous in the order the micro-kernel reads them, zero-padded to whole tiles so the kernel never branches on
/// edges. The loop around the kernel walks B panels outside and A panels inside: one B panel (KC·NR floats, 32 KiB)
/// stays in L1 while the A block (MC·KC floats, ≤ 256 KiB) streams from L2.
/// Work is split three ways. With many row blocks (M large) one packed B block is shared and the row blocks run in
/// parallel. With few row blocks and a long K (weight gradients Aᵀ·B) fixed K chunks run in parallel into partials
/// (see <see cref="RunSplitK"/>). Otherwise each task owns a [mc, nch] tile of C and packs its own A and B slices
/// over all of K: one parallel loop for the whole product. Every element is summed in the same order whatever the
/// thread count (the choice of split-K depends on the shape only), so results do not depend on the machine.
/// beta = 0 never reads C (it may hold garbage); K = 0 or alpha = 0 only scales C by beta.
/// </summary>
internal static unsafe class CpuGemm
{
    internal const int KC = 256;
    private const int MC = 240;     // a multiple of every MR (12, 6, 4)
    private const int NC = 4096;    // a multiple of every NR (32, 16, 4)
    private const int MaxMR = 12, MaxNR = 32;
    private const long SerialFlops = 1L << 21;

    private static readonly int Threads = Environment.ProcessorCount;

    internal static GemmKernel Best =>
        Vector512.IsHardwareAccelerated && Fma512 ? GemmKernel.Vector512
        : Vector256.IsHardwareAccelerated ? GemmKernel.Vector256
        : GemmKernel.Scalar;

    // Vector512.FusedMultiplyAdd is a true FMA where the hardware has one; without AVX-512F it would be emulated.
    private static bool Fma512 => System.Runtime.Intrinsics.X86.Avx512F.IsSupported;

    internal static (int mr, int nr) TileOf(GemmKernel kernel) => kernel switch
    {
        GemmKernel.Vector512 => (12, 32),
        GemmKernel.Vector256 => (6, 16),
        _ => (4, 4),
    };

    /// <summary>batch independent products, each matrix contiguous after the previous one.</summary>
    internal static void RunBatched(int batch, float* a, bool transA, float* b, bool transB, float* c, int m, int n, int k,
        float alpha, float beta, GemmKernel kernel = GemmKernel.Auto)
    {
        long flops = 2L * m * n * k;
        if (batch > 1 && flops * Threads < 64 * SerialFlops)
        {
            // Many small products (attention-sized): one product per task beats splitting each one.
            nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
            Parallel.For(0, batch, i => Run((float*)pa + (long)i * m * k, transA, (float*)pb + (long)i * k * n, transB,
                (float*)pc + (long)i * m * n, m, n, k, alpha, beta, kernel, threads: 1));
            return;
        }
        for (int i = 0; i < batch; i++)
            Run(a + (long)i * m * k, transA, b + (long)i * k * n, transB, c + (long)i * m * n, m, n, k, alpha, beta, kernel);
    }

    /// <summary>One product; threads ≤ 0 means all processors (tests pass a count to reach both work splits).</summary>
    public static void Run(float* a, bool transA, float* b, bool transB, float* c, int m, int n, int k, float alpha, float beta,
        GemmKernel kernel = GemmKernel.Auto, int threads = 0)
    {
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f)
        {
            ScaleC(c, (long)m * n, beta);
            return;
        }
        if (kernel == GemmKernel.Auto) kernel = Best;
        var (mr, nr) = TileOf(kernel);
        var op = new Operands(a, transA ? m : k, transA, b, transB ? k : n, transB, c, n, alpha, beta, kernel, mr, nr);
        long flops = 2L * m * n * k;
        if (threads <= 0) threads = Threads;
        if (flops < SerialFlops) threads = 1;

        int mBlocks = (m + MC - 1) / MC;
        if (threads > 1 && mBlocks >= 2 * threads)
        {
            // Round the block count up to a multiple of the threads so the last round is not half empty.
            mBlocks = (mBlocks + threads - 1) / threads * threads;
            RunSharedB(op, m, n, k, RoundUp((m + mBlocks - 1) / mBlocks, mr), parallel: true);
        }
        else if (k >= 2 * KSplitChunk && (long)m * n <= MaxSplitC)
        {
            RunSplitK(op, m, n, k);
        }
        else if (threads > 1)
        {
            RunTiles(op, m, n, k, threads);
        }
        else
        {
            RunSharedB(op, m, n, k, MC, parallel: false);
        }
    }

    // Split-K: the chunk count depends on K only, never on the thread count, so the sum (chunks added in order)
    // is the same on every machine.
    private const int KSplitChunk = 2048;
    private const long MaxSplitC = 1 << 20;

    /// <summary>
    /// Small M and N, long K (weight gradients: [out, rows]·[rows, in]): tiles of C would be few and small, so each
    /// task would spend as long packing as multiplying. Instead fixed K chunks run in parallel, each packing its
    /// slices of A and B exactly once into a private [m, n] partial; the partials are then added in chunk order.
    /// </summary>
    private static void RunSplitK(Operands op, int m, int n, int k)
    {
        int chunks = (k + KSplitChunk - 1) / KSplitChunk;
        int chunk = RoundUp((k + chunks - 1) / chunks, 8);
        chunks = (k + chunk - 1) / chunk;
        long mn = (long)m * n;
        float* partial = (float*)NativeMemory.AlignedAlloc((nuint)(mn * chunks * sizeof(float)), 64);
        try
        {
            nint pp = (nint)partial;
            Parallel.For(0, chunks, s =>
            {
                int k0 = s * chunk, kl = Math.Min(chunk, k - k0);
                var sub = new Operands(op.TransA ? op.A + (long)k0 * op.Lda : op.A + k0, op.Lda, op.TransA,
                    op.TransB ? op.B + k0 : op.B + (long)k0 * op.Ldb, op.Ldb, op.TransB,
                    (float*)pp + s * mn, n, 1f, 0f, op.Kernel, op.MR, op.NR);
                RunSharedB(sub, m, n, kl, MC, parallel: false);
            });
            float alpha = op.Alpha, beta = op.Beta;
            float* c = op.C;
            CpuBackend.ParallelRows(m, (long)n * chunks, (r0, r1) =>
            {
                for (int i = r0; i < r1; i++)
                {
                    var row = new Span<float>(c + (long)i * n, n);
                    var sum = new Span<float>((float*)pp + (long)i * n, n);
                    for (int s = 1; s < chunks; s++)
                        TensorPrimitives.Add(sum, new ReadOnlySpan<float>((float*)pp + s * mn + (long)i * n, n), sum);
                    if (beta == 0f) TensorPrimitives.Multiply(sum, alpha, row);
                    else
                    {
                        TensorPrimitives.Multiply(row, beta, row);
                        TensorPrimitives.MultiplyAdd(sum, alpha, row, row);
                    }
                }
            });
        }
        finally { NativeMemory.AlignedFree(partial); }
    }

    /// <summary>Large M (or one thread): per (NC, KC) block, pack op(B) once and run the MC row blocks over it.</summary>
    private static void RunSharedB(Operands op, int m, int n, int k, int mc, bool parallel)
    {
        int mBlocks = (m + mc - 1) / mc;
        float* bPack = Rent(BPool, BPackFloats);
        try
        {
            for (int jc = 0; jc < n; jc += NC)
            {
                int nc = Math.Min(NC, n - jc);
                for (int pc = 0; pc < k; pc += KC)
                {
                    int kc = Math.Min(KC, k - pc);
                    GemmPacking.PackB(op, pc, kc, jc, nc, bPack);
                    nint bp = (nint)bPack;
                    float betaNow = pc == 0 ? op.Beta : 1f;
                    void Block(int blk)
                    {
                        int ic = blk * mc, mcb = Math.Min(mc, m - ic);
                        float* aPack = Rent(APool, APackFloats);
                        try
                        {
                            GemmPacking.PackA(op, ic, mcb, pc, kc, aPack);
                            Macro(op, aPack, (float*)bp, mcb, nc, kc, op.C + (long)ic * op.Ldc + jc, betaNow);
                        }
                        finally { Return(APool, aPack); }
                    }
                    if (parallel) Parallel.For(0, mBlocks, Block);
                    else for (int blk = 0; blk < mBlocks; blk++) Block(blk);
                }
            }
        }
        finally { Return(BPool, bPack); }
    }

    /// <summary>Small M, several threads: split C into [mc, nch] tiles; each task packs its own slices over all of K.</summary>
    private static void RunTiles(Operands op, int m, int n, int k, int threads)
    {
        int mBlocks = (m + MC - 1) / MC;
        int mc = RoundUp((m + mBlocks - 1) / mBlocks, op.MR);
        mBlocks = (m + mc - 1) / mc;
        // Enough column chunks for about 4 tasks per thread, but chunks of at least 4 panels so that A, packed once
        // per chunk, stays a small cost next to the product.
        int nPanels = (n + op.NR - 1) / op.NR;
        int nChunks = Math.Clamp((4 * threads + mBlocks - 1) / mBlocks, 1, Math.Max(1, nPanels / 4));
        int nch = Math.Min(NC, RoundUp((n + nChunks - 1) / nChunks, op.NR));
        nChunks = (n + nch - 1) / nch;
        int tasks = mBlocks * nChunks;
        Parallel.For(0, tasks, t => Tile(op, t % mBlocks, t / mBlocks, mc, nch, m, n, k));
    }

    private static void Tile(Operands op, int mBlock, int nChunk, int mc, int nch, int m, int n, int k)
    {
        int ic = mBlock * mc, mcb = Math.Min(mc, m - ic);
        int jc = nChunk * nch, ncb = Math.Min(nch, n - jc);
        float* aPack = Rent(APool, APackFloats);
        float* bPack = Rent(BPool, BPackFloats);
        try
        {
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                GemmPacking.PackB(op, pc, kc, jc, ncb, bPack);
                GemmPacking.PackA(op, ic, mcb, pc, kc, aPack);
                Macro(op, aPack, bPack, mcb, ncb, kc, op.C + (long)ic * op.Ldc + jc, pc == 0 ? op.Beta : 1f);
            }
        }
        finally
        {
            Return(APool, aPack);
            Return(BPool, bPack);
        }
    }

    /// <summary>C[mc, nc] (at c) = alpha·Apack·Bpack + beta·C, tile by tile; edge tiles go through a scratch tile.</summary>
    private static void Macro(in Operands op, float* aPack, float* bPack, int mc, int nc, int kc, float* c, float beta)
    {
        int mr = op.MR, nr = op.NR;
        long ldc = op.Ldc;
        float alpha = op.Alpha;
        float* tile = stackalloc float[MaxMR * MaxNR];
        for (int jr = 0; jr < nc; jr += nr)
        {
            int nrv = Math.Min(nr, nc - jr);
            float* bp = bPack + (long)jr * kc;
            for (int ir = 0; ir < mc; ir += mr)
            {
                int mrv = Math.Min(mr, mc - ir);
                float* ap = aPack + (long)ir * kc;
                float* cp = c + ir * ldc + jr;
                if (mrv == mr && nrv == nr)
                {
                    Kernel(op.Kernel, kc, ap, bp, cp, ldc, alpha, beta);
                }
                else
                {
                    Kernel(op.Kernel, kc, ap, bp, tile, nr, 1f, 0f);
                    for (int i = 0; i < mrv; i++)
                    {
                        float* ci = cp + i * ldc;
                        float* ti = tile + i * nr;
                        if (beta == 0f) for (int j = 0; j < nrv; j++) ci[j] = alpha * ti[j];
                        else for (int j = 0; j < nrv; j++) ci[j] = alpha * ti[j] + beta * ci[j];
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Kernel(GemmKernel kernel, int kc, float* a, float* b, float* c, long ldc, float alpha, float beta)
    {
        switch (kernel)
        {
            case GemmKernel.Vector512: GemmMicroKernel.Kernel12x32(kc, a, b, c, ldc, alpha, beta); break;
            case GemmKernel.Vector256: GemmMicroKernel.Kernel6x16(kc, a, b, c, ldc, alpha, beta); break;
            default: GemmMicroKernel.Kernel4x4(kc, a, b, c, ldc, alpha, beta); break;
        }
    }

    private static void ScaleC(float* c, long count, float beta)
    {
        var span = new Span<float>(c, checked((int)count));
        if (beta == 0f) span.Clear();
        else if (beta != 1f) TensorPrimitives.Multiply(span, beta, span);
    }

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    // ---- packing buffers: fixed sizes, 64-byte aligned, reused across calls (one per concurrent task) ----------

    private const int APackFloats = (MC + MaxMR) * KC;
    private const int BPackFloats = KC * NC;
    private static readonly ConcurrentBag<nint> APool = [];
    private static readonly ConcurrentBag<nint> BPool = [];

    private static float* Rent(ConcurrentBag<nint> pool, int floats) =>
        pool.TryTake(out var p) ? (float*)p : (float*)NativeMemory.AlignedAlloc((nuint)floats * sizeof(float), 64);

    private static void Return(ConcurrentBag<nint> pool, float* p) => pool.Add((nint)p);
}

/// <summary>The operands of one product and the tile geometry of the chosen kernel.</summary>
internal readonly unsafe struct Operands(float* a, int lda, bool transA, float* b, int ldb, bool transB, float* c, int ldc,
    float alpha, float beta, GemmKernel kernel, int mr, int nr)
{
    public readonly float* A = a, B = b, C = c;
    public readonly int Lda = lda, Ldb = ldb, Ldc = ldc, MR = mr, NR = nr;
    public readonly bool TransA = transA, TransB = transB;
    public readonly float Alpha = alpha, Beta = beta;
    public readonly GemmKernel Kernel = kernel;
}
