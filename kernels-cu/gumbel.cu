// Gumbel-max sampling: samples[r] = argmax_c(logits[r, c]/τ + g(r, c)), g = −log(−log u) with u from
// Philox(seed, offset, r·V + c); ties go to the lower index; column disallowed[r] (when ≥ 0) is never chosen.
//
// Why it is shaped this way: a row (V = 30,522 for the generator) is one block's work, read once. The Philox
// element index is the flat logits index r·V + c, so four logits at a 16-byte-aligned address (a flat index that
// is a multiple of 4) take the four words of exactly one Philox block: each block is computed once, and the loads
// are 16 bytes wide (8 for bf16). The unaligned head and tail of a row (up to 3 elements each) are done one by one.
// The noise must equal the CPU's bit for bit, so it is built from correctly-rounded operations only (see
// philox_gumbel in common.cuh; no FMA contraction there).
//
// Counts per element: 4 bytes read (2 for bf16); ≈ 25 integer ops of Philox (a quarter block), two portable logs
// (one IEEE division, ~12 float ops each), one compare. At M = 2,432 rows × 30,522: 297 MB read (F32) → 0.10 ms at
// 3 TB/s; ~74 M elements × ~70 instructions ≈ 5 G lane-instructions → ~0.17 ms on an H100's 132×128 lanes at
// 1.7 GHz. So drawing every column's noise is arithmetic-bound; v2 (below) skips the columns that cannot win, which
// for a peaked row is nearly all of them, at the price of a first pass over the row: see README.md.
#include "common.cuh"

