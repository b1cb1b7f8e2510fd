// Multi-head self-attention, fused flash-style (Dao et al. 2022, FlashAttention-2's loop order), forward and
// backward, reading Q, K, V straight from the fused projection qkv [B, T, 3, NH, HS] (H = NH·HS).
// Forward: out [B, T, NH, HS] = dropout(softmax(scale·QKᵀ, padding keys masked))·V and lse [B, NH, T]
// (the log-sum-exp of each row of scaled scores; −∞ for a row with no real key, whose output is 0; NaN, in out too,
// for a row with a NaN score or whose real keys all score −∞, as in the CPU reference).
// Backward recomputes P = exp(scale·QKᵀ − lse); D = rowsum(dO∘O); dS = P∘(mask·dP − D)·scale with dP = dO·Vᵀ.
// Dropout keeps entry (b, h, i, j) iff Uniform(Philox(seed, offset, ((b·NH + h)·T + i)·T + j)) ≥ p and scales it
// by 1/(1−p): the CPU reference's mask, bit for bit.
//
// Why it is shaped this way: the T×T score matrix never touches device memory. A block owns a tile of BR query
// rows (forward, dQ) or BC key rows (dK, dV) of one (b, h) and streams the other side through shared memory in
// tiles. 256 threads form a TY×TX grid over a BR×BC score tile: a thread holds RM×CN scores, its CN columns
// contiguous so that one Philox block (4 words) serves up to 4 dropout decisions; a row's TX threads are adjacent
// lanes, so row max/sum are shuffles. K and V tiles are padded by one float per row so that threads reading
// different key rows at the same column hit different banks. The backward is two kernels instead of one with
// atomics: dQ (per query tile, which also writes D) then dK/dV (per key tile), so every gradient element is summed
// in a fixed order (deterministic) at the price of recomputing QKᵀ and dO·Vᵀ once more (7 tile products, not 5).
// Inputs in BF16 are widened to F32 in shared memory; all arithmetic is F32 FFMA (tensor cores: see README.md).
//
// Counts, per (b, h): forward 4·T²·HS FLOP, bytes ≈ (3·T·HS read + T·HS written)·size; backward ≈ 14·T²·HS FLOP
// (two kernels), bytes ≈ (4 + 3)·T·HS·size. The Small step (B·NH = 512, T = 128, HS = 64): forward 2.1 GFLOP and
// 17 MB; backward 7.5 GFLOP and 29 MB. F32 FFMA peak on H100 SXM ≈ 67 TFLOP/s, memory 3.0 TB/s: arithmetic
// dominates (forward ≥ 32 µs, backward ≥ 112 µs at peak; this FFMA tiling is expected to reach about half of it).
#include "common.cuh"

