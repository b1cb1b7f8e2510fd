// ELECTRA's embeddings as one op: out[b·T + t] = word[ids[b, t]] + position[t] + type[typeIds[b, t]], summed in F32 in
// that order and rounded once (the `_bf16` instances write bf16 rows; tables and their gradients are F32).
//
// The backward takes two launches and no atomics in any sum. A word row's gradient sums the rows of every position
// holding its id, so the ids must be grouped, and grouping the whole batch needs a step between blocks: pass 1 sorts
// tiles of TILE positions in shared memory and sums each id's rows within its tile in position order (one "piece"
// per id and tile); pass 2 gives each word-table row one warp, which finds the row's id in every tile's sorted list
// and adds the tiles' pieces in tile order. The other blocks of pass 1 sum the position gradient (Σ over the batch)
// and the token-type pieces per position, the last of them (ticket, as common.cuh's column_sums_of) adding those in
// position order. Every sum has a fixed order, so the bits do not depend on scheduling. [PAD] rows are never summed.
// Out-of-range ids are reported by the forward (report_error; the host raises at its next synchronisation) and skipped
// by the backward.
#include "common.cuh"

#define ERROR_EMBEDDING_ID 1  // embedding.cu's code: the host's message names the id and the position
#define ERROR_TOKEN_TYPE_ID 5

#define TILE 256              // positions per sorted tile = threads per block of pass 1
#define NO_ID 0x7fffffff      // sorts after every word id: [PAD], bad ids and the rows past B·T
#define WORD_COLS 8           // columns per lane in pass 2 (256 per round)

