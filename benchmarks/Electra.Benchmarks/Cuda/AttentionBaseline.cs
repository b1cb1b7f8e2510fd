using Electra.Cuda;
using Electra.Cuda.Interop;

namespace Electra.Benchmarks.Cuda;

/// <summary>
/// Attention the unfused way, as the baseline for kernels-cu/attention*.cu: per head, strided-batched cuBLAS GEMMs
/// straight on the qkv layout [B, T, 3, NH, HS] (batch = B, stride T·3H) into a materialised score matrix
/// S [B, NH, T, T] F32, then kernels-cu/attention_baseline.cu's masked, scaled softmax, then GEMMs again.
/// Forward: S = QKᵀ; P = softmax(scale·S); O = PV. Backward: dP = dO·Vᵀ; dS = P∘(dP − rowsum(dP∘P))·scale;
/// dQ = dS·K; dK = dSᵀ·Q; dV = Pᵀ·dO. No dropout (compare the fused kernels at p = 0). F32 inputs use TF32 GEMMs
/// (the backend's default); BF16 inputs keep P and dS in bf16 for the GEMMs and accumulate in F32.
/// </summary>
internal sealed unsafe class AttentionBaseline : IDisposable
{
    private const string Source = "attention_baseline.cu";
    private readonly CudaBackend _be;
    private readonly nint _cublas;
    private readonly int _b, _t, _nh, _hs;
    private readonly DType _dtype;
    private readonly Tensor _s, _p, _dp, _ds; // [B, NH, T, T]: S and dP F32; P and dS in the GEMM operand dtype

    public AttentionBaseline(CudaBackend backend, int b, int t, int nh, int hs, DType dtype)
    {
        (_be, _b, _t, _nh, _hs, _dtype) = (backend, b, t, nh, hs, dtype);
        backend.CudaDevice.MakeCurrent();
        Cublas.Check(Cublas.cublasCreate_v2(out _cublas), "cublasCreate_v2");
        Cublas.Check(Cublas.cublasSetStream_v2(_cublas, backend.CudaDevice.Stream), "cublasSetStream_v2");
        Cublas.Check(Cublas.cublasSetMathMode(_cublas, CublasMath.Tf32TensorOp), "cublasSetMathMode(TF32)");
        int[] shape = [b * nh, t, t];
        _s = Tensor.Empty(shape, DType.F32, backend.Device);
        _dp = Tensor.Empty(shape, DType.F32, backend.Device);
        _p = Tensor.Empty(shape, dtype, backend.Device);
        _ds = dtype == DType.F32 ? _dp : Tensor.Empty(shape, dtype, backend.Device);
    }

    /// <summary>FLOPs of one forward (two GEMMs) and one backward (five GEMMs).</summary>
    public static double ForwardFlops(int bnh, int t, int hs) => 4.0 * bnh * t * t * hs;
    public static double BackwardFlops(int bnh, int t, int hs) => 10.0 * bnh * t * t * hs;

    private int H => _nh * _hs;
    private long Es => _dtype.Size();
    private long TT => (long)_t * _t;

    public void Forward(Tensor qkv, Tensor keyMask, float scale, Tensor output)
    {
        ulong q = P(qkv), s = P(_s), p = P(_p), o = P(output);
        for (int h = 0; h < _nh; h++)
        {
            // S_h = Q_h·K_hᵀ: [T, HS]·[T, HS]ᵀ per batch element
            Gemm(false, true, _t, _t, _hs, q + Off(h * _hs), 3 * H, (long)_t * 3 * H, q + Off(H + h * _hs), 3 * H, (long)_t * 3 * H,
                s + (ulong)(h * TT * 4), _t, _nh * TT, CudaDataType.R32F);
        }
        int rows = _b * _nh * _t;
        _be.CudaDevice.Kernel(Source, $"attention_baseline_softmax_{Suffix}").Launch(((uint)((rows + 7) / 8), 1, 1), (256, 1, 1), 0,
            _s, keyMask, _nh, _t, rows, scale, _p);
        for (int h = 0; h < _nh; h++)
        {
            // O_h = P_h·V_h: [T, T]·[T, HS], written into out [B, T, NH, HS]
            Gemm(false, false, _t, _hs, _t, p + (ulong)(h * TT * Es), _t, _nh * TT, q + Off(2 * H + h * _hs), 3 * H, (long)_t * 3 * H,
                o + Off(h * _hs), H, (long)_t * H, OperandType);
        }
    }

