// BF16 attention on tensor cores: the same functions as attention.cu (forward with lse; two-kernel deterministic
// backward), for bf16 qkv [B, T, 3, NH, HS] with HS = 32 or 64, every tile product an
// mma.sync.m16n8k16.row.col.f32.bf16.bf16.f32 (F32 accumulation). Same mask, scale, Philox dropout numbering
// (element ((b·NH + h)·T + i)·T + j, kept iff Uniform ≥ p, scaled by 1/(1−p)) and lse as the CPU reference.
//
// Why it is shaped this way (FlashAttention-2's warp layout): a block is 4 warps; each warp owns 16 rows of the tile
// (query rows in the forward and dQ, key rows in dK/dV) and the whole other side streams through shared memory in
// tiles of 64. The m16n8 accumulator of one product has exactly the register layout of the m16k16 A operand of the
// next, so S → P (forward) and Sᵀ → Pᵀ, dSᵀ (dK/dV) go from one mma to the next without touching shared memory;
// row max/sum are shuffles among the 4 lanes that share a row. dK/dV computes Sᵀ = K·Qᵀ directly (keys as rows)
// instead of transposing P through shared memory; the price is one Philox block per dropout decision there (the
// two columns a lane holds are adjacent queries, T elements apart) against one per two in the row layout.
// Operands read from shared memory: a B fragment along the head dimension (Kᵀ, Vᵀ, Qᵀ, dOᵀ) is two 32-bit loads;
// along the key/query dimension (V in PV, K in dS·K, Q and dO in dK/dV) it is four 16-bit loads. Rows are padded
// by 8 bf16 (16 bytes): both patterns then hit 32 distinct banks (or one word shared by two lanes).
// P and dS are rounded to bf16 as mma operands (as FlashAttention does); Σ P for the normaliser stays F32.
//
// Counts, per (b, h): forward 4·T²·HS FLOP, backward 14·T²·HS (S and dP are recomputed in both backward kernels);
// bytes (bf16) forward ≈ 4·T·HS·2, backward ≈ 7·T·HS·2 + lse/D. See README.md for the predictions.
#include "common.cuh"

