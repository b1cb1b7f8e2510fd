// LayerNorm over the last axis with the residual add fused in, forward and backward.
// Forward: s = x + residual (or x), y = (s − mean)·rstd·γ + β; writes y, mean, rstd and, when asked, s.
// Backward: dS = rstd·(dŷ − mean(dŷ) − x̂·mean(dŷ∘x̂)), dŷ = dY∘γ, x̂ = (s − mean)·rstd; dγ = Σ_rows dY∘x̂,
// dβ = Σ_rows dY, reduced in two stages (per-block partial sums, then a fixed-order sum over blocks): the same
// inputs give the same bits on every run, with no float atomics.
//
// Why it is shaped this way: ELECTRA's rows are short (C = 64, 128, 256), so one warp owns a row and holds it in
// registers (N values per lane, lane + 32k: coalesced 128-byte warp loads), reading device memory once; the two
// statistics are two register passes (mean, then the centred variance), which is exact for rows with a large
// common offset where E[s²] − mean² would cancel. mean and rstd are saved so the backward never recomputes them.
// The sum s is saved by the forward (the residual stream), so the backward reads s and dY once and writes dS once.
//
// Counts (F32, R rows × C): forward reads x, residual (8 B/elem) and writes y, s (8 B/elem): 16 B/elem;
// backward reads dY, s (8 B) and writes dS (4 B): 12 B/elem, plus the partials (2·C floats per 64 rows, < 2%).
// ~10 FLOP/elem: memory-bound by far. Small step, one LayerNorm at R = 16,384, C = 256 (4.2 M elements):
// forward 67 MB → 22 µs, backward 50 MB → 17 µs at 3.0 TB/s. BF16 storage halves the bytes.
#include "common.cuh"

namespace ln_detail {

// The value a store then load would give: the backward sees s as stored, so the forward uses that same s.
template <typename T> __device__ __forceinline__ float round_to(float v);
template <> __device__ __forceinline__ float round_to<float>(float v) { return v; }
template <> __device__ __forceinline__ float round_to<bf16_t>(float v) { return bf16_to_float(float_to_bf16(v)); }

constexpr int kWarps = 8;  // rows per block in the forward; warps per block in both

template <int N> __device__ __forceinline__ void block_column_sum(const float (&acc)[N], float* __restrict__ out, int C);

template <typename T, int N>
__device__ void forward(const T* __restrict__ x, const T* __restrict__ residual, const float* __restrict__ gamma,
                        const float* __restrict__ beta, float eps, T* __restrict__ y, float* __restrict__ mean,
                        float* __restrict__ rstd, T* __restrict__ sum, int R, int C) {
    const int lane = threadIdx.x & 31;
    const int row = blockIdx.x * kWarps + (threadIdx.x >> 5);
    if (row >= R) return;
    const size_t o = (size_t)row * C;
    float v[N];
    float total = 0.f;
    #pragma unroll
    for (int k = 0; k < N; k++) {
        const int c = lane + 32 * k;
        v[k] = 0.f;
        if (c < C) {
            float a = load1(x + o + c);
            if (residual != nullptr) a = round_to<T>(a + load1(residual + o + c));
            v[k] = a;
            total += a;
        }
    }
    const float m = warp_sum(total) / (float)C;
    float sq = 0.f;
    #pragma unroll
    for (int k = 0; k < N; k++) {
        const float d = lane + 32 * k < C ? v[k] - m : 0.f;
        sq += d * d;
    }
    const float rs = 1.f / sqrtf(warp_sum(sq) / (float)C + eps);
    #pragma unroll
    for (int k = 0; k < N; k++) {
        const int c = lane + 32 * k;
        if (c < C) {
            store1(y + o + c, (v[k] - m) * rs * gamma[c] + beta[c]);
            if (sum != nullptr) store1(sum + o + c, v[k]);
        }
    }
    if (lane == 0) { mean[row] = m; rstd[row] = rs; }
}

// Stage 1: block g owns rows [g·rows_per_block, …); writes dS for them and its column partials
// partial[g, 0:C] = Σ dY∘x̂ and partial[g, C:2C] = Σ dY, summed over warps in a fixed order.
template <typename T, int N>
__device__ void backward_rows(const T* __restrict__ dy, const T* __restrict__ sum, const float* __restrict__ gamma,
                              const float* __restrict__ mean, const float* __restrict__ rstd, T* __restrict__ ds,
                              float* __restrict__ partial, int R, int C, int rows_per_block) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    float acc_g[N], acc_b[N];
    #pragma unroll
    for (int k = 0; k < N; k++) { acc_g[k] = 0.f; acc_b[k] = 0.f; }
    const int row_end = min(R, (blockIdx.x + 1) * rows_per_block);
    for (int row = blockIdx.x * rows_per_block + warp; row < row_end; row += kWarps) {
        const size_t o = (size_t)row * C;
        const float m = mean[row], rs = rstd[row];
        float g[N], xh[N];
        float sum_g = 0.f, sum_gx = 0.f;
        #pragma unroll
        for (int k = 0; k < N; k++) {
            const int c = lane + 32 * k;
            g[k] = 0.f; xh[k] = 0.f;
            if (c < C) {
                const float d = load1(dy + o + c);
                xh[k] = (load1(sum + o + c) - m) * rs;
                g[k] = d * gamma[c];
                sum_g += g[k];
                sum_gx += g[k] * xh[k];
                acc_g[k] += d * xh[k];
                acc_b[k] += d;
            }
        }
        const float mean_g = warp_sum(sum_g) / (float)C, mean_gx = warp_sum(sum_gx) / (float)C;
        #pragma unroll
        for (int k = 0; k < N; k++) {
            const int c = lane + 32 * k;
            if (c < C) store1(ds + o + c, rs * (g[k] - mean_g - xh[k] * mean_gx));
        }
    }
    // Cross-warp sums through shared memory, one quantity at a time so C = 1024 fits in 32 KB.
    float* out = partial + (size_t)blockIdx.x * 2 * C;
    block_column_sum<N>(acc_g, out, C);
    block_column_sum<N>(acc_b, out + C, C);
}

