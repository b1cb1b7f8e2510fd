using System.Numerics.Tensors;

namespace Electra.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Gemm(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha = 1f, float beta = 0f)
    {
        a.RequireDType(DType.F32, "Gemm A");
        b.RequireDType(DType.F32, "Gemm B");
        c.RequireDType(DType.F32, "Gemm C");
        if (a.Rank != b.Rank || a.Rank != c.Rank || a.Rank is < 2 or > 3)
            throw new ArgumentException($"Gemm: A {a.Shape}, B {b.Shape}, C {c.Shape} must all be rank 2, or all rank 3 with a shared batch");
        int batch = a.Rank == 3 ? a.Shape[0] : 1;
        if (a.Rank == 3 && (b.Shape[0] != batch || c.Shape[0] != batch))
            throw new ArgumentException($"Gemm: batch sizes of A {a.Shape}, B {b.Shape}, C {c.Shape} differ");
        int m = transA ? a.Shape[-1] : a.Shape[-2];
        int k = transA ? a.Shape[-2] : a.Shape[-1];
        int kb = transB ? b.Shape[-1] : b.Shape[-2];
        int n = transB ? b.Shape[-2] : b.Shape[-1];
        if (k != kb || c.Shape[-2] != m || c.Shape[-1] != n)
            throw new ArgumentException(
                $"Gemm: op(A) [{m}, {k}] · op(B) [{kb}, {n}] does not fit C {c.Shape} (A {a.Shape}{(transA ? "ᵀ" : "")}, B {b.Shape}{(transB ? "ᵀ" : "")})");
        float* pa = P(a), pb = P(b), pc = P(c);
        for (int i = 0; i < batch; i++)
            CpuGemm.Run(pa + (long)i * m * k, transA, pb + (long)i * k * n, transB, pc + (long)i * m * n, m, n, k, alpha, beta);
    }
}

/// <summary>Single-precision GEMM on row-major matrices: C[m,n] = alpha·op(A)·op(B) + beta·C.</summary>
internal static unsafe class CpuGemm
{
    public static void Run(float* a, bool transA, float* b, bool transB, float* c, int m, int n, int k, float alpha, float beta)
    {
        // Reference kernel: rows of C in parallel; each row accumulates alpha·a[i,p]·B[p,:] with SIMD.
        float* bt = null;
        float[]? bCopy = null;
        if (transB)
        {
            // Bᵀ stored [n, k]: transpose once into [k, n] so the inner loop streams rows.
            bCopy = GC.AllocateUninitializedArray<float>(k * n, pinned: true);
            fixed (float* dst = bCopy)
            {
                for (int j = 0; j < n; j++)
                    for (int p = 0; p < k; p++)
                        dst[(long)p * n + j] = b[(long)j * k + p];
            }
        }
        fixed (float* bStored = bCopy)
        {
            float* bRows = transB ? bStored : b;
            nint bPtr = (nint)bRows;
            CpuBackend.ParallelRows(m, (long)n * k, (s, e) =>
            {
                float* bb = (float*)bPtr;
                for (int i = s; i < e; i++)
                {
                    var row = new Span<float>(c + (long)i * n, n);
                    if (beta == 0f) row.Clear();
                    else if (beta != 1f) TensorPrimitives.Multiply(row, beta, row);
                    for (int p = 0; p < k; p++)
                    {
                        float av = alpha * (transA ? a[(long)p * m + i] : a[(long)i * k + p]);
                        if (av == 0f) continue;
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(bb + (long)p * n, n), av, row, row);
                    }
                }
            });
        }
        _ = bt;
    }
}
