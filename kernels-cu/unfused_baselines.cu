// The unfused kernel sequences the benchmarks compare layernorm.cu, softmax_cross_entropy.cu and gumbel.cu with
// (benchmarks/Electra.Benchmarks/Cuda/UnfusedBaselines.cs): each does one simple thing per pass, the way a framework
// without these fusions would (add; mean; variance; normalise — max; Σexp; loss; gradient; noise; argmax).
// Not used in training. F32 only.
#include "common.cuh"

// ---- LayerNorm: block of 256 threads = 8 rows, a warp per row (C ≤ a few thousand) --------------------------------

// mean[r] = Σ_c s[r, c] / C
extern "C" __global__ void baseline_row_mean(const float* __restrict__ s, int R, int C, float* __restrict__ mean) {
    const int r = blockIdx.x * 8 + threadIdx.x / 32, lane = threadIdx.x & 31;
    if (r >= R) return;
    float acc = 0.f;
    for (int c = lane; c < C; c += 32) acc += s[(size_t)r * C + c];
    acc = warp_sum(acc);
    if (lane == 0) mean[r] = acc / C;
}

// rstd[r] = 1/√(Σ_c (s[r, c] − mean[r])² / C + eps)
extern "C" __global__ void baseline_row_rstd(const float* __restrict__ s, const float* __restrict__ mean, int R, int C,
    float eps, float* __restrict__ rstd) {
    const int r = blockIdx.x * 8 + threadIdx.x / 32, lane = threadIdx.x & 31;
    if (r >= R) return;
    const float m = mean[r];
    float acc = 0.f;
    for (int c = lane; c < C; c += 32) { const float d = s[(size_t)r * C + c] - m; acc += d * d; }
    acc = warp_sum(acc);
    if (lane == 0) rstd[r] = rsqrtf(acc / C + eps);
}

// y = (s − mean)·rstd·γ + β, one thread per element.
extern "C" __global__ void baseline_layernorm_normalise(const float* __restrict__ s, const float* __restrict__ mean,
    const float* __restrict__ rstd, const float* __restrict__ gamma, const float* __restrict__ beta, int R, int C,
    float* __restrict__ y) {
    GRID_STRIDE(i, (i64)R * C) {
        const int r = (int)(i / C), c = (int)(i % C);
        y[i] = (s[i] - mean[r]) * rstd[r] * gamma[c] + beta[c];
    }
}

// a[r] = mean_c(dY·γ), b[r] = mean_c(dY·γ·x̂) with x̂ = (s − mean)·rstd.
extern "C" __global__ void baseline_layernorm_backward_rows(const float* __restrict__ dy, const float* __restrict__ s,
    const float* __restrict__ gamma, const float* __restrict__ mean, const float* __restrict__ rstd, int R, int C,
    float* __restrict__ a, float* __restrict__ b) {
    const int r = blockIdx.x * 8 + threadIdx.x / 32, lane = threadIdx.x & 31;
    if (r >= R) return;
    const float m = mean[r], rs = rstd[r];
    float sa = 0.f, sb = 0.f;
    for (int c = lane; c < C; c += 32) {
        const size_t i = (size_t)r * C + c;
        const float g = dy[i] * gamma[c];
        sa += g;
        sb += g * (s[i] - m) * rs;
    }
    sa = warp_sum(sa);
    sb = warp_sum(sb);
    if (lane == 0) { a[r] = sa / C; b[r] = sb / C; }
}

// dS = rstd·(dY·γ − a − x̂·b), one thread per element.
extern "C" __global__ void baseline_layernorm_backward_dx(const float* __restrict__ dy, const float* __restrict__ s,
    const float* __restrict__ gamma, const float* __restrict__ mean, const float* __restrict__ rstd,
    const float* __restrict__ a, const float* __restrict__ b, int R, int C, float* __restrict__ ds) {
    GRID_STRIDE(i, (i64)R * C) {
        const int r = (int)(i / C), c = (int)(i % C);
        const float xhat = (s[i] - mean[r]) * rstd[r];
        ds[i] = rstd[r] * (dy[i] * gamma[c] - a[r] - xhat * b[r]);
    }
}

