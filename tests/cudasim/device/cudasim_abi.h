// The contract between libcudasim.so and each kernel .so its NVRTC builds. Both sides include this one header, so a
// change here changes the simulated NVRTC's version number and with it every kernel-cache key (nvrtc.cpp).
//
// A kernel .so exports three C functions (cudasim.h's CUDASIM_MODULE defines them):
//   const cudasim_kernel* cudasim_kernels(int* count)     its extern "C" __global__ functions
//   void cudasim_bind(const cudasim_runtime* runtime)     called once after dlopen, before any launch
//   void* cudasim_touch_shared()                          allocates the caller's thread-local (shared) block
// and reads everything about the running launch through the runtime table: the scheduler lives in the library,
// the kernels only call it.
#pragma once
#include <cstddef>

extern "C" {

struct cudasim_dim3 { unsigned x, y, z; };

// The part of one simulated thread that device code reads (threadIdx, the lane).
struct cudasim_thread { cudasim_dim3 idx; unsigned lane; };

enum cudasim_warp_op { CUDASIM_SHFL = 1, CUDASIM_BALLOT, CUDASIM_ANY, CUDASIM_ALL, CUDASIM_SYNCWARP };

struct cudasim_runtime {
    cudasim_thread* const* current;           // the running thread
    const cudasim_dim3* block_idx;
    const cudasim_dim3* block_dim;
    const cudasim_dim3* grid_dim;
    void* const* dynamic_shared;              // this launch's extern-shared buffer (0xFF-poisoned per block)
    // Each call below is a point where the calling thread may yield to the others. `site` is "file:line".
    void (*syncthreads)(const char* site);
    // Shuffle (value of lane `src`; src < 0: the caller's own), ballot/any/all (value = predicate), syncwarp.
    unsigned long long (*warp)(int op, unsigned mask, unsigned long long value, int src, const char* site);
    // mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 for the calling lane's fragments: d += a·b.
    void (*mma_bf16)(float* d, const unsigned* a, unsigned b0, unsigned b1, const char* site);
    unsigned (*active_mask)();
    [[noreturn]] void (*trap)(const char* what, const char* site);
};

struct cudasim_kernel {
    const char* name;
    int max_threads;                          // from __launch_bounds__, else 1024
    int param_count;
    const size_t* param_sizes;
    void (*run)(void* const* params);         // the body of one thread, parameters as cuLaunchKernel passed them
};

}