namespace attn_detail {

__device__ __forceinline__ float neg_inf() { return -__int_as_float(0x7f800000); }
__device__ __forceinline__ float nan_f() { return __int_as_float(0x7fc00000); }

// Whether sequence `mask` [T] has any real key; asked only for a row that gave no key any weight.
__device__ bool has_real_key(const int* __restrict__ mask, int T_) {
    for (int j = 0; j < T_; j++)
        if (mask[j] != 0) return true;
    return false;
}



// Tile geometry. 256 threads as TY×TX over a BR×BC score tile; RM rows × CN contiguous columns per thread.
template <int HS_, int BR_, int BC_, int TX_>
struct Tile {
    static constexpr int HS = HS_, BR = BR_, BC = BC_, TX = TX_, THREADS = 256, TY = THREADS / TX;
    static constexpr int RM = BR / TY, CN = BC / TX;
    static constexpr int KP = HS + 1;  // padded row length of K/V tiles
    static_assert(RM * TY == BR && CN * TX == BC && HS % TX == 0 && HS % 4 == 0, "tile shape");
};

// rows [row0, row0 + ROWS) of one part (0 Q, 1 K, 2 V) of head h into dst[ROWS][LD]; rows ≥ T become zeros.
// With bias (the projection's, at this part and head) each value is T(x + bias[c]), as AddBias stores it, so the
// bias needs no pass of its own.
template <typename T, int ROWS, int HS, int LD>
__device__ __forceinline__ void load_rows(float* dst, const T* __restrict__ src, int row0, int T_, int H,
                                          const float* __restrict__ bias = nullptr) {
    // src points at qkv[b, 0, part, h, 0] (or out/dO[b, 0, h, 0]); consecutive tokens are `H` elements apart.
    for (int idx = threadIdx.x; idx < ROWS * HS / 4; idx += 256) {
        const int r = idx / (HS / 4), c = 4 * (idx % (HS / 4));
        float v[4] = {0.f, 0.f, 0.f, 0.f};
        if (row0 + r < T_) {
            load4(src + (size_t)(row0 + r) * H + c, v);
            if (bias != nullptr)
                #pragma unroll
                for (int k = 0; k < 4; k++) v[k] = rounded<T>(v[k] + bias[c + k]);
        }
        #pragma unroll
        for (int k = 0; k < 4; k++) dst[r * LD + c + k] = v[k];
    }
}

// Where head h's slice of part `part` (0 Q, 1 K, 2 V) of the [3H] bias starts; null without a bias.
__device__ __forceinline__ const float* bias_of(const float* qkv_bias, int part, int H, int h, int HS) {
    return qkv_bias == nullptr ? nullptr : qkv_bias + part * H + h * HS;
}

// Fills the per-thread dropout factors of an RM×CN score block: 1/(1−p) where kept, 0 where dropped.
template <int RM, int CN>
__device__ __forceinline__ void dropout_factors(float (&f)[RM][CN], u64 seed, u64 offset, u64 bh,
                                                int T, int i0, int j0, float p, float keep_scale) {
    #pragma unroll
    for (int r = 0; r < RM; r++) {
        const u64 base = ((bh * (u64)T) + (u64)(i0 + r)) * (u64)T + (u64)j0;
        philox4 block = philox_words(seed, offset, base >> 2);
        u64 have = base >> 2;
        #pragma unroll
        for (int c = 0; c < CN; c++) {
            const u64 index = base + c;
            if ((index >> 2) != have) { have = index >> 2; block = philox_words(seed, offset, have); }
            f[r][c] = philox_uniform(philox_word(block, (unsigned)(index & 3))) >= p ? keep_scale : 0.f;
        }
    }
}

// acc[r][c] = Σ_d A[row r][d]·B[col c][d] for the thread's RM rows (A [BR][HS]) and CN columns (B [BC][KP]).
template <class G>
__device__ __forceinline__ void tile_dot(float (&acc)[G::RM][G::CN], const float* A, const float* B, int ty, int tx) {
    #pragma unroll
    for (int r = 0; r < G::RM; r++)
        #pragma unroll
        for (int c = 0; c < G::CN; c++) acc[r][c] = 0.f;
    #pragma unroll 4
    for (int d = 0; d < G::HS; d += 4) {
        float4 a[G::RM];
        #pragma unroll
        for (int r = 0; r < G::RM; r++) a[r] = *reinterpret_cast<const float4*>(A + (ty * G::RM + r) * G::HS + d);
        #pragma unroll
        for (int c = 0; c < G::CN; c++) {
            const float* b = B + (tx * G::CN + c) * G::KP + d;
            const float b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
            #pragma unroll
            for (int r = 0; r < G::RM; r++)
                acc[r][c] += a[r].x * b0 + a[r].y * b1 + a[r].z * b2 + a[r].w * b3;
        }
    }
}

// ---- forward ------------------------------------------------------------------------------------------------------

template <typename T, class G>
__device__ void forward(const T* __restrict__ qkv, const float* __restrict__ qkv_bias, const int* __restrict__ key_mask,
                        int NH, int T_, float scale, float p, u64 seed, u64 offset, T* __restrict__ out, float* __restrict__ lse) {
    constexpr int HS = G::HS, BR = G::BR, BC = G::BC, RM = G::RM, CN = G::CN, TX = G::TX, OC = HS / TX;
    __shared__ __align__(16) float Qs[BR * HS];
    __shared__ __align__(16) float Ks[BC * G::KP];
    __shared__ __align__(16) float Vs[BC * HS];
    __shared__ float Ps[BR * (BC + 1)];
    __shared__ int valid[BC];
    const int bh = blockIdx.y, b = bh / NH, h = bh % NH, H = NH * HS;
    const int i0 = blockIdx.x * BR;
    const int tx = threadIdx.x % TX, ty = threadIdx.x / TX;
    const T* q_base = qkv + (size_t)b * T_ * 3 * H + h * HS;
    const float keep_scale = 1.f / (1.f - p);

    // K's and V's slices of the bias, read by every key tile: from shared memory they cost no registers across the
    // loop (at HS 32 the forward has none to spare under its 2-blocks-per-SM bound).
    __shared__ float kv_bias[2 * HS];
    const bool biased = qkv_bias != nullptr;
    if (biased)
        for (int c = threadIdx.x; c < 2 * HS; c += 256) kv_bias[c] = qkv_bias[(1 + c / HS) * H + h * HS + c % HS];
    __syncthreads();  // the tile loads read other threads' entries
    load_rows<T, BR, HS, HS>(Qs, q_base, i0, T_, 3 * H, bias_of(qkv_bias, 0, H, h, HS));
    float o[RM][OC], m[RM], l[RM];
    #pragma unroll
    for (int r = 0; r < RM; r++) {
        m[r] = neg_inf(); l[r] = 0.f;
        #pragma unroll
        for (int c = 0; c < OC; c++) o[r][c] = 0.f;
    }
    for (int j0 = 0; j0 < T_; j0 += BC) {
        load_rows<T, BC, HS, G::KP>(Ks, q_base + H, j0, T_, 3 * H, biased ? kv_bias : nullptr);
        load_rows<T, BC, HS, HS>(Vs, q_base + 2 * H, j0, T_, 3 * H, biased ? kv_bias + HS : nullptr);
        for (int j = threadIdx.x; j < BC; j += 256) valid[j] = j0 + j < T_ && key_mask[b * T_ + j0 + j] != 0;
        __syncthreads();

        float s[RM][CN];
        tile_dot<G>(s, Qs, Ks, ty, tx);
        float f[RM][CN];
        if (p > 0.f) dropout_factors<RM, CN>(f, seed, offset, bh, T_, i0 + ty * RM, j0 + tx * CN, p, keep_scale);
        #pragma unroll
        for (int r = 0; r < RM; r++) {
            float tile_max = neg_inf();
            #pragma unroll
            for (int c = 0; c < CN; c++) {
                s[r][c] = valid[tx * CN + c] ? s[r][c] * scale : neg_inf();
                tile_max = fmaxf(tile_max, s[r][c]);
            }
            #pragma unroll
            for (int w = TX / 2; w > 0; w >>= 1) tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, w));
            const float m_new = fmaxf(m[r], tile_max);
            const float m_use = m_new == neg_inf() ? 0.f : m_new;  // a row with no real key yet: all weights 0
            const float correction = __expf(m[r] - m_use);
            m[r] = m_new;
            l[r] *= correction;
            #pragma unroll
            for (int c = 0; c < OC; c++) o[r][c] *= correction;
            #pragma unroll
            for (int c = 0; c < CN; c++) {
                const float e = __expf(s[r][c] - m_use);
                l[r] += e;
                Ps[(ty * RM + r) * (BC + 1) + tx * CN + c] = p > 0.f ? e * f[r][c] : e;
            }
        }
        __syncthreads();
        #pragma unroll 4
        for (int j = 0; j < BC; j++) {
            float v[OC];
            #pragma unroll
            for (int c = 0; c < OC; c++) v[c] = Vs[j * HS + tx + TX * c];
            #pragma unroll
            for (int r = 0; r < RM; r++) {
                const float pj = Ps[(ty * RM + r) * (BC + 1) + j];
                #pragma unroll
                for (int c = 0; c < OC; c++) o[r][c] += pj * v[c];
            }
        }
        __syncthreads();
    }
    #pragma unroll
    for (int r = 0; r < RM; r++) {
        float total = l[r];
        #pragma unroll
        for (int w = TX / 2; w > 0; w >>= 1) total += __shfl_xor_sync(0xffffffffu, total, w);
        const int i = i0 + ty * RM + r;
        if (i >= T_) continue;
        // A NaN score (or +∞ against −∞) makes total NaN, and it must reach out and lse: fmaxf above skips NaN, so
        // nothing else would show it. total is 0 when no key got weight: no real key (output 0, lse −∞), or real
        // keys that all scored −∞, which is as undefined as NaN.
        float inv = 1.f / total, row_lse = m[r] + logf(total);
        if (total == 0.f) {
            const bool keyless = !has_real_key(key_mask + (size_t)b * T_, T_);
            inv = keyless ? 0.f : nan_f();
            row_lse = keyless ? neg_inf() : nan_f();
        }
        T* dst = out + ((size_t)b * T_ + i) * H + h * HS;
        #pragma unroll
        for (int c = 0; c < OC; c++) store1(dst + tx + TX * c, o[r][c] * inv);
        if (tx == 0) lse[(size_t)bh * T_ + i] = row_lse;
    }
}

