// One kernel per class of bug the simulator must report (naming kernel, block and thread), and two kernels that
// are right, which must give the same bits under every execution order. The bug sits in block 1 where the grid has
// two blocks, so a report that names the wrong block fails its test. Run by selftest.cpp (selftest/run.sh) and by
// tests/Electra.Tests/Cuda/CudasimTests.cs; each case's launch and expected report are listed there.
#include "common.cuh"

// Writes one float past the end of y (n = y's length, a multiple of 64): the guard page after the allocation.
extern "C" __global__ void oob_global_write(float* y, int n) {
    if (blockIdx.x == 1) y[n + threadIdx.x] = 1.f;
}

// s[32] for thread 31: UBSan's bounds check.
extern "C" __global__ void oob_shared_static(float* y, int k) {
    __shared__ float s[32];
    if (blockIdx.x == 1) s[threadIdx.x + k] = 1.f;
    __syncthreads();
    y[threadIdx.x] = s[threadIdx.x];
}

// d[n] for thread 0, n = the floats of dynamic shared memory: the guard page after the launch's buffer.
extern "C" __global__ void oob_shared_dynamic(float* y, int n) {
    DYNAMIC_SHARED(float, d);
    if (blockIdx.x == 1) d[n - (int)threadIdx.x] = 2.f;
    y[threadIdx.x] = d[threadIdx.x];
}

// A float4 load from a 4-byte-aligned address: UBSan's alignment check.
extern "C" __global__ void misaligned_load(const float* x, float* y) {
    const float* p = blockIdx.x == 1 ? x + 1 : x;
    float4 v = *reinterpret_cast<const float4*>(p);
    y[threadIdx.x] = v.x;
}

// Threads 32..63 return before the barrier the others wait at.
extern "C" __global__ void barrier_after_exit(float* y) {
    __shared__ float s[64];
    if (blockIdx.x == 1 && threadIdx.x >= 32) return;
    s[threadIdx.x] = 1.f;
    __syncthreads();
    y[threadIdx.x] = s[31 - threadIdx.x % 32];
}

// The two halves of the block wait at different __syncthreads.
extern "C" __global__ void barrier_two_sites(float* y) {
    __shared__ float s[64];
    s[threadIdx.x] = 1.f;
    if (blockIdx.x == 1 && threadIdx.x < 32) __syncthreads();
    else __syncthreads();
    y[threadIdx.x] = s[63 - threadIdx.x];
}

// Lane 5 returns; the rest shuffle with a full mask that still names it.
extern "C" __global__ void shuffle_exited_lane(float* y) {
    if (blockIdx.x == 1 && threadIdx.x == 5) return;
    y[threadIdx.x] = __shfl_xor_sync(FULL_MASK, (float)threadIdx.x, 1);
}

__device__ __forceinline__ void mma_bf16(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
#ifdef ELECTRA_CUDASIM
    cudasim_mma_m16n8k16_bf16(d, a, b0, b1);
#else
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

// Lane 3 returns before the warp-wide mma.
extern "C" __global__ void mma_exited_lane(float* y) {
    if (blockIdx.x == 1 && threadIdx.x == 3) return;
    float d[4] = {0.f, 0.f, 0.f, 0.f};
    const unsigned one = 0x3F803F80u;  // two bf16 ones
    const unsigned a[4] = {one, one, one, one};
    mma_bf16(d, a, one, one);
    y[threadIdx.x] = d[0];
}

// Lanes 0..15 shuffle with a full mask while lanes 16..31 wait at a barrier: neither can finish.
extern "C" __global__ void deadlock(float* y) {
    float v = (float)threadIdx.x;
    if (blockIdx.x == 1 && threadIdx.x < 16) v = __shfl_sync(FULL_MASK, v, 0);
    else __syncthreads();
    y[threadIdx.x] = v;
}

// For the launch-limit cases: any block above 64 threads breaks the promise.
extern "C" __global__ void __launch_bounds__(64) bounded(float* y) { y[threadIdx.x] = 0.f; }

// Reads its neighbour's shared value without a barrier: the result depends on which thread ran first.
extern "C" __global__ void racy(float* y) {
    __shared__ float s[64];
    s[threadIdx.x] = (float)threadIdx.x;
    y[blockIdx.x * 64 + threadIdx.x] = s[(threadIdx.x + 1) % 64];
}

// Barriers, shared memory, shuffles, a block reduction, dynamic shared memory and an atomic: the same bits under
// every order of threads and blocks.
extern "C" __global__ void correct(const float* x, float* y, int* count) {
    __shared__ float scratch[32];
    __shared__ float s[64];
    DYNAMIC_SHARED(float, d);
    const int i = blockIdx.x * 64 + threadIdx.x;
    s[threadIdx.x] = x[i];
    d[threadIdx.x] = 2.f * x[i];
    __syncthreads();
    float v = s[(threadIdx.x + 1) % 64] + d[63 - threadIdx.x];
    v += __shfl_down_sync(FULL_MASK, v, 1);
    float total = block_sum(v, scratch);
    y[i] = v + total;
    if (threadIdx.x == 0) atomicAdd(count, 1);
}
