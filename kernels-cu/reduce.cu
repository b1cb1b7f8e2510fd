// Deterministic reductions: every sum runs in a fixed tree (a fixed grid, fixed per-thread ranges, fixed
// butterflies), so the same input gives the same bits on every run. No sum is formed with atomics; the one atomic
// (column_sums' ticket) only decides which block adds the partials, not their order.
#include "common.cuh"

// Stage 1 of a full sum: block b sums its grid-stride share of x into partials[b].
extern "C" __global__ void sum_partial(const float* x, i64 n, float* partials)
{
    __shared__ float scratch[32];
    float acc = 0.f;
    GRID_STRIDE(i, n) acc += x[i];
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

// Stage 2 (one block): dst[0] = scale · s · Σ partials, accumulated in double; s = *scale_by, or 1 when null (a
// mean whose count lives on the device, as in a step captured with fixed shapes).
extern "C" __global__ void sum_finish(const float* partials, int count, float* dst, float scale, const float* scale_by)
{
    __shared__ double scratch[32];
    double acc = 0.0;
    for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
    acc = block_sum_double(acc, scratch);
    if (threadIdx.x == 0) dst[0] = (float)(acc * (scale_by == nullptr ? (double)scale : (double)(scale * *scale_by)));
}

// Column sums of x [rows, cols] in one launch (common.cuh's column_sums_of). The bf16 instance (bias gradients of the
// mixed-precision step) reads bf16 rows and sums in F32.
namespace red {

template <typename T>
struct Rows
{
    const T* x;
    int cols;
    __device__ __forceinline__ float operator()(i64 r, int c) const { return load1(x + r * cols + c); }
};

template <typename T>
__device__ __forceinline__ void column_sums(const T* x, i64 rows, int cols, int rowsPerBlock, float* partials, unsigned* tickets,
    float* dst, float beta)
{
    column_sums_of(Rows<T>{x, cols}, rows, cols, rowsPerBlock, partials, tickets, dst, beta);
}

}  // namespace red

extern "C" __global__ void column_sums(const float* x, i64 rows, int cols, int rowsPerBlock, float* partials, unsigned* tickets,
    float* dst, float beta)
{
    red::column_sums(x, rows, cols, rowsPerBlock, partials, tickets, dst, beta);
}

extern "C" __global__ void column_sums_bf16(const bf16_t* x, i64 rows, int cols, int rowsPerBlock, float* partials,
    unsigned* tickets, float* dst, float beta)
{
    red::column_sums(x, rows, cols, rowsPerBlock, partials, tickets, dst, beta);
}

// dst[r] = argmax_c x[r, c], lowest index on ties; a NaN wins over numbers (as the CPU's IndexOfMax).
__device__ __forceinline__ bool better(float v, int i, float bv, int bi)
{
    bool vn = v != v, bn = bv != bv;
    if (vn || bn) return vn && (!bn || i < bi);
    return v > bv || (v == bv && i < bi);
}

namespace red {

// The bf16 instance compares the widened values: the same order, and the same ties, as the rounded floats.
template <typename T>
__device__ __forceinline__ void argmax_rows(const T* x, int cols, int* dst)
{
    __shared__ float sv[32];
    __shared__ int si[32];
    const T* row = x + (i64)blockIdx.x * cols;
    float best = -__int_as_float(0x7f800000);
    int bestIndex = 0x7fffffff;
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
    {
        float v = load1(row + c);
        if (bestIndex == 0x7fffffff || better(v, c, best, bestIndex)) { best = v; bestIndex = c; }
    }
    for (int o = 16; o > 0; o >>= 1)
    {
        float ov = __shfl_xor_sync(FULL_MASK, best, o);
        int oi = __shfl_xor_sync(FULL_MASK, bestIndex, o);
        if (oi != 0x7fffffff && (bestIndex == 0x7fffffff || better(ov, oi, best, bestIndex))) { best = ov; bestIndex = oi; }
    }
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) { sv[warp] = best; si[warp] = bestIndex; }
    __syncthreads();
    if (threadIdx.x == 0)
    {
        for (int w = 1; w < (int)(blockDim.x / 32); w++)
            if (si[w] != 0x7fffffff && better(sv[w], si[w], best, bestIndex)) { best = sv[w]; bestIndex = si[w]; }
        dst[blockIdx.x] = bestIndex;
    }
}

}  // namespace red

extern "C" __global__ void argmax_rows(const float* x, int cols, int* dst) { red::argmax_rows(x, cols, dst); }

extern "C" __global__ void argmax_rows_bf16(const bf16_t* x, int cols, int* dst) { red::argmax_rows(x, cols, dst); }

// A slice of one tensor in a multi-tensor launch: `count` floats from `ptr`.
struct Chunk { float* ptr; int count; int pad; };

// Global norm, stage 1: partials[b] = Σ over chunk b of x².
extern "C" __global__ void sum_squares_chunks(const Chunk* chunks, float* partials)
{
    __shared__ float scratch[32];
    Chunk c = chunks[blockIdx.x];
    float acc = 0.f;
    for (int i = threadIdx.x; i < c.count; i += blockDim.x) { float v = c.ptr[i]; acc += v * v; }
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

// Stage 2 (one block): norm = √(Σ partials), accumulated in double.
extern "C" __global__ void norm_finish(const float* partials, int count, float* norm)
{
    __shared__ double scratch[32];
    double acc = 0.0;
    for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
    acc = block_sum_double(acc, scratch);
    if (threadIdx.x == 0) norm[0] = (float)sqrt(acc);
}

// Every chunk scaled by maxNorm / max(norm, maxNorm), the norm read on the device.
extern "C" __global__ void clip_chunks(const Chunk* chunks, const float* norm, float maxNorm)
{
    float scale = maxNorm / fmaxf(norm[0], maxNorm);
    if (scale == 1.f) return;
    Chunk c = chunks[blockIdx.x];
    for (int i = threadIdx.x; i < c.count; i += blockDim.x) c.ptr[i] *= scale;
}