// ---- backward -----------------------------------------------------------------------------------------------------

// The shared part of both backward kernels: for the thread's RM×CN block of the (query tile, key tile) pair,
// P̃ = dropped probabilities and dS, from Q/dO [BR][HS] and K/V [BC][KP] tiles in shared memory.
template <class G>
__device__ __forceinline__ void probabilities_and_ds(float (&pd)[G::RM][G::CN], float (&ds)[G::RM][G::CN],
    const float* Qs, const float* dOs, const float* Ks, const float* Vs, const float* lse_s, const float* d_s,
    const int* valid, int ty, int tx, float scale, float p, u64 seed, u64 offset, u64 bh, int T_,
    int i0, int j0) {
    float s[G::RM][G::CN], dp[G::RM][G::CN];
    tile_dot<G>(s, Qs, Ks, ty, tx);
    tile_dot<G>(dp, dOs, Vs, ty, tx);
    float f[G::RM][G::CN];
    if (p > 0.f) dropout_factors<G::RM, G::CN>(f, seed, offset, bh, T_, i0 + ty * G::RM, j0 + tx * G::CN, p, 1.f / (1.f - p));
    #pragma unroll
    for (int r = 0; r < G::RM; r++) {
        const float l = lse_s[ty * G::RM + r], d = d_s[ty * G::RM + r];
        #pragma unroll
        for (int c = 0; c < G::CN; c++) {
            const float prob = (l != neg_inf() && valid[tx * G::CN + c]) ? __expf(s[r][c] * scale - l) : 0.f;
            const float mask = p > 0.f ? f[r][c] : 1.f;
            pd[r][c] = prob * mask;
            ds[r][c] = prob * (mask * dp[r][c] - d) * scale;
        }
    }
}