namespace attn_mma {

__device__ __forceinline__ float neg_inf() { return -__int_as_float(0x7f800000); }
__device__ __forceinline__ float nan_f() { return __int_as_float(0x7fc00000); }

// Whether sequence `mask` [T] has any real key; asked only for a row that gave no key any weight.
__device__ bool has_real_key(const int* __restrict__ mask, int T_) {
    for (int j = 0; j < T_; j++)
        if (mask[j] != 0) return true;
    return false;
}

// d += a·b: A 16×16 bf16 (row-major fragment), B 16×8 bf16 (column-major fragment), d 16×8 F32.
// Lane (g = lane/4, t = lane%4): a = {A[g][2t..], A[g+8][2t..], A[g][2t+8..], A[g+8][2t+8..]},
// b = {B[2t..][g], B[2t+8..][g]}, d = {D[g][2t], D[g][2t+1], D[g+8][2t], D[g+8][2t+1]} (".." = that and the next).
__device__ __forceinline__ void mma(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
#ifdef ELECTRA_CUDASIM  // tests/cudasim: the same instruction, computed for the whole warp by the simulator
    cudasim_mma_m16n8k16_bf16(d, a, b0, b1);
#else
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

// Two floats as bf16x2, round to nearest even: lo in the low half (the lower column index).
__device__ __forceinline__ unsigned pack(float lo, float hi) {
    unsigned r;
#ifdef ELECTRA_CUDASIM
    r = cudasim_cvt_rn_bf16x2_f32(hi, lo);
#else
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
#endif
    return r;
}

__device__ __forceinline__ unsigned lds32(const bf16_t* p) { return *reinterpret_cast<const unsigned*>(p); }
__device__ __forceinline__ unsigned lds_pair(const bf16_t* p, int ld) {  // p[0] and p[ld] (two rows, one column)
    return (unsigned)p[0] | ((unsigned)p[ld] << 16);
}

template <int HS, int TILE_ = 64>
struct Geometry {
    static constexpr int WARPS = 4, THREADS = 128, ROWS = 16 * WARPS;  // rows of the block's own tile
    static constexpr int TILE = TILE_;                                // rows of each streamed tile
    static constexpr int LD = HS + 8;                                 // padded shared-memory row (bf16)
    static constexpr int KS = HS / 16;                                // k-steps along the head dimension
    static constexpr int NT = TILE / 8;                               // n-tiles of a 16 × TILE score block
    static constexpr int ND = HS / 8;                                 // n-tiles of a 16 × HS output block
    static_assert(HS % 16 == 0, "head size");
};

// Two bf16 (one 32-bit word) plus two F32 biases, rounded back as AddBias rounds: the same bits as adding the
// bias in a pass of its own before attention.
__device__ __forceinline__ unsigned add_bias2(unsigned w, const float* __restrict__ bias) {
    const float lo = bf16_to_float((bf16_t)(w & 0xffffu)) + bias[0], hi = bf16_to_float((bf16_t)(w >> 16)) + bias[1];
    return (unsigned)float_to_bf16(lo) | ((unsigned)float_to_bf16(hi) << 16);
}

// rows [row0, row0 + ROWS) of a [T, stride] bf16 matrix into dst[ROWS][LD], with bias[c] added to column c when
// bias is given (the projection's bias, so it needs no pass of its own); rows ≥ T become zeros. 16-byte moves.
template <int ROWS, int HS, int LD, int THREADS>
__device__ __forceinline__ void load_tile(bf16_t* dst, const bf16_t* __restrict__ src, int row0, int T_, int stride,
                                          const float* __restrict__ bias = nullptr) {
    constexpr int CHUNKS = HS / 8;
    for (int idx = threadIdx.x; idx < ROWS * CHUNKS; idx += THREADS) {
        const int r = idx / CHUNKS, c = 8 * (idx % CHUNKS);
        uint4 v = make_uint4(0u, 0u, 0u, 0u);
        if (row0 + r < T_) {
            v = *reinterpret_cast<const uint4*>(src + (size_t)(row0 + r) * stride + c);
            if (bias != nullptr) {
                v.x = add_bias2(v.x, bias + c);
                v.y = add_bias2(v.y, bias + c + 2);
                v.z = add_bias2(v.z, bias + c + 4);
                v.w = add_bias2(v.w, bias + c + 6);
            }
        }
        *reinterpret_cast<uint4*>(dst + r * LD + c) = v;
    }
}

// Where head h's slice of part `part` (0 Q, 1 K, 2 V) of the [3H] bias starts; null without a bias.
__device__ __forceinline__ const float* bias_of(const float* qkv_bias, int part, int H, int h, int HS) {
    return qkv_bias == nullptr ? nullptr : qkv_bias + part * H + h * HS;
}

// ---- the bias gradient: column sums of dQ, dK, dV as written -----------------------------------------------------
// Each backward block sums the bf16 values it wrote over its 64 rows (rows ≥ T add nothing): a lane's two rows,
// then the 8 lanes that share its columns (shuffles), then the 4 warps in order, into its row of
// partials [B·⌈T/64⌉, 3H]. The dK/dV kernel runs after the dQ kernel, so when its last block of head h (told by a
// ticket) has written its partial, every partial of that head's 3·HS columns is there; it adds them in row order
// (common.cuh's finish_qkv_bias_gradient). Which block is last varies; the order of the additions does not.

// sums[d][e] = Σ over the warp's 16 rows of bf16(acc) in column d·8 + 2t + e; valid in lanes with g = 0.
template <int ND>
__device__ __forceinline__ void warp_column_sums(float (&sums)[ND][2], const float (&acc)[ND][4], bool row0_ok, bool row1_ok) {
    #pragma unroll
    for (int d = 0; d < ND; d++)
        #pragma unroll
        for (int e = 0; e < 2; e++) {
            float s = (row0_ok ? rounded<bf16_t>(acc[d][e]) : 0.f) +
                      (row1_ok ? rounded<bf16_t>(acc[d][2 + e]) : 0.f);
            s += __shfl_xor_sync(0xffffffffu, s, 4);
            s += __shfl_xor_sync(0xffffffffu, s, 8);
            s += __shfl_xor_sync(0xffffffffu, s, 16);
            sums[d][e] = s;
        }
}

// The warp's column sums into shared[warp][offset + column] (lanes with g = 0 hold them).
template <int ND, int COLS>
__device__ __forceinline__ void stash_column_sums(float (*shared)[COLS], const float (&sums)[ND][2], int offset, int warp, int g, int t) {
    if (g != 0) return;
    #pragma unroll
    for (int d = 0; d < ND; d++) {
        shared[warp][offset + d * 8 + 2 * t] = sums[d][0];
        shared[warp][offset + d * 8 + 2 * t + 1] = sums[d][1];
    }
}

// The A fragments of the warp's 16 rows of a [rows][LD] tile, all k-steps along the head dimension.
template <int KS, int LD>
__device__ __forceinline__ void a_fragments(unsigned (&a)[KS][4], const bf16_t* tile, int g, int t) {
    #pragma unroll
    for (int ks = 0; ks < KS; ks++) {
        const bf16_t* p = tile + g * LD + ks * 16 + 2 * t;
        a[ks][0] = lds32(p);
        a[ks][1] = lds32(p + 8 * LD);
        a[ks][2] = lds32(p + 8);
        a[ks][3] = lds32(p + 8 * LD + 8);
    }
}

// acc[n] = A·Bᵀ for the 16 rows of A (fragments) against the TILE rows of B ([TILE][LD], contracted along HS).
template <int KS, int NT, int LD>
__device__ __forceinline__ void scores(float (&acc)[NT][4], const unsigned (&a)[KS][4], const bf16_t* b, int g, int t) {
    #pragma unroll
    for (int n = 0; n < NT; n++) {
        acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
        #pragma unroll
        for (int ks = 0; ks < KS; ks++) {
            const bf16_t* p = b + (n * 8 + g) * LD + ks * 16 + 2 * t;
            mma(acc[n], a[ks], lds32(p), lds32(p + 8));
        }
    }
}

// acc[d] += X·B with X the 16×TILE block given as accumulator-layout values x[NT][4] (rounded to bf16 here) and
// B a [TILE][LD] tile (contracted along its rows).
template <int NT, int ND, int LD>
__device__ __forceinline__ void accumulate(float (&acc)[ND][4], const float (&x)[NT][4], const bf16_t* b, int g, int t) {
    #pragma unroll
    for (int kk = 0; kk < NT / 2; kk++) {
        const unsigned a[4] = {pack(x[2 * kk][0], x[2 * kk][1]), pack(x[2 * kk][2], x[2 * kk][3]),
                               pack(x[2 * kk + 1][0], x[2 * kk + 1][1]), pack(x[2 * kk + 1][2], x[2 * kk + 1][3])};
        #pragma unroll
        for (int d = 0; d < ND; d++) {
            const bf16_t* p = b + (kk * 16 + 2 * t) * LD + d * 8 + g;
            mma(acc[d], a, lds_pair(p, LD), lds_pair(p + 8 * LD, LD));
        }
    }
}

__device__ __forceinline__ float keep_factor(unsigned bits, float p, float keep_scale) {
    return philox_uniform(bits) >= p ? keep_scale : 0.f;
}

// Dropout factors of elements e and e + 1 (one row, adjacent columns): one Philox block unless e ends a block.
__device__ __forceinline__ void dropout_pair(float& f0, float& f1, u64 seed, u64 offset, u64 e, float p, float keep_scale) {
    const philox4 r = philox_words(seed, offset, e >> 2);
    const unsigned w0 = philox_word(r, (unsigned)(e & 3));
    const unsigned w1 = ((e + 1) & 3) != 0 ? philox_word(r, (unsigned)((e + 1) & 3)) : philox_words(seed, offset, (e + 1) >> 2).x;
    f0 = keep_factor(w0, p, keep_scale);
    f1 = keep_factor(w1, p, keep_scale);
}

// ---- forward ------------------------------------------------------------------------------------------------------

template <int HS>
__device__ void forward(const bf16_t* __restrict__ qkv, const float* __restrict__ qkv_bias, const int* __restrict__ key_mask,
                        int NH, int T_, float scale, float p, u64 seed, u64 offset, const u64* rng_base,
                        bf16_t* __restrict__ out, float* __restrict__ lse) {
    typedef Geometry<HS> G;
    constexpr int LD = G::LD, KS = G::KS, NT = G::NT, ND = G::ND, TILE = G::TILE;
    __shared__ __align__(16) bf16_t Qs[G::ROWS * LD];
    __shared__ __align__(16) bf16_t Ks[TILE * LD];
    __shared__ __align__(16) bf16_t Vs[TILE * LD];
    __shared__ int valid[TILE];
    const int bh = blockIdx.y, b = bh / NH, h = bh % NH, H = NH * HS;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int i0 = blockIdx.x * G::ROWS + warp * 16;  // the warp's first query row
    const bf16_t* base = qkv + (size_t)b * T_ * 3 * H + h * HS;
    const float keep_scale = 1.f / (1.f - p);

    load_tile<G::ROWS, HS, LD, G::THREADS>(Qs, base, blockIdx.x * G::ROWS, T_, 3 * H, bias_of(qkv_bias, 0, H, h, HS));
    __syncthreads();
    unsigned qa[KS][4];
    a_fragments<KS, LD>(qa, Qs + warp * 16 * LD, g, t);

    float o[ND][4], m[2] = {neg_inf(), neg_inf()}, l[2] = {0.f, 0.f};
    #pragma unroll
    for (int d = 0; d < ND; d++) o[d][0] = o[d][1] = o[d][2] = o[d][3] = 0.f;

    for (int j0 = 0; j0 < T_; j0 += TILE) {
        __syncthreads();  // the previous tile's K/V reads are done
        load_tile<TILE, HS, LD, G::THREADS>(Ks, base + H, j0, T_, 3 * H, bias_of(qkv_bias, 1, H, h, HS));
        load_tile<TILE, HS, LD, G::THREADS>(Vs, base + 2 * H, j0, T_, 3 * H, bias_of(qkv_bias, 2, H, h, HS));
        for (int j = threadIdx.x; j < TILE; j += G::THREADS) valid[j] = j0 + j < T_ && key_mask[b * T_ + j0 + j] != 0;
        __syncthreads();

        float s[NT][4];
        scores<KS, NT, LD>(s, qa, Ks, g, t);
        #pragma unroll
        for (int r = 0; r < 2; r++) {  // r = 0: row g, r = 1: row g + 8
            float tile_max = neg_inf();
            #pragma unroll
            for (int n = 0; n < NT; n++)
                #pragma unroll
                for (int e = 0; e < 2; e++) {
                    float& x = s[n][2 * r + e];
                    x = valid[n * 8 + 2 * t + e] ? x * scale : neg_inf();
                    tile_max = fmaxf(tile_max, x);
                }
            tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
            tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
            const float m_new = fmaxf(m[r], tile_max);
            const float m_use = m_new == neg_inf() ? 0.f : m_new;  // a row with no real key yet: all weights 0
            const float correction = __expf(m[r] - m_use);
            m[r] = m_new;
            l[r] *= correction;
            #pragma unroll
            for (int d = 0; d < ND; d++) { o[d][2 * r] *= correction; o[d][2 * r + 1] *= correction; }
            const int i = i0 + g + 8 * r;
            #pragma unroll
            for (int n = 0; n < NT; n++) {
                float e0 = __expf(s[n][2 * r] - m_use), e1 = __expf(s[n][2 * r + 1] - m_use);
                l[r] += e0 + e1;
                if (p > 0.f) {
                    float f0, f1;
                    dropout_pair(f0, f1, seed, step_offset(offset, rng_base), ((u64)bh * T_ + i) * (u64)T_ + (u64)(j0 + n * 8 + 2 * t), p, keep_scale);
                    e0 *= f0; e1 *= f1;
                }
                s[n][2 * r] = e0; s[n][2 * r + 1] = e1;
            }
        }
        accumulate<NT, ND, LD>(o, s, Vs, g, t);
    }

    #pragma unroll
    for (int r = 0; r < 2; r++) {
        float total = l[r];
        total += __shfl_xor_sync(0xffffffffu, total, 1);
        total += __shfl_xor_sync(0xffffffffu, total, 2);
        const int i = i0 + g + 8 * r;
        if (i >= T_) continue;
        // As in attention.cu: NaN in total (a NaN score) reaches out and lse; total 0 is a row without real keys
        // (output 0, lse −∞) or one whose real keys all scored −∞ (NaN).
        float inv = 1.f / total, row_lse = m[r] + logf(total);
        if (total == 0.f) {
            const bool keyless = !has_real_key(key_mask + (size_t)b * T_, T_);
            inv = keyless ? 0.f : nan_f();
            row_lse = keyless ? neg_inf() : nan_f();
        }
        bf16_t* dst = out + ((size_t)b * T_ + i) * H + h * HS;
        #pragma unroll
        for (int d = 0; d < ND; d++)
            *reinterpret_cast<unsigned*>(dst + d * 8 + 2 * t) = pack(o[d][2 * r] * inv, o[d][2 * r + 1] * inv);
        if (t == 0) lse[(size_t)bh * T_ + i] = row_lse;
    }
}

// ---- backward: dQ (per query tile; also writes D = rowsum(dO∘O)) -----------------------------------------------

template <int HS>
__device__ void backward_dq(const bf16_t* __restrict__ dout, const bf16_t* __restrict__ qkv, const float* __restrict__ qkv_bias,
                            const int* __restrict__ key_mask, const bf16_t* __restrict__ out, const float* __restrict__ lse,
                            int NH, int T_, float scale, float p, u64 seed, u64 offset, const u64* rng_base,
                            float* __restrict__ d_rows, bf16_t* __restrict__ dqkv, float* __restrict__ bias_partials) {
    typedef Geometry<HS> G;
    constexpr int LD = G::LD, KS = G::KS, NT = G::NT, ND = G::ND, TILE = G::TILE, ROWS = G::ROWS;
    __shared__ __align__(16) bf16_t Qs[ROWS * LD];
    __shared__ __align__(16) bf16_t dOs[ROWS * LD];
    __shared__ __align__(16) bf16_t Ks[TILE * LD];
    __shared__ __align__(16) bf16_t Vs[TILE * LD];
    __shared__ float lse_s[ROWS], d_s[ROWS];
    __shared__ int valid[TILE];
    const int bh = blockIdx.y, b = bh / NH, h = bh % NH, H = NH * HS;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int row0 = blockIdx.x * ROWS;
    const bf16_t* base = qkv + (size_t)b * T_ * 3 * H + h * HS;
    const bf16_t* o_base = out + (size_t)b * T_ * H + h * HS;
    const bf16_t* do_base = dout + (size_t)b * T_ * H + h * HS;
    const float keep_scale = 1.f / (1.f - p);

    load_tile<ROWS, HS, LD, G::THREADS>(Qs, base, row0, T_, 3 * H, bias_of(qkv_bias, 0, H, h, HS));
    load_tile<ROWS, HS, LD, G::THREADS>(dOs, do_base, row0, T_, H);
    __syncthreads();
    for (int r = warp; r < ROWS; r += G::WARPS) {  // D_i = dO_i·O_i in F32, one warp per row
        const int i = row0 + r;
        float acc = 0.f;
        if (i < T_)
            for (int c = lane; c < HS; c += 32) acc += bf16_to_float(o_base[(size_t)i * H + c]) * bf16_to_float(dOs[r * LD + c]);
        acc = warp_sum(acc);
        if (lane == 0) {
            d_s[r] = acc;
            lse_s[r] = i < T_ ? lse[(size_t)bh * T_ + i] : neg_inf();
            if (i < T_) d_rows[(size_t)bh * T_ + i] = acc;
        }
    }
    unsigned qa[KS][4], da[KS][4];
    a_fragments<KS, LD>(qa, Qs + warp * 16 * LD, g, t);
    a_fragments<KS, LD>(da, dOs + warp * 16 * LD, g, t);
    __syncthreads();
    float lr[2], dr[2];
    #pragma unroll
    for (int r = 0; r < 2; r++) { lr[r] = lse_s[warp * 16 + g + 8 * r]; dr[r] = d_s[warp * 16 + g + 8 * r]; }

    float dq[ND][4];
    #pragma unroll
    for (int d = 0; d < ND; d++) dq[d][0] = dq[d][1] = dq[d][2] = dq[d][3] = 0.f;
    for (int j0 = 0; j0 < T_; j0 += TILE) {
        __syncthreads();
        load_tile<TILE, HS, LD, G::THREADS>(Ks, base + H, j0, T_, 3 * H, bias_of(qkv_bias, 1, H, h, HS));
        load_tile<TILE, HS, LD, G::THREADS>(Vs, base + 2 * H, j0, T_, 3 * H, bias_of(qkv_bias, 2, H, h, HS));
        for (int j = threadIdx.x; j < TILE; j += G::THREADS) valid[j] = j0 + j < T_ && key_mask[b * T_ + j0 + j] != 0;
        __syncthreads();
        float s[NT][4], dp[NT][4];
        scores<KS, NT, LD>(s, qa, Ks, g, t);
        scores<KS, NT, LD>(dp, da, Vs, g, t);
        #pragma unroll
        for (int r = 0; r < 2; r++) {
            const int i = row0 + warp * 16 + g + 8 * r;
            #pragma unroll
            for (int n = 0; n < NT; n++) {
                float f[2] = {1.f, 1.f};
                if (p > 0.f) dropout_pair(f[0], f[1], seed, step_offset(offset, rng_base), ((u64)bh * T_ + i) * (u64)T_ + (u64)(j0 + n * 8 + 2 * t), p, keep_scale);
                #pragma unroll
                for (int e = 0; e < 2; e++) {
                    const float prob = (lr[r] != neg_inf() && valid[n * 8 + 2 * t + e]) ? __expf(s[n][2 * r + e] * scale - lr[r]) : 0.f;
                    s[n][2 * r + e] = prob * (f[e] * dp[n][2 * r + e] - dr[r]) * scale;  // dS
                }
            }
        }
        accumulate<NT, ND, LD>(dq, s, Ks, g, t);
    }
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        const int i = row0 + warp * 16 + g + 8 * r;
        if (i >= T_) continue;
        bf16_t* dst = dqkv + ((size_t)b * T_ + i) * 3 * H + h * HS;
        #pragma unroll
        for (int d = 0; d < ND; d++) *reinterpret_cast<unsigned*>(dst + d * 8 + 2 * t) = pack(dq[d][2 * r], dq[d][2 * r + 1]);
    }
    if (bias_partials == nullptr) return;
    __shared__ float sums_s[G::WARPS][HS];
    float sums[ND][2];
    const int i = row0 + warp * 16 + g;
    warp_column_sums<ND>(sums, dq, i < T_, i + 8 < T_);
    stash_column_sums<ND, HS>(sums_s, sums, 0, warp, g, t);
    __syncthreads();
    float* partial = bias_partials + ((size_t)b * gridDim.x + blockIdx.x) * 3 * H + h * HS;
    for (int c = threadIdx.x; c < HS; c += G::THREADS) partial[c] = ((sums_s[0][c] + sums_s[1][c]) + sums_s[2][c]) + sums_s[3][c];
}

// ---- backward: dK and dV (per key tile, streaming query tiles; reads D from backward_dq) ----------------------

template <int HS>
__device__ void backward_dkdv(const bf16_t* __restrict__ dout, const bf16_t* __restrict__ qkv, const float* __restrict__ qkv_bias,
                              const int* __restrict__ key_mask, const float* __restrict__ lse, const float* __restrict__ d_rows,
                              int NH, int T_, float scale, float p, u64 seed, u64 offset, const u64* rng_base,
                              bf16_t* __restrict__ dqkv, float* bias_partials, unsigned* tickets, float* __restrict__ dbias) {
    // Query tiles of 32: Sᵀ and dPᵀ then take 32 registers instead of 64 next to the dK, dV accumulators and the
    // K, V fragments (252 registers and spills at 64).
    typedef Geometry<HS, 32> G;
    constexpr int LD = G::LD, KS = G::KS, NT = G::NT, ND = G::ND, TILE = G::TILE, ROWS = G::ROWS;
    __shared__ __align__(16) bf16_t Ks[ROWS * LD];
    __shared__ __align__(16) bf16_t Vs[ROWS * LD];
    __shared__ __align__(16) bf16_t Qs[TILE * LD];
    __shared__ __align__(16) bf16_t dOs[TILE * LD];
    __shared__ float lse_s[TILE], d_s[TILE];
    const int bh = blockIdx.y, b = bh / NH, h = bh % NH, H = NH * HS;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int key0 = blockIdx.x * ROWS;
    const bf16_t* base = qkv + (size_t)b * T_ * 3 * H + h * HS;
    const bf16_t* do_base = dout + (size_t)b * T_ * H + h * HS;
    const float keep_scale = 1.f / (1.f - p);

    load_tile<ROWS, HS, LD, G::THREADS>(Ks, base + H, key0, T_, 3 * H, bias_of(qkv_bias, 1, H, h, HS));
    load_tile<ROWS, HS, LD, G::THREADS>(Vs, base + 2 * H, key0, T_, 3 * H, bias_of(qkv_bias, 2, H, h, HS));
    __syncthreads();
    unsigned ka[KS][4], va[KS][4];
    a_fragments<KS, LD>(ka, Ks + warp * 16 * LD, g, t);
    a_fragments<KS, LD>(va, Vs + warp * 16 * LD, g, t);
    bool key_ok[2];
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        const int j = key0 + warp * 16 + g + 8 * r;
        key_ok[r] = j < T_ && key_mask[b * T_ + j] != 0;
    }

