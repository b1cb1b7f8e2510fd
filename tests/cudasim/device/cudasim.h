// cudasim.h: force-included (g++ -include) before every source the simulated NVRTC compiles. It turns CUDA C++
// device code into plain C++ that runs on the library's fibers (src/scheduler.cpp): one fiber per GPU thread,
// switched at barriers and warp collectives only, so everything between two of those runs without interruption.
//
// - ELECTRA_CUDASIM selects the simulator's branch where a kernel has inline PTX or dynamic shared memory
//   (kernels-cu/common.cuh, attention_mma.cu); the simulated NVRTC refuses any inline PTX left outside one.
// - __shared__ is thread_local: the library poisons the kernel .so's whole thread-local block (0xFF: NaN floats,
//   -1 ints) before each block, as a GPU's shared memory starts as garbage. So a kernel .so must have no other
//   thread_local variables.
// - Under __CUDASIM_SCAN (nvrtc.cpp's first pass, preprocessing only) the CUDA keywords become markers that the
//   scan reads: which functions are kernels, their __launch_bounds__, and what it must refuse.
#pragma once
#define ELECTRA_CUDASIM 1
#define __CUDACC__ 1
#define __CUDACC_RTC__ 1
#ifndef __CUDA_ARCH__
#define __CUDA_ARCH__ 900
#endif
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __align__(n) __attribute__((aligned(n)))
#define __constant__ static

#ifdef __CUDASIM_SCAN
#define __global__ __cudasim_global
#define __launch_bounds__(...) __cudasim_launch_bounds(__VA_ARGS__)
#define __shared__ __cudasim_shared
#else
#define __global__
#define __launch_bounds__(...)
#define __shared__ static thread_local

#include <cmath>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <utility>
#include "cudasim_abi.h"

// Set by cudasim_bind when the library loads the module.
inline const cudasim_runtime* __cudasim_rt = nullptr;

#define CUDASIM_STR2(x) #x
#define CUDASIM_STR(x) CUDASIM_STR2(x)
#define CUDASIM_SITE __FILE__ ":" CUDASIM_STR(__LINE__)

// ---- built-in variables and vector types --------------------------------------------------------------------------
typedef cudasim_dim3 dim3;
typedef cudasim_dim3 uint3;
#define threadIdx (static_cast<const cudasim_dim3&>((*__cudasim_rt->current)->idx))
#define blockIdx (*__cudasim_rt->block_idx)
#define blockDim (*__cudasim_rt->block_dim)
#define gridDim (*__cudasim_rt->grid_dim)
#define warpSize 32

#define CUDASIM_VECTOR2(T, N, A) struct __attribute__((aligned(A))) N##2 { T x, y; }; \
    inline N##2 make_##N##2(T x, T y) { return N##2{x, y}; }
#define CUDASIM_VECTOR4(T, N, A) struct __attribute__((aligned(A))) N##4 { T x, y, z, w; }; \
    inline N##4 make_##N##4(T x, T y, T z, T w) { return N##4{x, y, z, w}; }
CUDASIM_VECTOR2(float, float, 8) CUDASIM_VECTOR4(float, float, 16)
CUDASIM_VECTOR2(int, int, 8) CUDASIM_VECTOR4(int, int, 16)
CUDASIM_VECTOR2(unsigned, uint, 8) CUDASIM_VECTOR4(unsigned, uint, 16)
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return uint3{x, y, z}; }

