// Shared device helpers for every kernel in kernels-cu/. No toolkit header is included on purpose: the kernels
// compile under NVRTC 11.8 (Debian, CI) and 12/13 (GPU hosts) with nothing but the compiler's built-ins, so bf16
// is a raw 16-bit pattern here and every conversion is spelled out.
#pragma once

typedef unsigned short bf16_t;
typedef long long i64;
typedef unsigned long long u64;

#define WARP_SIZE 32
#define FULL_MASK 0xffffffffu

// ---- bf16 <-> float --------------------------------------------------------------------------------------------
// Same rounding as Electra.BFloat16: nearest-even on the top half of the float; NaN stays NaN.

__device__ __forceinline__ float bf16_to_float(bf16_t h) { return __uint_as_float(((unsigned)h) << 16); }

__device__ __forceinline__ bf16_t float_to_bf16(float f)
{
    unsigned bits = __float_as_uint(f);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (bf16_t)((bits >> 16) | 0x0040u);
    unsigned rounding = 0x7fffu + ((bits >> 16) & 1u);
    return (bf16_t)((bits + rounding) >> 16);
}

// ---- typed element access ---------------------------------------------------------------------------------------
// Kernels that take F32 or BF16 storage are templates over the element type; these read and write one element,
// or four consecutive ones (16 bytes of F32, 8 of BF16: the caller guarantees the alignment), as floats.

template <typename T> __device__ __forceinline__ float load1(const T* p);
template <> __device__ __forceinline__ float load1<float>(const float* p) { return *p; }
template <> __device__ __forceinline__ float load1<bf16_t>(const bf16_t* p) { return bf16_to_float(*p); }

template <typename T> __device__ __forceinline__ void store1(T* p, float v);
template <> __device__ __forceinline__ void store1<float>(float* p, float v) { *p = v; }
template <> __device__ __forceinline__ void store1<bf16_t>(bf16_t* p, float v) { *p = float_to_bf16(v); }

// v as it reads back after store1: what a value computed in F32 is once stored as T.
template <typename T> __device__ __forceinline__ float rounded(float v);
template <> __device__ __forceinline__ float rounded<float>(float v) { return v; }
template <> __device__ __forceinline__ float rounded<bf16_t>(float v) { return bf16_to_float(float_to_bf16(v)); }

template <typename T> __device__ __forceinline__ void load4(const T* p, float (&x)[4]);
template <> __device__ __forceinline__ void load4<float>(const float* p, float (&x)[4])
{
    float4 v = *reinterpret_cast<const float4*>(p);
    x[0] = v.x; x[1] = v.y; x[2] = v.z; x[3] = v.w;
}
template <> __device__ __forceinline__ void load4<bf16_t>(const bf16_t* p, float (&x)[4])
{
    uint2 v = *reinterpret_cast<const uint2*>(p);
    x[0] = __uint_as_float(v.x << 16); x[1] = __uint_as_float(v.x & 0xFFFF0000u);
    x[2] = __uint_as_float(v.y << 16); x[3] = __uint_as_float(v.y & 0xFFFF0000u);
}

// ---- reductions --------------------------------------------------------------------------------------------------
// Fixed butterfly orders: the same inputs always give the same bits (no atomics in any reduction).

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = WARP_SIZE / 2; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int o = WARP_SIZE / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
    return v;
}