    float dk[ND][4], dv[ND][4];
    #pragma unroll
    for (int d = 0; d < ND; d++) {
        dk[d][0] = dk[d][1] = dk[d][2] = dk[d][3] = 0.f;
        dv[d][0] = dv[d][1] = dv[d][2] = dv[d][3] = 0.f;
    }
    for (int i0 = 0; i0 < T_; i0 += TILE) {
        __syncthreads();
        load_tile<TILE, HS, LD, G::THREADS>(Qs, base, i0, T_, 3 * H, bias_of(qkv_bias, 0, H, h, HS));
        load_tile<TILE, HS, LD, G::THREADS>(dOs, do_base, i0, T_, H);
        for (int q = threadIdx.x; q < TILE; q += G::THREADS) {
            const bool in = i0 + q < T_;
            lse_s[q] = in ? lse[(size_t)bh * T_ + i0 + q] : neg_inf();
            d_s[q] = in ? d_rows[(size_t)bh * T_ + i0 + q] : 0.f;
        }
        __syncthreads();
        float st[NT][4], dpt[NT][4];  // Sᵀ and dPᵀ: rows = the warp's keys, columns = the tile's queries
        scores<KS, NT, LD>(st, ka, Qs, g, t);
        scores<KS, NT, LD>(dpt, va, dOs, g, t);
        #pragma unroll
        for (int r = 0; r < 2; r++) {
            const u64 j = (u64)(key0 + warp * 16 + g + 8 * r);
            #pragma unroll
            for (int n = 0; n < NT; n++)
                #pragma unroll
                for (int e = 0; e < 2; e++) {
                    const int q = n * 8 + 2 * t + e;
                    const float l = lse_s[q];
                    const float prob = (key_ok[r] && l != neg_inf()) ? __expf(st[n][2 * r + e] * scale - l) : 0.f;
                    float f = 1.f;
                    if (p > 0.f) f = keep_factor(philox_bits(seed, step_offset(offset, rng_base), ((u64)bh * T_ + (u64)(i0 + q)) * (u64)T_ + j), p, keep_scale);
                    st[n][2 * r + e] = prob * f;                                          // P̃ᵀ
                    dpt[n][2 * r + e] = prob * (f * dpt[n][2 * r + e] - d_s[q]) * scale;  // dSᵀ
                }
        }
        accumulate<NT, ND, LD>(dv, st, dOs, g, t);
        accumulate<NT, ND, LD>(dk, dpt, Qs, g, t);
    }
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        const int j = key0 + warp * 16 + g + 8 * r;
        if (j >= T_) continue;
        bf16_t* dst = dqkv + ((size_t)b * T_ + j) * 3 * H + h * HS;
        #pragma unroll
        for (int d = 0; d < ND; d++) {
            *reinterpret_cast<unsigned*>(dst + H + d * 8 + 2 * t) = pack(dk[d][2 * r], dk[d][2 * r + 1]);
            *reinterpret_cast<unsigned*>(dst + 2 * H + d * 8 + 2 * t) = pack(dv[d][2 * r], dv[d][2 * r + 1]);
        }
    }
    if (bias_partials == nullptr) return;
    __shared__ float sums_s[G::WARPS][2 * HS];  // dK's columns, then dV's
    float sums[ND][2];
    const int j = key0 + warp * 16 + g;
    warp_column_sums<ND>(sums, dk, j < T_, j + 8 < T_);
    stash_column_sums<ND, 2 * HS>(sums_s, sums, 0, warp, g, t);
    warp_column_sums<ND>(sums, dv, j < T_, j + 8 < T_);
    stash_column_sums<ND, 2 * HS>(sums_s, sums, HS, warp, g, t);
    __syncthreads();
    float* partial = bias_partials + ((size_t)b * gridDim.x + blockIdx.x) * 3 * H + h * HS;
    for (int c = threadIdx.x; c < 2 * HS; c += G::THREADS)
        partial[(c < HS ? H : 2 * H - HS) + c] = ((sums_s[0][c] + sums_s[1][c]) + sums_s[2][c]) + sums_s[3][c];
    const int rows = (int)(gridDim.x * (gridDim.y / NH));
    finish_qkv_bias_gradient(bias_partials, rows, 3 * H, bias_partials + H, rows, 3 * H, tickets, dbias, h, HS, H);
}

}  // namespace attn_mma