// ---- barriers and warp collectives: each names its source line, so a report can say where ----------------------------
namespace cudasim_device {
template <class T> inline unsigned long long bits(T v) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffle of a type wider than 8 bytes");
    unsigned long long r = 0;
    std::memcpy(&r, &v, sizeof(T));
    return r;
}
template <class T> inline T shuffle(const char* site, unsigned mask, T v, int src) {
    unsigned long long r = __cudasim_rt->warp(CUDASIM_SHFL, mask, bits(v), src, site);
    T out;
    std::memcpy(&out, &r, sizeof(T));
    return out;
}
inline int lane() { return (int)(*__cudasim_rt->current)->lane; }
// The source lane of each shuffle, as CUDA defines it for sub-warp `width`s; -1 = the caller keeps its own value.
template <class T> inline T shfl_idx(const char* site, unsigned mask, T v, int src, int width = 32) {
    return shuffle(site, mask, v, (lane() & ~(width - 1)) + (src & (width - 1)));
}
template <class T> inline T shfl_xor(const char* site, unsigned mask, T v, int lane_mask, int width = 32) {
    int s = lane() ^ lane_mask;
    return shuffle(site, mask, v, s / width > lane() / width || s > 31 ? -1 : s);
}
template <class T> inline T shfl_down(const char* site, unsigned mask, T v, unsigned delta, int width = 32) {
    return shuffle(site, mask, v, (lane() & (width - 1)) + (int)delta >= width ? -1 : lane() + (int)delta);
}
template <class T> inline T shfl_up(const char* site, unsigned mask, T v, unsigned delta, int width = 32) {
    return shuffle(site, mask, v, (lane() & (width - 1)) - (int)delta < 0 ? -1 : lane() - (int)delta);
}
inline void syncwarp(const char* site, unsigned mask = 0xffffffffu) { __cudasim_rt->warp(CUDASIM_SYNCWARP, mask, 0, -1, site); }
inline unsigned vote(const char* site, int op, unsigned mask, int pred) {
    return (unsigned)__cudasim_rt->warp(op, mask, pred != 0, -1, site);
}
inline void mma_bf16(const char* site, float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    __cudasim_rt->mma_bf16(d, a, b0, b1, site);
}
}  // namespace cudasim_device

#define __syncthreads() __cudasim_rt->syncthreads(CUDASIM_SITE)
#define __syncwarp(...) ::cudasim_device::syncwarp(CUDASIM_SITE, ##__VA_ARGS__)
#define __shfl_sync(...) ::cudasim_device::shfl_idx(CUDASIM_SITE, __VA_ARGS__)
#define __shfl_xor_sync(...) ::cudasim_device::shfl_xor(CUDASIM_SITE, __VA_ARGS__)
#define __shfl_down_sync(...) ::cudasim_device::shfl_down(CUDASIM_SITE, __VA_ARGS__)
#define __shfl_up_sync(...) ::cudasim_device::shfl_up(CUDASIM_SITE, __VA_ARGS__)
#define __ballot_sync(mask, pred) ::cudasim_device::vote(CUDASIM_SITE, CUDASIM_BALLOT, mask, pred)
#define __any_sync(mask, pred) (int)::cudasim_device::vote(CUDASIM_SITE, CUDASIM_ANY, mask, pred)
#define __all_sync(mask, pred) (int)::cudasim_device::vote(CUDASIM_SITE, CUDASIM_ALL, mask, pred)
#define __activemask() __cudasim_rt->active_mask()
#define __trap() __cudasim_rt->trap("__trap()", CUDASIM_SITE)
// Fibers never run at the same time, so a fence has nothing to order.
inline void __threadfence() {}
inline void __threadfence_block() {}

// ---- what the kernels' #if ELECTRA_CUDASIM branches call instead of inline PTX ----------------------------------------
// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {d}, {a}, {b0, b1}, {d}: one warp-wide tensor-core product.
#define cudasim_mma_m16n8k16_bf16(d, a, b0, b1) ::cudasim_device::mma_bf16(CUDASIM_SITE, d, a, b0, b1)

// cvt.rn.bf16x2.f32 d, hi, lo: hi into the upper half, lo into the lower, each rounded to nearest even; a NaN
// becomes the canonical 0x7FFF as the instruction gives.
inline unsigned cudasim_bf16_rn(float f) {
    unsigned u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fffu;
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}
inline unsigned cudasim_cvt_rn_bf16x2_f32(float hi, float lo) { return cudasim_bf16_rn(hi) << 16 | cudasim_bf16_rn(lo); }