// ---- the bias gradient: column sums of dQ, dK, dV as written ------------------------------------------------
// Each backward block stages the rows of dQ (or dK and dV) it wrote, as stored (rounded to T; rows ≥ T are 0), in
// a tile it no longer needs, and sums each column over them in row order into its row of partials. The two kernels
// tile queries (BR) and keys (BC) differently, so each has partials of its own: dQ's [B·⌈T/BR⌉, H], dK/dV's
// [B·⌈T/BC⌉, 2H]. The dK/dV kernel runs after the dQ kernel, so its last block of head h finds every partial of
// the head's 3·HS columns there and adds them (common.cuh's finish_qkv_bias_gradient).

// The dQ kernel's share of the bias gradient: its tile's dQ rows as stored (the block's stores, read back) staged in
// Qs, which is free since the loop's last barrier, and summed per column into its row of partials. Not inlined:
// the kernel is at its register bound (2 blocks per SM), and inlined this pushed it to spill on sm_90.
template <typename T, class G>
__device__ __noinline__ void dq_bias_partial(const T* dqkv, float* Qs, float* bias_partials, int b, int h, int i0, int T_, int H) {
    constexpr int HS = G::HS, BR = G::BR;
    __syncthreads();  // the block's dQ stores are visible to all its threads
    for (int idx = threadIdx.x; idx < BR * HS; idx += 256) {
        const int r = idx / HS, c = idx % HS, i = i0 + r;
        Qs[idx] = i < T_ ? load1(dqkv + ((size_t)b * T_ + i) * 3 * H + h * HS + c) : 0.f;
    }
    __syncthreads();
    float* partial = bias_partials + ((size_t)b * gridDim.x + blockIdx.x) * H + h * HS;
    for (int c = threadIdx.x; c < HS; c += 256) {
        float s = 0.f;
        for (int r = 0; r < BR; r++) s += Qs[r * HS + c];
        partial[c] = s;
    }
}