// Same parameters as attention.cu's bf16 kernels (qkv_bias [3H] F32 or null), and in the backward the bias
// gradient's partials [B·⌈T/64⌉, 3H] (null: no bias gradient), tickets (zeroed; one per head) and dbias [3H];
// grid = (⌈T/64⌉, B·NH), block = 128 for all three (each block owns 64 query rows, or 64 key rows for dK/dV).
#define ATTN_MMA_FAMILY(HS)                                                                                      \
    extern "C" __global__ void __launch_bounds__(128) attention_forward_mma_bf16_hs##HS(                         \
        const bf16_t* __restrict__ qkv, const float* __restrict__ qkv_bias, const int* __restrict__ key_mask,    \
        int NH, int T, float scale, float p, unsigned long long seed, unsigned long long offset,                 \
        const unsigned long long* __restrict__ rng_base, bf16_t* __restrict__ out, float* __restrict__ lse) {    \
        attn_mma::forward<HS>(qkv, qkv_bias, key_mask, NH, T, scale, p, seed, offset, rng_base, out, lse);       \
    }                                                                                                            \
    extern "C" __global__ void __launch_bounds__(128) attention_backward_dq_mma_bf16_hs##HS(                     \
        const bf16_t* __restrict__ dout, const bf16_t* __restrict__ qkv, const float* __restrict__ qkv_bias,     \
        const int* __restrict__ key_mask, const bf16_t* __restrict__ out, const float* __restrict__ lse, int NH, \
        int T, float scale, float p, unsigned long long seed, unsigned long long offset,                         \
        const unsigned long long* __restrict__ rng_base, float* __restrict__ d_rows, bf16_t* __restrict__ dqkv,  \
        float* __restrict__ bias_partials) {                                                                     \
        attn_mma::backward_dq<HS>(dout, qkv, qkv_bias, key_mask, out, lse, NH, T, scale, p, seed, offset,        \
                                  rng_base, d_rows, dqkv, bias_partials);                                        \
    }                                                                                                            \
    extern "C" __global__ void __launch_bounds__(128) attention_backward_dkdv_mma_bf16_hs##HS(                   \
        const bf16_t* __restrict__ dout, const bf16_t* __restrict__ qkv, const float* __restrict__ qkv_bias,     \
        const int* __restrict__ key_mask, const float* __restrict__ lse, const float* __restrict__ d_rows,       \
        int NH, int T, float scale, float p, unsigned long long seed, unsigned long long offset,                 \
        const unsigned long long* __restrict__ rng_base, bf16_t* __restrict__ dqkv, float* bias_partials,        \
        unsigned* tickets, float* __restrict__ dbias) {                                                          \
        attn_mma::backward_dkdv<HS>(dout, qkv, qkv_bias, key_mask, lse, d_rows, NH, T, scale, p, seed, offset,   \
                                    rng_base, dqkv, bias_partials, tickets, dbias);                              \
    }
ATTN_MMA_FAMILY(32)
ATTN_MMA_FAMILY(64)