namespace embsum {

template <typename T>
__device__ __forceinline__ void forward(const float* word, const float* position, const float* type, const int* ids,
    const int* typeIds, T* out, i64 rows, int seq, int V, int K, int E, int* errors)
{
    GRID_STRIDE(i, rows * E)
    {
        i64 r = i / E;
        int c = (int)(i - r * E);
        int id = ids[r], k = typeIds[r];
        bool badId = (unsigned)id >= (unsigned)V, badType = (unsigned)k >= (unsigned)K;
        if (badId || badType)
        {
            if (c == 0) report_error(errors, badId ? ERROR_EMBEDDING_ID : ERROR_TOKEN_TYPE_ID, r, badId ? id : k);
            store1(out + i, __int_as_float(0x7fc00000));
            continue;
        }
        int t = (int)(r % seq);
        float v = word[(i64)id * E + c] + position[(i64)t * E + c];
        store1(out + i, v + type[(i64)k * E + c]);
    }
}

// Pass 1, word role: tile `tile` of positions. Writes the tile's sorted ids (tileIds, NO_ID last) and, at the sorted
// index where each id's run starts, that run's sum (partials row).
template <typename T>
__device__ __forceinline__ void word_pieces(const T* dOut, const int* ids, int rows, int V, int E, int padId, int tile, int* tileIds,
    float* partials)
{
    __shared__ u64 keys[TILE];
    __shared__ int heads[TILE];
    __shared__ int warpHeads[TILE / WARP_SIZE];
    int i = threadIdx.x, lane = i % WARP_SIZE, warp = i / WARP_SIZE;
    int r = tile * TILE + i;
    int id = r < rows ? ids[r] : NO_ID;
    if (id == padId || (unsigned)id >= (unsigned)V) id = NO_ID;
    // The position in the low bits makes every key distinct: the sorted order is unique, equal ids in position order.
    keys[i] = ((u64)(unsigned)id << 32) | (unsigned)i;
    __syncthreads();
    for (int k = 2; k <= TILE; k <<= 1)
        for (int j = k >> 1; j > 0; j >>= 1)
        {
            int partner = i ^ j;
            if (partner > i)
            {
                u64 a = keys[i], b = keys[partner];
                if ((a > b) == ((i & k) == 0)) { keys[i] = b; keys[partner] = a; }
            }
            __syncthreads();
        }
    int sid = (int)(keys[i] >> 32);
    tileIds[(i64)tile * TILE + i] = sid;
    bool head = sid != NO_ID && (i == 0 || (int)(keys[i - 1] >> 32) != sid);
    unsigned ballot = __ballot_sync(FULL_MASK, head);
    if (lane == 0) warpHeads[warp] = __popc(ballot);
    __syncthreads();
    int before = 0, pieces = 0;
    for (int w = 0; w < TILE / WARP_SIZE; w++)
    {
        before += w < warp ? warpHeads[w] : 0;
        pieces += warpHeads[w];
    }
    if (head) heads[before + __popc(ballot & ((1u << lane) - 1u))] = i;
    __syncthreads();
    // One warp per piece, lanes across the columns; a piece's rows are added in position order.
    for (int p = warp; p < pieces; p += TILE / WARP_SIZE)
    {
        int start = heads[p];
        int pid = (int)(keys[start] >> 32);
        float* dst = partials + ((i64)tile * TILE + start) * E;
        for (int c = lane; c < E; c += WARP_SIZE)
        {
            float acc = 0.f;
            for (int e = start; e < TILE && (int)(keys[e] >> 32) == pid; e++)
                acc += load1(dOut + ((i64)tile * TILE + (int)(unsigned)keys[e]) * E + c);
            dst[c] = acc;
        }
    }
}

// Pass 1, position role: block q owns 32 columns of position t. dPosition[t] = Σ_b dOut[b, t] (8 row lanes combined in
// lane order); the token-type pieces of position t go to typePartials [T, K, E], and the last block of the column
// tile adds them in position order into dType. Without `accumulate`, rows t + T, t + 2T, … < P of dPosition are zeroed.
template <typename T>
__device__ __forceinline__ void position_and_type(const T* dOut, const int* typeIds, int rows, int seq, int K, int E, int P, int q,
    float* typePartials, unsigned* tickets, float* dPosition, float* dType, int accumulate)
{
    __shared__ float lanes[8][WARP_SIZE + 1];
    __shared__ int last;
    int colTiles = (E + WARP_SIZE - 1) / WARP_SIZE;
    int tile = q % colTiles, t = q / colTiles;
    int x = threadIdx.x % WARP_SIZE, y = threadIdx.x / WARP_SIZE;
    int col = tile * WARP_SIZE + x, batch = rows / seq;
    float acc = 0.f;
    if (col < E)
        for (int b = y; b < batch; b += 8) acc += load1(dOut + ((i64)b * seq + t) * E + col);
    lanes[y][x] = acc;
    __syncthreads();
    if (y == 0 && col < E)
    {
        float s = lanes[0][x];
        for (int k = 1; k < 8; k++) s += lanes[k][x];
        float* d = dPosition + (i64)t * E + col;
        *d = accumulate ? *d + s : s;
        if (!accumulate)
            for (int u = t + seq; u < P; u += seq) dPosition[(i64)u * E + col] = 0.f;
    }
    for (int k = 0; k < K; k++)
    {
        __syncthreads(); // lanes is still being read
        float a = 0.f;
        if (col < E)
            for (int b = y; b < batch; b += 8)
                if (typeIds[(i64)b * seq + t] == k) a += load1(dOut + ((i64)b * seq + t) * E + col);
        lanes[y][x] = a;
        __syncthreads();
        if (y == 0 && col < E)
        {
            float s = lanes[0][x];
            for (int l = 1; l < 8; l++) s += lanes[l][x];
            typePartials[((i64)t * K + k) * E + col] = s;
        }
    }
    // The pieces must be visible device-wide before the ticket says they are there.
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0)
    {
        last = atomicAdd(&tickets[tile], 1u) == (unsigned)seq - 1u;
        if (last) tickets[tile] = 0;
    }
    __syncthreads();
    if (!last || col >= E) return;
    const volatile float* p = typePartials; // written on other SMs: read past this SM's L1
    for (int k = y; k < K; k += 8)
    {
        float total = 0.f;
        for (int u = 0; u < seq; u++) total += p[((i64)u * K + k) * E + col];
        float* d = dType + (i64)k * E + col;
        *d = accumulate ? *d + total : total;
    }
}

// Blocks [0, tiles) take the word role, the next ⌈E/32⌉·T the position role.
template <typename T>
__device__ __forceinline__ void backward(const T* dOut, const int* ids, const int* typeIds, int rows, int seq, int V, int K, int E,
    int P, int padId, int* tileIds, float* partials, float* typePartials, unsigned* tickets, float* dPosition, float* dType,
    int accumulate)
{
    int tiles = (rows + TILE - 1) / TILE;
    if ((int)blockIdx.x < tiles) word_pieces(dOut, ids, rows, V, E, padId, blockIdx.x, tileIds, partials);
    else position_and_type(dOut, typeIds, rows, seq, K, E, P, blockIdx.x - tiles, typePartials, tickets, dPosition, dType, accumulate);
}

}  // namespace embsum

