// The softmax halves of the cuBLAS attention baseline the benchmarks compare attention.cu / attention_mma.cu with
// (benchmarks/Electra.Benchmarks/Cuda/AttentionBaseline.cs): S = QKᵀ by a strided-batched GEMM into a
// [B, NH, T, T] F32 matrix, then these kernels, then P·V (and dS·K, dSᵀ·Q, Pᵀ·dO) by GEMMs again. Not used in
// training. Materialising the T×T matrix is the point: it is what the fused kernels avoid.
// No dropout here: the benchmark compares both at p = 0.
//
// Counts per score element: forward reads S (4 B) and writes P (4 or 2 B); backward reads P and dP and writes dS.
#include "common.cuh"

namespace attn_base {

// One warp per score row (b, h, i): P[row, j] = softmax_j(scale·S[row, j]) over keys with key_mask[b, j] ≠ 0.
template <typename PT>
__device__ void softmax(const float* __restrict__ s, const int* __restrict__ key_mask, int NH, int T, int rows,
                        float scale, PT* __restrict__ p) {
    const int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x & 31;
    if (row >= rows) return;
    const int b = row / (NH * T);
    const float* x = s + (size_t)row * T;
    const int* mask = key_mask + (size_t)b * T;
    float m = -__int_as_float(0x7f800000);
    for (int j = lane; j < T; j += 32) if (mask[j]) m = fmaxf(m, x[j] * scale);
    m = warp_max(m);
    float sum = 0.f;
    for (int j = lane; j < T; j += 32) if (mask[j]) sum += __expf(x[j] * scale - m);
    sum = warp_sum(sum);
    const float inv = sum > 0.f ? 1.f / sum : 0.f;
    for (int j = lane; j < T; j += 32) store1(p + (size_t)row * T + j, mask[j] ? __expf(x[j] * scale - m) * inv : 0.f);
}

// One warp per row: dS = P∘(dP − Σ_j dP∘P)·scale, written over dP's row (F32) or into ds (bf16 GEMM operand).
template <typename PT, typename ST>
__device__ void softmax_backward(const PT* __restrict__ p, const float* dp, int T, int rows, float scale, ST* ds) {
    const int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x & 31;
    if (row >= rows) return;
    const size_t o = (size_t)row * T;
    float d = 0.f;
    for (int j = lane; j < T; j += 32) d += dp[o + j] * load1(p + o + j);
    d = warp_sum(d);
    for (int j = lane; j < T; j += 32) store1(ds + o + j, load1(p + o + j) * (dp[o + j] - d) * scale);
}

}  // namespace attn_base

// grid = ⌈B·NH·T / 8⌉, block = 256 (a warp per row). s [B, NH, T, T] F32; key_mask [B, T]; p [B, NH, T, T].
extern "C" __global__ void attention_baseline_softmax_f32(const float* __restrict__ s, const int* __restrict__ key_mask,
    int NH, int T, int rows, float scale, float* __restrict__ p) {
    attn_base::softmax(s, key_mask, NH, T, rows, scale, p);
}
extern "C" __global__ void attention_baseline_softmax_bf16(const float* __restrict__ s, const int* __restrict__ key_mask,
    int NH, int T, int rows, float scale, bf16_t* __restrict__ p) {
    attn_base::softmax(s, key_mask, NH, T, rows, scale, p);
}
// Same grid. p, dp [B, NH, T, T]; ds may be dp (F32).
extern "C" __global__ void attention_baseline_softmax_backward_f32(const float* __restrict__ p, const float* dp, int T,
    int rows, float scale, float* ds) {
    attn_base::softmax_backward(p, dp, T, rows, scale, ds);
}
extern "C" __global__ void attention_baseline_softmax_backward_bf16(const bf16_t* __restrict__ p, const float* dp, int T,
    int rows, float scale, bf16_t* ds) {
    attn_base::softmax_backward(p, dp, T, rows, scale, ds);
}