// The launch's dynamic shared memory (extern __shared__ on a GPU).
inline void* cudasim_dynamic_shared() { return *__cudasim_rt->dynamic_shared; }

// ---- atomics: no fiber runs while another is between two collectives, so a plain read-modify-write is atomic ----------
template <class T, class U> inline T atomicAdd(T* p, U v) { T old = *p; *p = old + (T)v; return old; }
template <class T, class U> inline T atomicSub(T* p, U v) { T old = *p; *p = old - (T)v; return old; }
template <class T, class U> inline T atomicExch(T* p, U v) { T old = *p; *p = (T)v; return old; }
template <class T, class U> inline T atomicMax(T* p, U v) { T old = *p; if ((T)v > old) *p = (T)v; return old; }
template <class T, class U> inline T atomicMin(T* p, U v) { T old = *p; if ((T)v < old) *p = (T)v; return old; }
template <class T, class U> inline T atomicOr(T* p, U v) { T old = *p; *p = old | (T)v; return old; }
template <class T, class U> inline T atomicAnd(T* p, U v) { T old = *p; *p = old & (T)v; return old; }
template <class T, class U, class V> inline T atomicCAS(T* p, U compare, V v) {
    T old = *p;
    if (old == (T)compare) *p = (T)v;
    return old;
}

