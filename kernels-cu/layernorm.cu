// LayerNorm over the last axis with the residual add fused in, and the input's bias and dropout too, forward and
// backward. Forward: u = dropout(x + bias) (or x), s = u + residual (or u), y = (s − mean)·rstd·γ + β; writes y,
// mean, rstd and, when asked, s. Backward: dS = rstd·(dŷ − mean(dŷ) − x̂·mean(dŷ∘x̂)), dŷ = dY∘γ,
// x̂ = (s − mean)·rstd; dX = dropout(dS) with the forward's mask; dγ = Σ_rows dY∘x̂, dβ = Σ_rows dY, dbias = Σ_rows dX,
// reduced in two stages (per-block partial sums, then a fixed-order sum over blocks, in the same launch): the same
// inputs give the same bits on every run, with no float atomics. In a post-LN block the dense layer before the norm
// leaves its bias to this kernel, so bias add, dropout, their backward and the bias gradient cost no pass of their own.
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

// The input transform u = dropout(x + bias): bias may be null, p = 0 keeps every element. Element i of [R, C]
// is kept iff uniform(bits(seed, offset, i)) ≥ p, the rule of dropout.cu, so the fused and separate forms draw
// the same mask. __fmul_rn keeps the scale from being contracted into the residual add that follows: the CPU
// rounds the product before adding.
struct InputTransform {
    const float* bias;
    float p, keep_scale;
    u64 seed, offset;
    const u64* rng_base; // see step_offset: added where each draw is made, so no register holds the sum
    __device__ __forceinline__ bool identity() const { return bias == nullptr && p == 0.f; }
    __device__ __forceinline__ bool keep(size_t i) const {
        return philox_uniform(philox_bits(seed, step_offset(offset, rng_base), i)) >= p;
    }
    // Bit k: keep the lane's value k of the row at o (column lane + 32k). A rolled loop, so the ten Philox rounds
    // are not unrolled N times over (at N = 32 that spilled); the unrolled loops then test constant bits.
    template <int N> __device__ __forceinline__ unsigned keep_mask(size_t o, int lane, int C) const {
        if (p == 0.f) return ~0u;
        unsigned mask = 0;
        #pragma unroll 1
        for (int k = 0; k < N; k++) {
            const int c = lane + 32 * k;
            if (c < C && keep(o + c)) mask |= 1u << k;
        }
        return mask;
    }
    __device__ __forceinline__ float apply(float v, int c, bool kept) const {
        if (bias != nullptr) v += bias[c];
        if (p > 0.f) v = kept ? __fmul_rn(v, keep_scale) : 0.f;
        return v;
    }
};