// dQ for a tile of BR query rows; also writes D = rowsum(dO∘O) for these rows, which dK/dV reads next.
template <typename T, class G>
__device__ void backward_dq(const T* __restrict__ dout, const T* __restrict__ qkv, const float* __restrict__ qkv_bias,
                            const int* __restrict__ key_mask, const T* __restrict__ out, const float* __restrict__ lse, int NH, int T_, float scale,
                            float p, u64 seed, u64 offset, float* __restrict__ d_rows, T* __restrict__ dqkv,
                            float* __restrict__ bias_partials) {
    constexpr int HS = G::HS, BR = G::BR, BC = G::BC, RM = G::RM, CN = G::CN, TX = G::TX, OC = HS / TX;
    __shared__ __align__(16) float Qs[BR * HS];
    __shared__ __align__(16) float dOs[BR * HS];
    __shared__ __align__(16) float Ks[BC * G::KP];
    __shared__ __align__(16) float Vs[BC * G::KP];
    __shared__ float dSs[BR * (BC + 1)];
    __shared__ float lse_s[BR], d_s[BR];
    __shared__ int valid[BC];
    const int bh = blockIdx.y, b = bh / NH, h = bh % NH, H = NH * HS;
    const int i0 = blockIdx.x * BR;
    const int tx = threadIdx.x % TX, ty = threadIdx.x / TX, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const T* q_base = qkv + (size_t)b * T_ * 3 * H + h * HS;
    const T* o_base = out + (size_t)b * T_ * H + h * HS;
    const T* do_base = dout + (size_t)b * T_ * H + h * HS;

    load_rows<T, BR, HS, HS>(Qs, q_base, i0, T_, 3 * H, bias_of(qkv_bias, 0, H, h, HS));
    load_rows<T, BR, HS, HS>(dOs, do_base, i0, T_, H);
    __syncthreads();
    for (int r = warp; r < BR; r += 8) {  // D_i = dO_i·O_i, one warp per row
        const int i = i0 + r;
        float t = 0.f;
        if (i < T_) {
            for (int c = 4 * lane; c < HS; c += 128) {
                float ov[4];
                load4(o_base + (size_t)i * H + c, ov);
                t += ov[0] * dOs[r * HS + c] + ov[1] * dOs[r * HS + c + 1] + ov[2] * dOs[r * HS + c + 2] + ov[3] * dOs[r * HS + c + 3];
            }
        }
        t = warp_sum(t);
        if (lane == 0) {
            d_s[r] = t;
            lse_s[r] = i < T_ ? lse[(size_t)bh * T_ + i] : neg_inf();
            if (i < T_) d_rows[(size_t)bh * T_ + i] = t;
        }
    }
    float dq[RM][OC];
    #pragma unroll
    for (int r = 0; r < RM; r++)
        #pragma unroll
        for (int c = 0; c < OC; c++) dq[r][c] = 0.f;
    for (int j0 = 0; j0 < T_; j0 += BC) {
        load_rows<T, BC, HS, G::KP>(Ks, q_base + H, j0, T_, 3 * H, bias_of(qkv_bias, 1, H, h, HS));
        load_rows<T, BC, HS, G::KP>(Vs, q_base + 2 * H, j0, T_, 3 * H, bias_of(qkv_bias, 2, H, h, HS));
        for (int j = threadIdx.x; j < BC; j += 256) valid[j] = j0 + j < T_ && key_mask[b * T_ + j0 + j] != 0;
        __syncthreads();
        float pd[RM][CN], ds[RM][CN];
        probabilities_and_ds<G>(pd, ds, Qs, dOs, Ks, Vs, lse_s, d_s, valid, ty, tx, scale, p, seed, offset, bh, T_, i0, j0);
        #pragma unroll
        for (int r = 0; r < RM; r++)
            #pragma unroll
            for (int c = 0; c < CN; c++) dSs[(ty * RM + r) * (BC + 1) + tx * CN + c] = ds[r][c];
        __syncthreads();
        #pragma unroll 4
        for (int j = 0; j < BC; j++) {
            float k[OC];
            #pragma unroll
            for (int c = 0; c < OC; c++) k[c] = Ks[j * G::KP + tx + TX * c];
            #pragma unroll
            for (int r = 0; r < RM; r++) {
                const float dsj = dSs[(ty * RM + r) * (BC + 1) + j];
                #pragma unroll
                for (int c = 0; c < OC; c++) dq[r][c] += dsj * k[c];
            }
        }
        __syncthreads();
    }
    #pragma unroll
    for (int r = 0; r < RM; r++) {
        const int i = i0 + ty * RM + r;
        if (i >= T_) continue;
        T* dst = dqkv + ((size_t)b * T_ + i) * 3 * H + h * HS;
        #pragma unroll
        for (int c = 0; c < OC; c++) store1(dst + tx + TX * c, dq[r][c]);
    }
    if (bias_partials != nullptr) dq_bias_partial<T, G>(dqkv, Qs, bias_partials, b, h, i0, T_, H);
}

