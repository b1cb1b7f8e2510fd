// Softmax cross-entropy over the generator's masked rows, fused with Gumbel-max sampling of the same logits.
// losses[r] = logsumexp(x_r) − x_r[target]; dLogits[r, c] = (softmax(x_r)_c − [c = target])·gradScale, written
// in place of the logits when dLogits aliases them; samples[r] = argmax_c(x_r[c]/τ + Gumbel(seed, offset, r·V + c)),
// exactly gumbel.cu's draw. Rows whose target is ignore_index: loss 0, gradient 0 (a sample is still drawn).
// With valid_rows (a count on the device), rows at or past it are padding of a step whose shapes are fixed (a CUDA
// graph's): they are not read; loss 0, gradient 0, and their "sample" is their target, so scattering the samples
// into the discriminator's input leaves a padding row's position as it was. With scale_by, the gradient scale is
// grad_scale times that device scalar (1/count for such a step).
//
// Why it is shaped this way: the logits are the largest activation of a step (M = 2,432 rows × V = 30,522 = 297 MB
// in F32), so the kernel reads them from device memory once. One block owns a row. Pass 1 reads the row with
// 16-byte loads and keeps, per thread, an online (max, Σexp) pair and the argmax of x/τ; a block reduction gives
// logsumexp and c*, whose full Gumbel score is the first candidate. Pass 2 writes the gradient and draws the noise
// of the columns that can still beat the best candidate (x/τ + the largest possible draw ≥ best): for a peaked row
// that is a handful of columns instead of 30,522 (exact: see GUMBEL_MAX_DRAW in common.cuh). Its re-read of the row
// (122 KB) comes from L2, where pass 1 just put it (a few hundred rows in flight ≈ 30–60 MB against H100's 50 MB
// L2: mostly hits).
// No max pass before the sum: the online pair rescales Σexp when the max grows, one exp per 4-element group.
//
// Counts per element: 4 B read + 4 B written (bf16: 2 + 2). At the Small step's 2,432 × 30,522: 594 MB → 0.20 ms
// at 3.0 TB/s. Arithmetic: one exp in each pass, plus, when sampling, the Gumbel noise (~70 instructions/element,
// ~0.17 ms on an H100 when every column draws: see gumbel.cu), which overlaps the memory time. Predicted
// ≈ 0.20–0.25 ms with sampling on flat logits, ≈ 0.20 ms on peaked ones (the noise mostly skipped).
#include "common.cuh"