namespace gumbel_detail {

// The better of two (score, index) candidates: higher score, then lower index. An empty candidate is (−∞, INT_MAX),
// so a row of −∞ logits still yields its lowest allowed index, as the CPU's sequential scan does.
__device__ __forceinline__ void take_better(float& best, int& index, float score, int candidate) {
    if (score > best || (score == best && candidate < index)) { best = score; index = candidate; }
}




// The block's best of `best`/`index` over all threads, returned to every thread. A total order on (score, index)
// pairs, so the winner does not depend on the reduction order.
template <int THREADS>
__device__ __forceinline__ void block_best(float& best, int& index, float* s_best, int* s_index) {
    for (int o = 16; o > 0; o >>= 1)
        take_better(best, index, __shfl_xor_sync(0xffffffffu, best, o), __shfl_xor_sync(0xffffffffu, index, o));
    __syncthreads();  // the scratch may still be read by a previous call
    if ((threadIdx.x & 31) == 0) { s_best[threadIdx.x >> 5] = best; s_index[threadIdx.x >> 5] = index; }
    __syncthreads();
    best = s_best[0]; index = s_index[0];
    for (int w = 1; w < THREADS / 32; w++) take_better(best, index, s_best[w], s_index[w]);
}

// Pass 1 finds c* = argmax fl(x·invT) (lower index on ties, never `skip`) and its full score, a real candidate:
// best₀ = fl(fl(x[c*]·invT) + g(c*)). Pass 2 draws noise only for 4-column groups whose largest possible score
// fl(max fl(x·invT) + GUMBEL_MAX_DRAW) is not below the thread's best (≥ best₀): the others cannot win or tie.
// With a peaked row (a trained generator: top logit 15+ above the bulk) almost every group is skipped; with flat
// logits none is, and pass 1 is pure extra reading (its data then comes again from L2 in pass 2).
template <typename T, int THREADS>
__device__ void sample_row(const T* __restrict__ logits, float inv_temperature, u64 seed, u64 offset,
                           int skip, int* __restrict__ samples, int row, int V) {
    const u64 flat0 = (u64)row * (u64)V;
    const T* x = logits + flat0;
    const int head = min((int)((4 - (flat0 & 3)) & 3), V);  // elements before the first 4-aligned flat index
    const int groups = (V - head) >> 2;
    const int tail0 = head + 4 * groups;
    __shared__ float s_best[THREADS / 32];
    __shared__ int s_index[THREADS / 32];

    float best = -__int_as_float(0x7f800000);
    int index = 0x7fffffff;
    for (int c = threadIdx.x; c < head; c += THREADS)
        if (c != skip) take_better(best, index, __fmul_rn(load1(x + c), inv_temperature), c);
    for (int g = threadIdx.x; g < groups; g += THREADS) {
        const int c0 = head + 4 * g;
        float v[4];
        load4(x + c0, v);
        #pragma unroll
        for (int k = 0; k < 4; k++)
            if (c0 + k != skip) take_better(best, index, __fmul_rn(v[k], inv_temperature), c0 + k);
    }
    for (int c = tail0 + threadIdx.x; c < V; c += THREADS)
        if (c != skip) take_better(best, index, __fmul_rn(load1(x + c), inv_temperature), c);
    block_best<THREADS>(best, index, s_best, s_index);
    if (index != 0x7fffffff)
        best = __fadd_rn(best, philox_gumbel(philox_bits(seed, offset, flat0 + index)));
    else
        best = -__int_as_float(0x7f800000);

    for (int c = threadIdx.x; c < head; c += THREADS) {
        const float y = __fmul_rn(load1(x + c), inv_temperature);
        if (c != skip && !(__fadd_rn(y, GUMBEL_MAX_DRAW) < best))
            take_better(best, index, __fadd_rn(y, philox_gumbel(philox_bits(seed, offset, flat0 + c))), c);
    }
    for (int g = threadIdx.x; g < groups; g += THREADS) {
        const int c0 = head + 4 * g;
        float v[4];
        load4(x + c0, v);
        #pragma unroll
        for (int k = 0; k < 4; k++) v[k] = __fmul_rn(v[k], inv_temperature);
        const float top = fmaxf(fmaxf(v[0], v[1]), fmaxf(v[2], v[3]));  // NaN only if all are: then not skipped
        if (__fadd_rn(top, GUMBEL_MAX_DRAW) < best) continue;
        const philox4 r = philox_words(seed, offset, (flat0 + c0) >> 2);
        #pragma unroll
        for (int k = 0; k < 4; k++)
            if (c0 + k != skip) take_better(best, index, __fadd_rn(v[k], philox_gumbel(philox_word(r, k))), c0 + k);
    }
    for (int c = tail0 + threadIdx.x; c < V; c += THREADS) {
        const float y = __fmul_rn(load1(x + c), inv_temperature);
        if (c != skip && !(__fadd_rn(y, GUMBEL_MAX_DRAW) < best))
            take_better(best, index, __fadd_rn(y, philox_gumbel(philox_bits(seed, offset, flat0 + c))), c);
    }
    block_best<THREADS>(best, index, s_best, s_index);
    if (threadIdx.x == 0) samples[row] = index;
}

}  // namespace gumbel_detail

// grid = rows, block = 512. logits [R, V]; disallowed [R] I32 or null; samples [R] I32.
#define GUMBEL_KERNEL(NAME, T)                                                                                   \
    extern "C" __global__ void __launch_bounds__(512) NAME(const T* __restrict__ logits, float inv_temperature,   \
        unsigned long long seed, unsigned long long offset, const unsigned long long* __restrict__ rng_base,                  \
        const int* __restrict__ disallowed,                                                                      \
        int* __restrict__ samples, int V) {                                                                      \
        const int row = blockIdx.x;                                                                              \
        const int skip = disallowed == nullptr ? -1 : disallowed[row];                                           \
        gumbel_detail::sample_row<T, 512>(logits, inv_temperature, seed, step_offset(offset, rng_base), skip,     \
                                          samples, row, V);                                              \
    }
GUMBEL_KERNEL(gumbel_sample_f32, float)
GUMBEL_KERNEL(gumbel_sample_bf16, bf16_t)