// The dγ, dβ column sums over chunks of `chunk` rows: pg[k, c] = Σ dY·x̂, pb[k, c] = Σ dY over chunk k (then summed
// over k by the backend's SumRows). grid = (⌈C/256⌉, ⌈R/chunk⌉), block = 256: a thread per column.
extern "C" __global__ void baseline_layernorm_backward_columns(const float* __restrict__ dy, const float* __restrict__ s,
    const float* __restrict__ mean, const float* __restrict__ rstd, int R, int C, int chunk, float* __restrict__ pg,
    float* __restrict__ pb) {
    const int c = blockIdx.x * 256 + threadIdx.x, k = blockIdx.y;
    if (c >= C) return;
    float g = 0.f, bsum = 0.f;
    for (int r = k * chunk; r < min(R, (k + 1) * chunk); r++) {
        const size_t i = (size_t)r * C + c;
        g += dy[i] * (s[i] - mean[r]) * rstd[r];
        bsum += dy[i];
    }
    pg[(size_t)k * C + c] = g;
    pb[(size_t)k * C + c] = bsum;
}

// ---- softmax cross-entropy and Gumbel: block of 256 threads per row of V ------------------------------------------

extern "C" __global__ void baseline_row_max(const float* __restrict__ x, int V, float* __restrict__ out) {
    __shared__ float scratch[32];
    const float* row = x + (size_t)blockIdx.x * V;
    float m = -__int_as_float(0x7f800000);
    for (int c = threadIdx.x; c < V; c += blockDim.x) m = fmaxf(m, row[c]);
    m = block_max(m, scratch);
    if (threadIdx.x == 0) out[blockIdx.x] = m;
}

extern "C" __global__ void baseline_row_sum_exp(const float* __restrict__ x, const float* __restrict__ max, int V,
    float* __restrict__ out) {
    __shared__ float scratch[32];
    const float* row = x + (size_t)blockIdx.x * V;
    const float m = max[blockIdx.x];
    float acc = 0.f;
    for (int c = threadIdx.x; c < V; c += blockDim.x) acc += __expf(row[c] - m);
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) out[blockIdx.x] = acc;
}

// losses[r] = max + log Σexp − x[r, target]; a thread per row.
extern "C" __global__ void baseline_cross_entropy_loss(const float* __restrict__ x, const int* __restrict__ targets,
    const float* __restrict__ max, const float* __restrict__ sum_exp, int M, int V, float* __restrict__ losses) {
    const int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r < M) losses[r] = max[r] + logf(sum_exp[r]) - x[(size_t)r * V + targets[r]];
}

// d = (softmax − onehot)·scale, a thread per element.
extern "C" __global__ void baseline_cross_entropy_grad(const float* __restrict__ x, const int* __restrict__ targets,
    const float* __restrict__ max, const float* __restrict__ sum_exp, int M, int V, float scale, float* __restrict__ d) {
    GRID_STRIDE(i, (i64)M * V) {
        const int r = (int)(i / V), c = (int)(i % V);
        d[i] = (__expf(x[i] - max[r]) / sum_exp[r] - (c == targets[r] ? 1.f : 0.f)) * scale;
    }
}

// scores = x·invT + Gumbel(seed, offset, i), a thread per element (then the backend's Argmax).
extern "C" __global__ void baseline_gumbel_scores(const float* __restrict__ x, float inv_temperature, unsigned long long seed,
    unsigned long long offset, i64 n, float* __restrict__ scores) {
    GRID_STRIDE(i, n) scores[i] = __fadd_rn(__fmul_rn(x[i], inv_temperature), philox_gumbel(philox_bits(seed, offset, (u64)i)));
}