    public void Backward(Tensor dOutput, Tensor qkv, float scale, Tensor dQkv)
    {
        ulong q = P(qkv), dO = P(dOutput), p = P(_p), dp = P(_dp), ds = P(_ds), dq = P(dQkv);
        long strideQkv = (long)_t * 3 * H, strideO = (long)_t * H;
        for (int h = 0; h < _nh; h++)
        {
            // dP_h = dO_h·V_hᵀ
            Gemm(false, true, _t, _t, _hs, dO + Off(h * _hs), H, strideO, q + Off(2 * H + h * _hs), 3 * H, strideQkv,
                dp + (ulong)(h * TT * 4), _t, _nh * TT, CudaDataType.R32F);
        }
        int rows = _b * _nh * _t;
        _be.CudaDevice.Kernel(Source, $"attention_baseline_softmax_backward_{Suffix}").Launch(((uint)((rows + 7) / 8), 1, 1), (256, 1, 1), 0,
            _p, _dp, _t, rows, scale, _ds);
        for (int h = 0; h < _nh; h++)
        {
            ulong dsH = ds + (ulong)(h * TT * Es), pH = p + (ulong)(h * TT * Es);
            // dQ_h = dS_h·K_h; dK_h = dS_hᵀ·Q_h; dV_h = P_hᵀ·dO_h, into dQkv [B, T, 3, NH, HS]
            Gemm(false, false, _t, _hs, _t, dsH, _t, _nh * TT, q + Off(H + h * _hs), 3 * H, strideQkv, dq + Off(h * _hs), 3 * H, strideQkv, OperandType);
            Gemm(true, false, _t, _hs, _t, dsH, _t, _nh * TT, q + Off(h * _hs), 3 * H, strideQkv, dq + Off(H + h * _hs), 3 * H, strideQkv, OperandType);
            Gemm(true, false, _t, _hs, _t, pH, _t, _nh * TT, dO + Off(h * _hs), H, strideO, dq + Off(2 * H + h * _hs), 3 * H, strideQkv, OperandType);
        }
    }

    private string Suffix => _dtype == DType.F32 ? "f32" : "bf16";
    private CudaDataType OperandType => _dtype == DType.F32 ? CudaDataType.R32F : CudaDataType.R16BF;
    private ulong Off(long elements) => (ulong)(elements * Es);
    private static ulong P(Tensor t) => (ulong)t.Pointer;

    /// <summary>Row-major C = op(A)·op(B) per batch element, as column-major cuBLAS computes Cᵀ = op(B)ᵀ·op(A)ᵀ.</summary>
    private void Gemm(bool transA, bool transB, int m, int n, int k, ulong a, int lda, long strideA, ulong b, int ldb, long strideB,
        ulong c, int ldc, long strideC, CudaDataType cType)
    {
        float alpha = 1f, beta = 0f;
        var ab = OperandType;
        var compute = _dtype == DType.F32 ? CublasComputeType.C32FFastTf32 : CublasComputeType.C32F;
        Cublas.Check(Cublas.cublasGemmStridedBatchedEx(_cublas, transB ? CublasOperation.T : CublasOperation.N, transA ? CublasOperation.T : CublasOperation.N,
                n, m, k, &alpha, b, ab, ldb, strideB, a, ab, lda, strideA, &beta, c, cType, ldc, strideC, _b, compute, Cublas.GemmDefault),
            $"cublasGemmStridedBatchedEx(baseline, m={m}, n={n}, k={k}, batch={_b})");
    }

    public void Dispose()
    {
        _be.Synchronize();
        Cublas.cublasDestroy_v2(_cublas);
        _s.Dispose();
        _p.Dispose();
        _dp.Dispose();
        if (!ReferenceEquals(_ds, _dp)) _ds.Dispose();
    }
}
