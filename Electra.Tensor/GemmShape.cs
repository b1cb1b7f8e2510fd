namespace Electra;

/// <summary>The sizes of C = op(A)·op(B), checked once for every backend (IBackend.Gemm's shape contract).</summary>
public readonly record struct GemmShape(int Batch, int M, int N, int K)
{
    public static GemmShape Of(Tensor a, bool transA, Tensor b, bool transB, Tensor c)
    {
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
        return new GemmShape(batch, m, n, k);
    }
}