template <typename T, int N>
__device__ void forward(const T* __restrict__ x, const T* __restrict__ residual, const float* __restrict__ gamma,
                        const float* __restrict__ beta, float eps, T* __restrict__ y, float* __restrict__ mean,
                        float* __restrict__ rstd, T* __restrict__ sum, InputTransform in, int R, int C) {
    const int lane = threadIdx.x & 31;
    const int row = blockIdx.x * kWarps + (threadIdx.x >> 5);
    if (row >= R) return;
    const size_t o = (size_t)row * C;
    float v[N];
    float total = 0.f;
    const unsigned kept = in.keep_mask<N>(o, lane, C);
    #pragma unroll
    for (int k = 0; k < N; k++) {
        const int c = lane + 32 * k;
        v[k] = 0.f;
        if (c < C) {
            float a = in.apply(load1(x + o + c), c, (kept >> k) & 1u);
            if (residual != nullptr) a += load1(residual + o + c);
            if (residual != nullptr || !in.identity()) a = round_to<T>(a);
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

// dγ[c] = Σ_g partial[g, 0, c], dβ[c] = Σ_g partial[g, 1, c] and, with three parts, dbias[c] = Σ_g partial[g, 2, c],
// in block order, by the grid's last block; it sets the ticket back to 0 for the next launch. With add_to_params,
// dγ and dβ are added to what they hold (a shared norm's earlier use). Not inlined: inlined, its registers pushed
// the F32 C = 16·32… backward over sm_90's budget (32 bytes spilled).
__device__ __noinline__ void finish_columns(const float* partial, int parts, unsigned* ticket, float* __restrict__ dgamma,
                                               float* __restrict__ dbeta, float* __restrict__ dbias, int C, int add_to_params) {
    __shared__ int last;
    __threadfence();  // this block's partials are visible device-wide before its ticket is counted
    __syncthreads();
    if (threadIdx.x == 0) {
        last = atomicAdd(ticket, 1u) == gridDim.x - 1;
        if (last) *ticket = 0;
    }
    __syncthreads();
    if (!last) return;
    const volatile float* p = partial;  // written on other SMs: read past this SM's L1
    for (int j = threadIdx.x; j < parts * C; j += blockDim.x) {
        float t = 0.f;
        for (unsigned g = 0; g < gridDim.x; g++) t += p[(size_t)g * parts * C + j];
        if (j < C) dgamma[j] = add_to_params ? dgamma[j] + t : t;
        else if (j < 2 * C) dbeta[j - C] = add_to_params ? dbeta[j - C] + t : t;
        else dbias[j - 2 * C] = t;
    }
}

// Block g owns rows [g·rows_per_block, …); writes dS for them (and dX = the input dropout applied to dS, when dx is
// given) and its column partials partial[g, 0:C] = Σ dY∘x̂, partial[g, C:2C] = Σ dY and, when dbias is given,
// partial[g, 2C:3C] = Σ dX, summed over warps in a fixed order. The last block to finish (a ticket counter) then adds
// the partials in block order: deterministic, whichever block is last.
template <typename T, int N>
__device__ void backward_rows(const T* __restrict__ dy, const T* __restrict__ sum, const float* __restrict__ gamma,
                              const float* __restrict__ mean, const float* __restrict__ rstd, T* __restrict__ ds,
                              InputTransform in, T* __restrict__ dx, float* __restrict__ partial, unsigned* __restrict__ ticket,
                              float* __restrict__ dgamma, float* __restrict__ dbeta, float* __restrict__ dbias,
                              int R, int C, int rows_per_block, int add_to_params) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int parts = dbias != nullptr ? 3 : 2;
    float acc_g[N], acc_b[N], acc_x[N];
    #pragma unroll
    for (int k = 0; k < N; k++) { acc_g[k] = 0.f; acc_b[k] = 0.f; acc_x[k] = 0.f; }
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
        const unsigned kept = dx != nullptr ? in.keep_mask<N>(o, lane, C) : 0u;
        #pragma unroll
        for (int k = 0; k < N; k++) {
            const int c = lane + 32 * k;
            if (c >= C) continue;
            const float d = round_to<T>(rs * (g[k] - mean_g - xh[k] * mean_gx));
            store1(ds + o + c, d);
            if (dx == nullptr) continue;
            const float e = round_to<T>(in.p > 0.f ? ((kept >> k) & 1u ? __fmul_rn(d, in.keep_scale) : 0.f) : d);
            store1(dx + o + c, e);
            acc_x[k] += e;
        }
    }
    // Cross-warp sums through shared memory, one quantity at a time so C = 1024 fits in 32 KB.
    float* out = partial + (size_t)blockIdx.x * parts * C;
    block_column_sum<N>(acc_g, out, C);
    block_column_sum<N>(acc_b, out + C, C);
    if (dbias != nullptr) block_column_sum<N>(acc_x, out + 2 * C, C);
    finish_columns(partial, parts, ticket, dgamma, dbeta, dbias, C, add_to_params);
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

// Forward: grid = ⌈R/8⌉, block = 256 (a warp per row). x, residual, y, sum [R, C] (residual, sum may be null; sum
// is required when bias or p is set); gamma, beta, bias [C] F32; mean, rstd [R] F32. N = values per lane, C ≤ 32·N.
#define LN_FORWARD(NAME, T, N)                                                                                   \
    extern "C" __global__ void __launch_bounds__(256) NAME(const T* __restrict__ x, const T* __restrict__ residual, \
        const float* __restrict__ gamma, const float* __restrict__ beta, float eps, T* __restrict__ y,           \
        float* __restrict__ mean, float* __restrict__ rstd, T* __restrict__ sum, const float* __restrict__ bias,  \
        float p, float keep_scale, u64 seed, u64 offset, const u64* __restrict__ rng_base, int R, int C) {       \
        ln_detail::forward<T, N>(x, residual, gamma, beta, eps, y, mean, rstd, sum,                               \
                                 ln_detail::InputTransform{bias, p, keep_scale, seed, offset, rng_base}, R, C);  \
    }
// Backward: grid = ⌈R/rows_per_block⌉, block = 256, dynamic shared memory 8·C floats; partial [grid, 2 or 3, C] F32
// scratch (3 when dbias is given); ticket one zeroed counter; dgamma, dbeta, dbias [C] F32, overwritten (dgamma and
// dbeta added to when add_to_params is 1); dx [R, C] may be null (then dbias must be too).
#define LN_BACKWARD(NAME, T, N)                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) NAME(const T* __restrict__ dy, const T* __restrict__ sum,    \
        const float* __restrict__ gamma, const float* __restrict__ mean, const float* __restrict__ rstd,         \
        T* __restrict__ ds, float p, float keep_scale, u64 seed, u64 offset, const u64* __restrict__ rng_base,   \
        T* __restrict__ dx,                                                                                      \
        float* __restrict__ partial, unsigned* __restrict__ ticket, float* __restrict__ dgamma,                  \
        float* __restrict__ dbeta, float* __restrict__ dbias, int R, int C, int rows_per_block,                  \
        int add_to_params) {                                                                                     \
        ln_detail::backward_rows<T, N>(dy, sum, gamma, mean, rstd, ds,                                           \
                                       ln_detail::InputTransform{nullptr, p, keep_scale, seed, offset, rng_base}, dx, \
                                       partial, ticket, dgamma, dbeta, dbias, R, C, rows_per_block,              \
                                       add_to_params);                                                           \
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