// out[c] = Σ_w acc[warp w, c] in warp order.
template <int N>
__device__ __forceinline__ void block_column_sum(const float (&acc)[N], float* __restrict__ out, int C) {
    DYNAMIC_SHARED(float, s_cols);  // [kWarps, C]
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    #pragma unroll
    for (int k = 0; k < N; k++) {
        const int c = lane + 32 * k;
        if (c < C) s_cols[warp * C + c] = acc[k];
    }
    __syncthreads();
    for (int c = threadIdx.x; c < C; c += 32 * kWarps) {
        float t = 0.f;
        #pragma unroll
        for (int w = 0; w < kWarps; w++) t += s_cols[w * C + c];
        out[c] = t;
    }
    __syncthreads();
}

}  // namespace ln_detail

// Forward: grid = ⌈R/8⌉, block = 256 (a warp per row). x, residual, y, sum [R, C] (residual, sum may be null);
// gamma, beta [C] F32; mean, rstd [R] F32. N = values per lane, C ≤ 32·N.
#define LN_FORWARD(NAME, T, N)                                                                                   \
    extern "C" __global__ void __launch_bounds__(256) NAME(const T* __restrict__ x, const T* __restrict__ residual, \
        const float* __restrict__ gamma, const float* __restrict__ beta, float eps, T* __restrict__ y,           \
        float* __restrict__ mean, float* __restrict__ rstd, T* __restrict__ sum, int R, int C) {                 \
        ln_detail::forward<T, N>(x, residual, gamma, beta, eps, y, mean, rstd, sum, R, C);                        \
    }
// Backward stage 1: grid = ⌈R/rows_per_block⌉, block = 256, dynamic shared memory 8·C floats;
// partial [grid, 2, C] F32 scratch.
#define LN_BACKWARD(NAME, T, N)                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) NAME(const T* __restrict__ dy, const T* __restrict__ sum,    \
        const float* __restrict__ gamma, const float* __restrict__ mean, const float* __restrict__ rstd,         \
        T* __restrict__ ds, float* __restrict__ partial, int R, int C, int rows_per_block) {                     \
        ln_detail::backward_rows<T, N>(dy, sum, gamma, mean, rstd, ds, partial, R, C, rows_per_block);           \
    }
#define LN_FAMILY(SUFFIX, T)                                                                                     \
    LN_FORWARD(layernorm_forward_##SUFFIX##_1, T, 1) LN_FORWARD(layernorm_forward_##SUFFIX##_2, T, 2)            \
    LN_FORWARD(layernorm_forward_##SUFFIX##_4, T, 4) LN_FORWARD(layernorm_forward_##SUFFIX##_8, T, 8)            \
    LN_FORWARD(layernorm_forward_##SUFFIX##_16, T, 16) LN_FORWARD(layernorm_forward_##SUFFIX##_32, T, 32)        \
    LN_BACKWARD(layernorm_backward_##SUFFIX##_1, T, 1) LN_BACKWARD(layernorm_backward_##SUFFIX##_2, T, 2)        \
    LN_BACKWARD(layernorm_backward_##SUFFIX##_4, T, 4) LN_BACKWARD(layernorm_backward_##SUFFIX##_8, T, 8)        \
    LN_BACKWARD(layernorm_backward_##SUFFIX##_16, T, 16) LN_BACKWARD(layernorm_backward_##SUFFIX##_32, T, 32)
LN_FAMILY(f32, float)
LN_FAMILY(bf16, bf16_t)

// Backward stage 2: grid = ⌈2C/256⌉, block = 256. dGamma[c] = Σ_g partial[g, 0, c], dBeta[c] = Σ_g partial[g, 1, c],
// summed in block order: deterministic.
extern "C" __global__ void __launch_bounds__(256) layernorm_backward_columns(const float* __restrict__ partial,
    int blocks, int C, float* __restrict__ dgamma, float* __restrict__ dbeta) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x;  // 0 ≤ j < 2C: dγ columns, then dβ columns
    if (j >= 2 * C) return;
    float t = 0.f;
    for (int g = 0; g < blocks; g++) t += partial[(size_t)g * 2 * C + j];
    if (j < C) dgamma[j] = t; else dbeta[j - C] = t;
}