// dK and dV for a tile of BC key rows, streaming the query tiles; reads D written by backward_dq.
template <typename T, class G>
__device__ void backward_dkdv(const T* __restrict__ dout, const T* __restrict__ qkv, const float* __restrict__ qkv_bias,
                              const int* __restrict__ key_mask, const float* __restrict__ lse, const float* __restrict__ d_rows, int NH, int T_,
                              float scale, float p, u64 seed, u64 offset, T* __restrict__ dqkv,
                              const float* bias_partials_q, float* bias_partials_kv, unsigned* tickets, float* __restrict__ dbias) {
    constexpr int HS = G::HS, BR = G::BR, BC = G::BC, RM = G::RM, CN = G::CN;
    constexpr int KX = 256 / BC, KC = HS / KX;  // dK/dV: KX threads per key row, KC columns each
    static_assert(KX * BC == 256 && KC * KX == HS, "dK/dV layout");
    __shared__ __align__(16) float Qs[BR * HS];
    __shared__ __align__(16) float dOs[BR * HS];
    __shared__ __align__(16) float Ks[BC * G::KP];
    __shared__ __align__(16) float Vs[BC * G::KP];
    __shared__ float Ps[BR * (BC + 1)];
    __shared__ float dSs[BR * (BC + 1)];
    __shared__ float lse_s[BR], d_s[BR];
    __shared__ int valid[BC];
    const int bh = blockIdx.y, b = bh / NH, h = bh % NH, H = NH * HS;
    const int j0 = blockIdx.x * BC;
    const int tx = threadIdx.x % G::TX, ty = threadIdx.x / G::TX;
    const int kj = threadIdx.x / KX, kx = threadIdx.x % KX;
    const T* q_base = qkv + (size_t)b * T_ * 3 * H + h * HS;
    const T* do_base = dout + (size_t)b * T_ * H + h * HS;

    load_rows<T, BC, HS, G::KP>(Ks, q_base + H, j0, T_, 3 * H, bias_of(qkv_bias, 1, H, h, HS));
    load_rows<T, BC, HS, G::KP>(Vs, q_base + 2 * H, j0, T_, 3 * H, bias_of(qkv_bias, 2, H, h, HS));
    for (int j = threadIdx.x; j < BC; j += 256) valid[j] = j0 + j < T_ && key_mask[b * T_ + j0 + j] != 0;
    float dk[KC], dv[KC];
    #pragma unroll
    for (int c = 0; c < KC; c++) { dk[c] = 0.f; dv[c] = 0.f; }
    for (int i0 = 0; i0 < T_; i0 += BR) {
        load_rows<T, BR, HS, HS>(Qs, q_base, i0, T_, 3 * H, bias_of(qkv_bias, 0, H, h, HS));
        load_rows<T, BR, HS, HS>(dOs, do_base, i0, T_, H);
        for (int r = threadIdx.x; r < BR; r += 256) {
            const bool in = i0 + r < T_;
            lse_s[r] = in ? lse[(size_t)bh * T_ + i0 + r] : neg_inf();
            d_s[r] = in ? d_rows[(size_t)bh * T_ + i0 + r] : 0.f;
        }
        __syncthreads();
        float pd[RM][CN], ds[RM][CN];
        probabilities_and_ds<G>(pd, ds, Qs, dOs, Ks, Vs, lse_s, d_s, valid, ty, tx, scale, p, seed, offset, bh, T_, i0, j0);
        #pragma unroll
        for (int r = 0; r < RM; r++)
            #pragma unroll
            for (int c = 0; c < CN; c++) {
                Ps[(ty * RM + r) * (BC + 1) + tx * CN + c] = pd[r][c];
                dSs[(ty * RM + r) * (BC + 1) + tx * CN + c] = ds[r][c];
            }
        __syncthreads();
        #pragma unroll 4
        for (int i = 0; i < BR; i++) {
            const float pij = Ps[i * (BC + 1) + kj], dsij = dSs[i * (BC + 1) + kj];
            #pragma unroll
            for (int c = 0; c < KC; c++) {
                dv[c] += pij * dOs[i * HS + kx + KX * c];
                dk[c] += dsij * Qs[i * HS + kx + KX * c];
            }
        }
        __syncthreads();
    }
    const int j = j0 + kj;
    if (j < T_) {
        T* dst = dqkv + ((size_t)b * T_ + j) * 3 * H + h * HS;
        #pragma unroll
        for (int c = 0; c < KC; c++) {
            store1(dst + H + kx + KX * c, dk[c]);
            store1(dst + 2 * H + kx + KX * c, dv[c]);
        }
    }
    if (bias_partials_kv == nullptr) return;
    // Ks and Vs are free since the loop's last barrier: the tile's dK rows into Ks, its dV rows into Vs, [BC][HS].
    #pragma unroll
    for (int c = 0; c < KC; c++) {
        Ks[kj * HS + kx + KX * c] = j < T_ ? rounded<T>(dk[c]) : 0.f;
        Vs[kj * HS + kx + KX * c] = j < T_ ? rounded<T>(dv[c]) : 0.f;
    }
    __syncthreads();
    float* partial = bias_partials_kv + ((size_t)b * gridDim.x + blockIdx.x) * 2 * H + h * HS;
    for (int c = threadIdx.x; c < 2 * HS; c += 256) {
        const float* tile = c < HS ? Ks : Vs;
        float s = 0.f;
        for (int r = 0; r < BC; r++) s += tile[r * HS + c % HS];
        partial[(c < HS ? 0 : H) + c % HS] = s;
    }
    const int rows_q = (int)((gridDim.y / NH) * ((T_ + BR - 1) / BR));
    finish_qkv_bias_gradient(bias_partials_q, rows_q, H, bias_partials_kv, (int)((gridDim.y / NH) * gridDim.x), 2 * H, tickets, dbias, h, HS, H);
}

