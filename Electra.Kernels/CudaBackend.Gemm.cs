using Electra.Cuda.Interop;

namespace Electra.Cuda;

public sealed unsafe partial class CudaBackend
{
    /// <summary>
    /// Row-major C = α·op(A)·op(B) + β·C through column-major cuBLAS: a row-major matrix is its own transpose in
    /// column-major, so cuBLAS computes Cᵀ = op(B)ᵀ·op(A)ᵀ with the operands swapped and no data moved.
    /// F32 runs in TF32 on tensor cores (<see cref="AllowTf32"/>); BF16 A and B accumulate in F32.
    /// </summary>
    public void Gemm(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha = 1f, float beta = 0f)
    {
        Own("Gemm", a, b, c);
        if (a.DType != b.DType || a.DType is not (DType.F32 or DType.BF16) || c.DType is not (DType.F32 or DType.BF16))
            throw new ArgumentException($"Gemm: A and B must both be f32 or both bf16, C f32 or bf16; got {a.DType.Name()}, {b.DType.Name()}, {c.DType.Name()}");
        var (batch, m, n, k) = GemmShape.Of(a, transA, b, transB, c);
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            // cuBLAS would skip the β scaling for some shapes; do it explicitly.
            if (beta == 0f) Fill(c, 0f);
            else if (c.DType == DType.F32) Scale(c, beta, c);
            else
            {
                using var wide = Scratch(c.Count); // the scale kernel is F32-only
                Copy(c, wide);
                Scale(wide, beta, wide);
                Copy(wide, c);
            }
            return;
        }

        CudaDevice.MakeCurrent();
        var ab = a.DType == DType.F32 ? CudaDataType.R32F : CudaDataType.R16BF;
        var ct = c.DType == DType.F32 ? CudaDataType.R32F : CudaDataType.R16BF;
        var compute = a.DType == DType.F32 && AllowTf32 ? CublasComputeType.C32FFastTf32 : CublasComputeType.C32F;
        var opB = transB ? CublasOperation.T : CublasOperation.N;
        var opA = transA ? CublasOperation.T : CublasOperation.N;
        int ldb = transB ? k : n, lda = transA ? m : k, ldc = n;
        float al = alpha, be = beta;
        long bytes = a.Bytes + b.Bytes + (beta == 0f ? 1 : 2) * c.Bytes;
        var rate = a.DType == DType.BF16 ? FlopRate.Bf16 : compute == CublasComputeType.C32FFastTf32 ? FlopRate.Tf32 : FlopRate.Fp32;
        Profile.Cublas(bytes, 2.0 * batch * m * n * k, rate);
        if (batch == 1)
        {
            Cublas.Check(Cublas.cublasGemmEx(_cublas, opB, opA, n, m, k, &al, Ptr(b), ab, ldb, Ptr(a), ab, lda, &be, Ptr(c), ct, ldc, compute, Cublas.GemmDefault),
                $"cublasGemmEx(m={m}, n={n}, k={k}, transA={transA}, transB={transB})");
        }
        else
        {
            Cublas.Check(Cublas.cublasGemmStridedBatchedEx(_cublas, opB, opA, n, m, k, &al, Ptr(b), ab, ldb, (long)k * n, Ptr(a), ab, lda, (long)m * k,
                    &be, Ptr(c), ct, ldc, (long)m * n, batch, compute, Cublas.GemmDefault),
                $"cublasGemmStridedBatchedEx(batch={batch}, m={m}, n={n}, k={k}, transA={transA}, transB={transB})");
        }
    }
}