extern "C" __global__ void embedding_sum_forward(const float* word, const float* position, const float* type, const int* ids,
    const int* typeIds, float* out, i64 rows, int seq, int V, int K, int E, int* errors)
{
    embsum::forward(word, position, type, ids, typeIds, out, rows, seq, V, K, E, errors);
}

extern "C" __global__ void embedding_sum_forward_bf16(const float* word, const float* position, const float* type, const int* ids,
    const int* typeIds, bf16_t* out, i64 rows, int seq, int V, int K, int E, int* errors)
{
    embsum::forward(word, position, type, ids, typeIds, out, rows, seq, V, K, E, errors);
}

// Pass 1. blockDim = TILE; grid = ⌈rows/TILE⌉ + ⌈E/32⌉·seq. No __launch_bounds__: with it NVRTC 11.8 keeps sm_80 at 40
// registers and spills 4 bytes; without, 46 and none.
extern "C" __global__ void embedding_sum_backward(const float* dOut, const int* ids, const int* typeIds,
    int rows, int seq, int V, int K, int E, int P, int padId, int* tileIds, float* partials, float* typePartials, unsigned* tickets,
    float* dPosition, float* dType, int accumulate)
{
    embsum::backward(dOut, ids, typeIds, rows, seq, V, K, E, P, padId, tileIds, partials, typePartials, tickets, dPosition, dType,
                     accumulate);
}

extern "C" __global__ void embedding_sum_backward_bf16(const bf16_t* dOut, const int* ids,
    const int* typeIds, int rows, int seq, int V, int K, int E, int P, int padId, int* tileIds, float* partials,
    float* typePartials, unsigned* tickets, float* dPosition, float* dType, int accumulate)
{
    embsum::backward(dOut, ids, typeIds, rows, seq, V, K, E, P, padId, tileIds, partials, typePartials, tickets, dPosition, dType,
                     accumulate);
}

// Pass 2: one warp per word-table row v (blockDim 256: 8 rows per block). Lane l binary-searches tile l (of each 32)
// for v; the pieces found are added in tile order. Without `accumulate` every row is written (zero where no
// position holds v, and for [PAD]), so the gradient needs no clearing first; with it, only rows that got pieces change.
extern "C" __global__ void __launch_bounds__(256) embedding_sum_backward_words(const float* partials, const int* tileIds, int tiles,
    int V, int E, int padId, float* dWord, int accumulate)
{
    int lane = threadIdx.x % WARP_SIZE;
    int v = blockIdx.x * (blockDim.x / WARP_SIZE) + threadIdx.x / WARP_SIZE;
    if (v >= V) return; // the whole warp
    float* row = dWord + (i64)v * E;
    if (v == padId)
    {
        if (!accumulate)
            for (int c = lane; c < E; c += WARP_SIZE) row[c] = 0.f;
        return;
    }
    for (int c0 = 0; c0 < E; c0 += WARP_SIZE * WORD_COLS)
    {
        float acc[WORD_COLS];
#pragma unroll
        for (int m = 0; m < WORD_COLS; m++) acc[m] = 0.f;
        bool any = false;
        for (int t0 = 0; t0 < tiles; t0 += WARP_SIZE)
        {
            int at = -1;
            if (t0 + lane < tiles)
            {
                const int* list = tileIds + (i64)(t0 + lane) * TILE;
                int lo = 0, hi = TILE;
                while (lo < hi)
                {
                    int mid = (lo + hi) >> 1;
                    if (list[mid] < v) lo = mid + 1;
                    else hi = mid;
                }
                if (lo < TILE && list[lo] == v) at = lo;
            }
            unsigned found = __ballot_sync(FULL_MASK, at >= 0);
            any = any || found != 0;
            while (found != 0)
            {
                int l = __ffs((int)found) - 1;
                found &= found - 1u;
                int start = __shfl_sync(FULL_MASK, at, l);
                const float* piece = partials + ((i64)(t0 + l) * TILE + start) * E;
#pragma unroll
                for (int m = 0; m < WORD_COLS; m++)
                {
                    int c = c0 + m * WARP_SIZE + lane;
                    if (c < E) acc[m] += piece[c];
                }
            }
        }
#pragma unroll
        for (int m = 0; m < WORD_COLS; m++)
        {
            int c = c0 + m * WARP_SIZE + lane;
            if (c >= E) continue;
            if (!accumulate) row[c] = acc[m];
            else if (any) row[c] += acc[m];
        }
    }
}