// Forward tiles: (HS, BR, BC, TX). Backward tiles are smaller: both Q-side and K-side tiles live in 48 KB.
typedef Tile<32, 64, 64, 16> Fwd32;
typedef Tile<64, 64, 32, 8> Fwd64;
typedef Tile<128, 32, 16, 8> Fwd128;
typedef Tile<32, 32, 64, 16> Bwd32;
typedef Tile<64, 32, 32, 8> Bwd64;
typedef Tile<128, 16, 16, 16> Bwd128;

}  // namespace attn_detail

// Forward: grid = (⌈T/BR⌉, B·NH), block = 256. qkv [B, T, 3, NH, HS]; qkv_bias [3·NH·HS] F32 or null (added to
// Q, K, V as they are read, in all three kernels); key_mask [B, T] I32; out [B, T, NH, HS]; lse [B, NH, T] F32.
#define ATTN_FORWARD(NAME, TYPE, G)                                                                              \
    extern "C" __global__ void __launch_bounds__(256, 2) NAME(const TYPE* __restrict__ qkv,                      \
        const float* __restrict__ qkv_bias, const int* __restrict__ key_mask, int NH, int T, float scale, float p, \
        unsigned long long seed, unsigned long long offset, const unsigned long long* __restrict__ rng_base,     \
        TYPE* __restrict__ out, float* __restrict__ lse) {                                                       \
        attn_detail::forward<TYPE, attn_detail::G>(qkv, qkv_bias, key_mask, NH, T, scale, p, seed,               \
                                                   step_offset(offset, rng_base), out, lse);                     \
    }