namespace sce_detail {

__device__ __forceinline__ float neg_inf() { return -__int_as_float(0x7f800000); }

__device__ __forceinline__ void take_better(float& best, int& index, float score, int candidate) {
    if (score > best || (score == best && candidate < index)) { best = score; index = candidate; }
}

// Merges the online-softmax pair (m2, s2) into (m, s): s is Σexp(x − m) over the elements seen so far.
__device__ __forceinline__ void merge(float& m, float& s, float m2, float s2) {
    const float mm = fmaxf(m, m2);
    if (mm == neg_inf()) return;  // both empty (or all −∞): nothing to add
    s = s * __expf(m - mm) + s2 * __expf(m2 - mm);
    m = mm;
}


template <typename T> __device__ __forceinline__ void store4(T* p, const float (&x)[4]);
template <> __device__ __forceinline__ void store4<float>(float* p, const float (&x)[4]) {
    *reinterpret_cast<float4*>(p) = make_float4(x[0], x[1], x[2], x[3]);
}
template <> __device__ __forceinline__ void store4<bf16_t>(bf16_t* p, const float (&x)[4]) {
    uint2 v;
    v.x = (unsigned)float_to_bf16(x[0]) | ((unsigned)float_to_bf16(x[1]) << 16);
    v.y = (unsigned)float_to_bf16(x[2]) | ((unsigned)float_to_bf16(x[3]) << 16);
    *reinterpret_cast<uint2*>(p) = v;
}


template <typename T, int THREADS>
__device__ void row_kernel(const T* logits, const int* __restrict__ targets, int ignore_index,
                           float* __restrict__ losses, T* dlogits, float grad_scale, int* __restrict__ samples,
                           float inv_temperature, u64 seed, u64 offset, int V, int* errors,
                           const int* __restrict__ valid_rows, const float* __restrict__ scale_by) {
    const int row = blockIdx.x;
    const u64 flat0 = (u64)row * (u64)V;
    const T* x = logits + flat0;
    if (valid_rows != nullptr && row >= *valid_rows) {
        if (threadIdx.x == 0) {
            losses[row] = 0.f;
            if (samples != nullptr) samples[row] = targets[row];
        }
        if (dlogits != nullptr)
            for (int c = threadIdx.x; c < V; c += THREADS) store1(dlogits + flat0 + c, 0.f);
        return;
    }
    if (scale_by != nullptr) grad_scale *= *scale_by;
    const int head = min((int)((4 - (flat0 & 3)) & 3), V);
    const int groups = (V - head) >> 2;
    const int tail0 = head + 4 * groups;
    const int tid = threadIdx.x;
    const int target = targets[row];
    const bool ignored = target == ignore_index;
    const bool sampling = samples != nullptr;
    // The thread's unaligned head or tail element (at most 3 of each per row), or −1.
    const int edge = tid < head ? tid : (tid - head < V - tail0 ? tail0 + tid - head : -1);

    // Pass 1: online (max, Σexp) and, for the sampler, c* = argmax fl(x·invT) (no noise yet).
    float m = neg_inf(), s = 0.f, best = neg_inf();
    int index = 0x7fffffff;
    if (edge >= 0) {
        const float v = load1(x + edge);
        merge(m, s, v, 1.f);
        take_better(best, index, __fmul_rn(v, inv_temperature), edge);
    }
    for (int g = threadIdx.x; g < groups; g += THREADS) {
        const int c0 = head + 4 * g;
        float v[4];
        load4(x + c0, v);
        const float gm = fmaxf(fmaxf(v[0], v[1]), fmaxf(v[2], v[3]));
        if (gm > m) { s *= __expf(m - gm); m = gm; }
        if (m != neg_inf())
            s += __expf(v[0] - m) + __expf(v[1] - m) + __expf(v[2] - m) + __expf(v[3] - m);
        if (sampling) {
            #pragma unroll
            for (int k = 0; k < 4; k++) take_better(best, index, __fmul_rn(v[k], inv_temperature), c0 + k);
        }
    }

    __shared__ float s_m[THREADS / 32], s_s[THREADS / 32], s_best[THREADS / 32];
    __shared__ int s_index[THREADS / 32];
    __shared__ float s_lse, s_best0;
    __shared__ int s_index0;
    for (int o = 16; o > 0; o >>= 1) {
        merge(m, s, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, s, o));
        take_better(best, index, __shfl_xor_sync(0xffffffffu, best, o), __shfl_xor_sync(0xffffffffu, index, o));
    }
    if ((threadIdx.x & 31) == 0) {
        s_m[threadIdx.x >> 5] = m; s_s[threadIdx.x >> 5] = s;
        s_best[threadIdx.x >> 5] = best; s_index[threadIdx.x >> 5] = index;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < THREADS / 32; w++) {
            merge(m, s, s_m[w], s_s[w]);
            take_better(best, index, s_best[w], s_index[w]);
        }
        // c*'s full score is a real candidate: the bound below which pass 2 skips a column's noise.
        s_best0 = index != 0x7fffffff ? __fadd_rn(best, philox_gumbel(philox_bits(seed, offset, flat0 + index))) : neg_inf();
        s_index0 = index;
        const float lse = m + logf(s);
        s_lse = lse;
        // Read the target logit before pass 2 may overwrite the row. An out-of-range target gives a NaN loss and
        // is reported to the host (error code 4), which raises it at the next synchronisation.
        if (ignored) losses[row] = 0.f;
        else if ((unsigned)target >= (unsigned)V) {
            losses[row] = __int_as_float(0x7fc00000);
            report_error(errors, 4, row, target);
        }
        else losses[row] = lse - load1(x + target);
    }
    __syncthreads();
    if (dlogits == nullptr && !sampling) return;

    // Pass 2 (its re-read mostly from L2): the gradient (softmax − onehot)·scale and the Gumbel draws of the
    // columns that can still win, i.e. whose fl(x·invT + GUMBEL_MAX_DRAW) is not below the best score so far;
    // rounding is monotone, so a skipped column could neither win nor tie and the sample is exact.
    // Each thread rewrites exactly the elements it reads, so dlogits aliasing the logits is safe.
    T* d = dlogits == nullptr ? nullptr : dlogits + flat0;
    const float lse = s_lse;
    const float scale = ignored ? 0.f : grad_scale;
    best = s_best0;
    index = s_index0;
    if (edge >= 0) {
        const float v = load1(x + edge);
        if (sampling) {
            const float y = __fmul_rn(v, inv_temperature);
            if (!(__fadd_rn(y, GUMBEL_MAX_DRAW) < best))
                take_better(best, index, __fadd_rn(y, philox_gumbel(philox_bits(seed, offset, flat0 + edge))), edge);
        }
        if (d != nullptr) store1(d + edge, ignored ? 0.f : (__expf(v - lse) - (edge == target ? 1.f : 0.f)) * scale);
    }
    for (int g = threadIdx.x; g < groups; g += THREADS) {
        const int c0 = head + 4 * g;
        float v[4] = {0.f, 0.f, 0.f, 0.f};
        if (sampling || !ignored) load4(x + c0, v);
        if (sampling) {
            float y[4];
            #pragma unroll
            for (int k = 0; k < 4; k++) y[k] = __fmul_rn(v[k], inv_temperature);
            const float top = fmaxf(fmaxf(y[0], y[1]), fmaxf(y[2], y[3]));  // NaN only if all are: not skipped
            if (!(__fadd_rn(top, GUMBEL_MAX_DRAW) < best)) {
                const philox4 r = philox_words(seed, offset, (flat0 + c0) >> 2);
                #pragma unroll
                for (int k = 0; k < 4; k++)
                    take_better(best, index, __fadd_rn(y[k], philox_gumbel(philox_word(r, k))), c0 + k);
            }
        }
        if (d != nullptr) {
            #pragma unroll
            for (int k = 0; k < 4; k++)
                v[k] = ignored ? 0.f : (__expf(v[k] - lse) - (c0 + k == target ? 1.f : 0.f)) * scale;
            store4(d + c0, v);
        }
    }
    if (!sampling) return;
    for (int o = 16; o > 0; o >>= 1)
        take_better(best, index, __shfl_xor_sync(0xffffffffu, best, o), __shfl_xor_sync(0xffffffffu, index, o));
    __syncthreads();  // s_best/s_index were read by thread 0 above
    if ((threadIdx.x & 31) == 0) { s_best[threadIdx.x >> 5] = best; s_index[threadIdx.x >> 5] = index; }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < THREADS / 32; w++) take_better(best, index, s_best[w], s_index[w]);
        samples[row] = index;
    }
}

}  // namespace sce_detail

// grid = M rows, block = 512. logits [M, V]; targets [M] I32; losses [M] F32; dlogits [M, V] or null (may equal
// logits); samples [M] I32 or null; errors: the backend's int[4] error slot. The logits' base address must be
// 16-byte aligned (the launcher checks).
#define SCE_KERNEL(NAME, T)                                                                                      \
    extern "C" __global__ void __launch_bounds__(512) NAME(const T* logits, const int* __restrict__ targets,      \
        int ignore_index, float* __restrict__ losses, T* dlogits, float grad_scale, int* __restrict__ samples,   \
        float inv_temperature, unsigned long long seed, unsigned long long offset,                              \
        const unsigned long long* __restrict__ rng_base, int V, int* errors, const int* __restrict__ valid_rows, \
        const float* __restrict__ scale_by) {                                                                    \
        sce_detail::row_kernel<T, 512>(logits, targets, ignore_index, losses, dlogits, grad_scale, samples,       \
                                        inv_temperature, seed, step_offset(offset, rng_base), V, errors,          \
                                        valid_rows, scale_by);                                                   \
    }
SCE_KERNEL(softmax_cross_entropy_f32, float)
SCE_KERNEL(softmax_cross_entropy_bf16, bf16_t)