// ---- math intrinsics -------------------------------------------------------------------------------------------------
// An _rn intrinsic is one IEEE operation that must not be contracted into an FMA, even under CUDASIM_FMAD=1: the empty
// asm makes each operand and result opaque to the optimiser.
inline float cudasim_pin(float x) { asm volatile("" : "+x"(x)); return x; }
inline float __fadd_rn(float a, float b) { return cudasim_pin(cudasim_pin(a) + cudasim_pin(b)); }
inline float __fsub_rn(float a, float b) { return cudasim_pin(cudasim_pin(a) - cudasim_pin(b)); }
inline float __fmul_rn(float a, float b) { return cudasim_pin(cudasim_pin(a) * cudasim_pin(b)); }
inline float __fdiv_rn(float a, float b) { return cudasim_pin(cudasim_pin(a) / cudasim_pin(b)); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
// ex2.approx(x·log2 e), as the GPU computes it (the simulator's exp2 is exact where the GPU's is within 2 ulp).
inline float __expf(float x) { return exp2f(__fmul_rn(x, 1.4426950408889634f)); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.f / sqrtf(x); }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline float __int_as_float(int u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline int __float_as_int(float f) { int u; std::memcpy(&u, &f, 4); return u; }
inline float __uint2float_rn(unsigned u) { return (float)u; }
inline float __int2float_rn(int i) { return (float)i; }
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
template <class T> inline T __ldg(const T* p) { return *p; }
template <class A, class B> inline auto min(A a, B b) {
    using C = std::common_type_t<A, B>;
    if constexpr (std::is_floating_point_v<C>) return (C)std::fmin((C)a, (C)b);
    else return (C)a < (C)b ? (C)a : (C)b;
}
template <class A, class B> inline auto max(A a, B b) {
    using C = std::common_type_t<A, B>;
    if constexpr (std::is_floating_point_v<C>) return (C)std::fmax((C)a, (C)b);
    else return (C)a > (C)b ? (C)a : (C)b;
}

// ---- UBSan's checks (nvrtc.cpp compiles with -fsanitize=bounds,alignment,integer-divide-by-zero) call these -----------
namespace cudasim_device {
struct UbsanLocation { const char* file; unsigned line, column; };
struct UbsanType { unsigned short kind, info; char name[1]; };
struct UbsanBounds { UbsanLocation at; const UbsanType* array; const UbsanType* index; };
struct UbsanAccess { UbsanLocation at; const UbsanType* type; unsigned char log_alignment, kind; };
struct UbsanDivision { UbsanLocation at; const UbsanType* type; };
[[noreturn]] inline void ubsan(const UbsanLocation& at, const char* what) {
    char site[512];
    snprintf(site, sizeof site, "%s:%u", at.file, at.line);
    __cudasim_rt->trap(what, site);
}
}  // namespace cudasim_device
#define CUDASIM_UBSAN_HANDLER(name, ...) extern "C" __attribute__((used, noinline, visibility("hidden"))) void name(__VA_ARGS__)
CUDASIM_UBSAN_HANDLER(__ubsan_handle_out_of_bounds_abort, cudasim_device::UbsanBounds* d, unsigned long index) {
    char what[300];
    snprintf(what, sizeof what, "index %ld out of bounds for type %s", (long)index, d->array->name);
    cudasim_device::ubsan(d->at, what);
}
CUDASIM_UBSAN_HANDLER(__ubsan_handle_type_mismatch_v1_abort, cudasim_device::UbsanAccess* d, unsigned long address) {
    static const char* const kinds[] = {"load of", "store to", "reference to", "member access within", "member call on"};
    char what[300];
    snprintf(what, sizeof what, "%s %s address 0x%lx for type %s, which requires %u-byte alignment", d->kind < 5 ? kinds[d->kind] : "access to",
             address ? "misaligned" : "null", address, d->type->name, 1u << d->log_alignment);
    cudasim_device::ubsan(d->at, what);
}
CUDASIM_UBSAN_HANDLER(__ubsan_handle_divrem_overflow_abort, cudasim_device::UbsanDivision* d, unsigned long, unsigned long) {
    cudasim_device::ubsan(d->at, "integer division by zero (or INT_MIN / -1)");
}

// ---- the module's exports (nvrtc.cpp generates one CUDASIM_MODULE after including the kernel source) -----------------
namespace cudasim_device {
template <class> struct Signature;
template <class... A> struct Signature<void (*)(A...)> {
    static constexpr int count = sizeof...(A);
    static constexpr size_t sizes[sizeof...(A) + 1] = {sizeof(std::decay_t<A>)..., 0};
    // Each thread calls the kernel with its own copies of the parameters, as on a GPU.
    template <auto K, size_t... I> static void call(void* const* p, std::index_sequence<I...>) {
        K(*static_cast<const std::decay_t<A>*>(p[I])...);
    }
};
template <auto K> void run(void* const* p) {
    using S = Signature<decltype(K)>;
    S::template call<K>(p, std::make_index_sequence<S::count>{});
}
}  // namespace cudasim_device

#define CUDASIM_KERNEL(fn, bound) {#fn, (int)(bound), ::cudasim_device::Signature<decltype(&fn)>::count, \
    ::cudasim_device::Signature<decltype(&fn)>::sizes, &::cudasim_device::run<&fn>},
#define CUDASIM_MODULE(...)                                                                                        \
    static const cudasim_kernel cudasim_table[] = {__VA_ARGS__{nullptr, 0, 0, nullptr, nullptr}};                 \
    extern "C" __attribute__((visibility("default"))) const cudasim_kernel* cudasim_kernels(int* count) {        \
        *count = (int)(sizeof cudasim_table / sizeof cudasim_table[0]) - 1;                                       \
        return cudasim_table;                                                                                     \
    }                                                                                                             \
    extern "C" __attribute__((visibility("default"))) void cudasim_bind(const cudasim_runtime* r) { __cudasim_rt = r; } \
    /* makes the calling OS thread's copy of the module's thread-local (shared-memory) block exist */                \
    extern "C" __attribute__((visibility("default"))) void* cudasim_touch_shared() {                             \
        static thread_local char anchor;                                                                          \
        return &anchor;                                                                                           \
    }
#endif  // __CUDASIM_SCAN