__device__ __forceinline__ double warp_sum_double(double v)
{
    for (int o = WARP_SIZE / 2; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

// Block-wide sum returned to every thread. `scratch` holds at least 32 floats; blockDim.x a multiple of 32.
__device__ __forceinline__ float block_sum(float v, float* scratch)
{
    int lane = threadIdx.x % WARP_SIZE, warp = threadIdx.x / WARP_SIZE, warps = blockDim.x / WARP_SIZE;
    v = warp_sum(v);
    __syncthreads(); // scratch may still be read by a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : 0.f;
    return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v, float* scratch)
{
    int lane = threadIdx.x % WARP_SIZE, warp = threadIdx.x / WARP_SIZE, warps = blockDim.x / WARP_SIZE;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : -__int_as_float(0x7f800000);
    return warp_max(v);
}

__device__ __forceinline__ double block_sum_double(double v, double* scratch)
{
    int lane = threadIdx.x % WARP_SIZE, warp = threadIdx.x / WARP_SIZE, warps = blockDim.x / WARP_SIZE;
    v = warp_sum_double(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : 0.0;
    return warp_sum_double(v);
}

// ---- Philox4x32-10 -------------------------------------------------------------------------------------------------
// The stream of Electra.Philox, bit for bit: key = seed; counter = (index/4 as 64 bits, offset as 64 bits);
// element `index` takes word index % 4 of its block.

struct philox4 { unsigned x, y, z, w; };

__device__ __forceinline__ philox4 philox_block(unsigned c0, unsigned c1, unsigned c2, unsigned c3, unsigned k0, unsigned k1)
{
    const unsigned M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
#pragma unroll
    for (int round = 0; round < 10; round++)
    {
        if (round > 0) { k0 += W0; k1 += W1; }
        unsigned hi0 = __umulhi(M0, c0), lo0 = M0 * c0;
        unsigned hi1 = __umulhi(M1, c2), lo1 = M1 * c2;
        unsigned n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    }
    philox4 r = { c0, c1, c2, c3 };
    return r;
}

// A random op's stream offset: the one passed, plus the step's base when the launch is part of a CUDA graph, whose
// replays must draw each step's numbers with the same launch arguments (the base lives in the backend's step state;
// eager launches pass null and the full offset). Kernels near their register limit (layernorm, attention_mma) call it
// where they draw rather than once at entry, which left the sum live across the kernel and spilled (ptxas report).
__device__ __forceinline__ u64 step_offset(u64 offset, const u64* rng_base)
{
    if (rng_base == nullptr) return offset;
    return offset + *rng_base;
}

// The four words of block `block` (elements 4·block … 4·block+3) in stream (seed, offset).
__device__ __forceinline__ philox4 philox_words(u64 seed, u64 offset, u64 block)
{
    return philox_block((unsigned)block, (unsigned)(block >> 32), (unsigned)offset, (unsigned)(offset >> 32),
                        (unsigned)seed, (unsigned)(seed >> 32));
}

__device__ __forceinline__ unsigned philox_word(philox4 r, unsigned w)
{
    return w == 0 ? r.x : w == 1 ? r.y : w == 2 ? r.z : r.w;
}

// The 32 random bits of element `index` in stream (seed, offset).
__device__ __forceinline__ unsigned philox_bits(u64 seed, u64 offset, u64 index)
{
    return philox_word(philox_words(seed, offset, index >> 2), (unsigned)(index & 3));
}

// Uniform in [0, 1) with 24 bits (exact, so no rounding mode matters).
__device__ __forceinline__ float philox_uniform(unsigned bits) { return __uint2float_rn(bits >> 8) * 0x1p-24f; }

// Uniform in (0, 1) with 23 bits, as Electra.Philox.UniformOpen: k + ½ is exact for k < 2^23, so the value never
// rounds up to 1.
__device__ __forceinline__ float philox_uniform_open(unsigned bits)
{
    return __fmul_rn(__fadd_rn(__uint2float_rn(bits >> 9), 0.5f), 0x1p-23f);
}

// Electra.Philox.PortableLog: basic IEEE operations in the C# order, each explicitly rounded (no FMA contraction),
// so the result is bit-identical to the CPU's.
__device__ __forceinline__ float portable_log(float x)
{
    unsigned bits = __float_as_uint(x);
    int e = (int)((bits >> 23) & 0xFFu) - 127;
    float m = __uint_as_float((bits & 0x007FFFFFu) | 0x3F800000u);
    if (m > 0x1.6a09e6p+0f) { m = __fmul_rn(m, 0.5f); e += 1; }
    float s = __fdiv_rn(__fadd_rn(m, -1.f), __fadd_rn(m, 1.f));
    float s2 = __fmul_rn(s, s);
    float poly = 0x1.c71c72p-3f;                               // 2/9
    poly = __fadd_rn(__fmul_rn(poly, s2), 0x1.24924ap-2f);     // 2/7
    poly = __fadd_rn(__fmul_rn(poly, s2), 0x1.99999ap-2f);     // 2/5
    poly = __fadd_rn(__fmul_rn(poly, s2), 0x1.555556p-1f);     // 2/3
    poly = __fadd_rn(__fmul_rn(poly, s2), 2.f);
    return __fadd_rn(__fmul_rn((float)e, 0x1.62e430p-1f), __fmul_rn(s, poly)); // ln 2
}

// The largest value philox_gumbel can return (over all 2^23 uniforms; GumbelBoundTests recomputes it from the CPU
// code). Sampling kernels skip the noise of a column whose fl(x/τ + GUMBEL_MAX_DRAW) is below the best score so far:
// rounding is monotone, so such a column cannot win or tie, and the result stays bit-identical.
#define GUMBEL_MAX_DRAW 16.635532f  // bits 0x41851592, the draw of the top uniform (1 − 2^-24)

// A standard Gumbel draw −log(−log u), u = philox_uniform_open(bits).
__device__ __forceinline__ float philox_gumbel(unsigned bits)
{
    return -portable_log(-portable_log(philox_uniform_open(bits)));
}

// ---- launch helpers ----------------------------------------------------------------------------------------------

// Dynamic shared memory (its size is a launch parameter). The CUDA simulator (tests/cudasim, which defines
// ELECTRA_CUDASIM) runs kernels as C++, where an extern array cannot alias the launch's buffer: there the name is
// a pointer to it.
#ifdef ELECTRA_CUDASIM
#define DYNAMIC_SHARED(T, name) T* const name = static_cast<T*>(cudasim_dynamic_shared())
#else
#define DYNAMIC_SHARED(T, name) extern __shared__ T name[]
#endif

// Grid-stride loop over [0, n) with 64-bit indices.
#define GRID_STRIDE(i, n) for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

// Reports the first bad index seen by any thread; the host reads it back at the next synchronisation.
// errors[0] = code (0 = none), errors[1] = position, errors[2] = the offending value.
__device__ __forceinline__ void report_error(int* errors, int code, i64 position, int value)
{
    if (atomicCAS(errors, 0, code) == 0)
    {
        errors[1] = (int)position;
        errors[2] = value;
    }
}

// The QKV bias gradient's last step, in the attention dK/dV kernels (which run after their dQ kernels): each block
// has written its partial column sums; the last block of head h to finish (a ticket per head, reset by that block)
// adds every partial of the head's 3·HS columns in row order into dbias [3H]. Q's partials are q[r·q_stride + col]
// (r < q_rows), K's and V's kv[r·kv_stride + col] and kv[r·kv_stride + H + col] (r < kv_rows), col = h·HS + c;
// kv_rows is also the number of blocks that take a ticket for head h. Deterministic, whichever block is last.
__device__ __forceinline__ void finish_qkv_bias_gradient(const float* q, int q_rows, int q_stride, const float* kv, int kv_rows,
    int kv_stride, unsigned* tickets, float* __restrict__ dbias, int h, int HS, int H)
{
    __shared__ int last;
    __threadfence();  // this block's partial is visible device-wide before its ticket is counted
    __syncthreads();
    if (threadIdx.x == 0)
    {
        last = atomicAdd(&tickets[h], 1u) == (unsigned)kv_rows - 1;
        if (last) tickets[h] = 0;  // ready for the next launch
    }
    __syncthreads();
    if (!last) return;
    const volatile float* vq = q;  // written on other SMs: read past this SM's L1
    const volatile float* vkv = kv;
    for (int c = threadIdx.x; c < 3 * HS; c += blockDim.x)
    {
        const int part = c / HS, col = h * HS + c % HS;
        const volatile float* p = part == 0 ? vq + col : vkv + (part - 1) * H + col;
        const int rows = part == 0 ? q_rows : kv_rows, stride = part == 0 ? q_stride : kv_stride;
        float total = 0.f;
        for (int r = 0; r < rows; r++) total += p[(i64)r * stride];
        dbias[part * H + col] = total;
    }
}

// Column sums of a [rows, cols] matrix in one launch: dst[c] = beta·dst[c] + Σ_r source(r, c) (dst is not read when
// beta = 0). grid (⌈cols/32⌉, ⌈rows/rowsPerBlock⌉), blockDim (32, 8). Block (tile, rb) sums rows
// [rb·rowsPerBlock, …) of 32 columns (8 row lanes combined in lane order) into partials[rb, ·]; the last block of a
// tile to finish, told by a ticket counter, adds the partials in row-block order. Which block is last varies from
// run to run; the order of the additions does not, so the bits do not either. The last block sets its ticket back
// to 0 for the next launch (tickets start zeroed). source(r, c) gives the value to sum and may write what it
// computed (bias + GELU backward writes dX there and sums it). Partials and result are F32.
template <typename Source>
__device__ __forceinline__ void column_sums_of(const Source& source, i64 rows, int cols, int rowsPerBlock, float* partials,
    unsigned* tickets, float* dst, float beta)
{
    __shared__ float lanes[8][33];
    __shared__ int last;
    int col = blockIdx.x * 32 + threadIdx.x;
    i64 start = (i64)blockIdx.y * rowsPerBlock;
    i64 end = min(rows, start + rowsPerBlock);
    float acc = 0.f;
    if (col < cols)
        for (i64 r = start + threadIdx.y; r < end; r += 8) acc += source(r, col);
    lanes[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && col < cols)
    {
        float s = lanes[0][threadIdx.x];
        for (int k = 1; k < 8; k++) s += lanes[k][threadIdx.x];
        partials[(i64)blockIdx.y * cols + col] = s;
    }
    // The partial must be visible device-wide before the ticket says it is there.
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0 && threadIdx.y == 0)
    {
        last = atomicAdd(&tickets[blockIdx.x], 1u) == gridDim.y - 1;
        if (last) tickets[blockIdx.x] = 0;
    }
    __syncthreads();
    if (!last || threadIdx.y != 0 || col >= cols) return;
    // Other blocks' partials were written on other SMs: read them past this SM's L1.
    const volatile float* p = partials;
    float total = 0.f;
    for (unsigned b = 0; b < gridDim.y; b++) total += p[(i64)b * cols + col];
    dst[col] = beta == 0.f ? total : beta * dst[col] + total;
}