// Backward dQ: grid = (⌈T/BR⌉, B·NH); writes d_rows [B, NH, T] F32 scratch and dqkv's Q part, and with
// bias_partials [B·⌈T/BR⌉, H] (null: no bias gradient) its tiles' column sums of dQ.
#define ATTN_BACKWARD_DQ(NAME, TYPE, G)                                                                          \
    extern "C" __global__ void __launch_bounds__(256, 2) NAME(const TYPE* __restrict__ dout,                         \
        const TYPE* __restrict__ qkv, const float* __restrict__ qkv_bias, const int* __restrict__ key_mask,     \
        const TYPE* __restrict__ out, const float* __restrict__ lse, int NH, int T, float scale, float p,        \
        unsigned long long seed, unsigned long long offset, const unsigned long long* __restrict__ rng_base,     \
        float* __restrict__ d_rows, TYPE* __restrict__ dqkv, float* __restrict__ bias_partials) {                \
        attn_detail::backward_dq<TYPE, attn_detail::G>(dout, qkv, qkv_bias, key_mask, out, lse, NH, T, scale, p, \
                                                       seed, step_offset(offset, rng_base), d_rows, dqkv,        \
                                                       bias_partials);                                           \
    }
// Backward dK/dV: grid = (⌈T/BC⌉, B·NH), after dQ (it reads d_rows and dQ's bias partials); writes dqkv's K and V
// parts, and with bias_partials_kv [B·⌈T/BC⌉, 2H] (null: no bias gradient), tickets (zeroed; one per head) and
// dbias [3H] the bias gradient.
#define ATTN_BACKWARD_DKDV(NAME, TYPE, G)                                                                        \
    extern "C" __global__ void __launch_bounds__(256, 2) NAME(const TYPE* __restrict__ dout,                         \
        const TYPE* __restrict__ qkv, const float* __restrict__ qkv_bias, const int* __restrict__ key_mask,     \
        const float* __restrict__ lse, const float* __restrict__ d_rows, int NH, int T, float scale, float p,    \
        unsigned long long seed, unsigned long long offset, const unsigned long long* __restrict__ rng_base,     \
        TYPE* __restrict__ dqkv, const float* bias_partials_q, float* bias_partials_kv, unsigned* tickets,       \
        float* __restrict__ dbias) {                                                                             \
        attn_detail::backward_dkdv<TYPE, attn_detail::G>(dout, qkv, qkv_bias, key_mask, lse, d_rows, NH, T,      \
                                                         scale, p, seed, step_offset(offset, rng_base), dqkv,    \
                                                         bias_partials_q, bias_partials_kv, tickets, dbias);     \
    }
#define ATTN_FAMILY(SUFFIX, TYPE)                                                                                \
    ATTN_FORWARD(attention_forward_##SUFFIX##_hs32, TYPE, Fwd32)                                                 \
    ATTN_FORWARD(attention_forward_##SUFFIX##_hs64, TYPE, Fwd64)                                                 \
    ATTN_FORWARD(attention_forward_##SUFFIX##_hs128, TYPE, Fwd128)                                               \
    ATTN_BACKWARD_DQ(attention_backward_dq_##SUFFIX##_hs32, TYPE, Bwd32)                                         \
    ATTN_BACKWARD_DQ(attention_backward_dq_##SUFFIX##_hs64, TYPE, Bwd64)                                         \
    ATTN_BACKWARD_DQ(attention_backward_dq_##SUFFIX##_hs128, TYPE, Bwd128)                                       \
    ATTN_BACKWARD_DKDV(attention_backward_dkdv_##SUFFIX##_hs32, TYPE, Bwd32)                                     \
    ATTN_BACKWARD_DKDV(attention_backward_dkdv_##SUFFIX##_hs64, TYPE, Bwd64)                                     \
    ATTN_BACKWARD_DKDV(attention_backward_dkdv_##SUFFIX##_hs128, TYPE, Bwd128)
ATTN_FAMILY(f32, float)
ATTN_FAMILY(bf16, bf16_t)
