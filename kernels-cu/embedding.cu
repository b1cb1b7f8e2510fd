// Embedding gather/scatter and row gather/scatter. Out-of-range ids cannot throw on the device: they are
// reported through `errors` (see report_error) and the host raises the exception at its next synchronisation.
// Mixed precision: the tables and their gradients are F32 parameters; the `_bf16` instances write bf16 activation
// rows (forward) and read bf16 gradient rows (backward), accumulating in F32. Row gather/scatter move raw 4-byte
// or 2-byte elements (`_u16`); the accumulating scatter adds bf16 rows in F32 and rounds once.
#include "common.cuh"

#define ERROR_EMBEDDING_ID 1
#define ERROR_GATHER_INDEX 2
#define ERROR_SCATTER_INDEX 3

namespace emb {

// output[r, :] = table[ids[r], :]. table [V, E]; ids [R]; output [R, E].
template <typename T>
__device__ __forceinline__ void embedding_forward(const float* table, const int* ids, T* out, i64 rows, int V, int E, int* errors)
{
    GRID_STRIDE(i, rows * E)
    {
        i64 r = i / E;
        int id = ids[r];
        if ((unsigned)id >= (unsigned)V)
        {
            report_error(errors, ERROR_EMBEDDING_ID, r, id);
            store1(out + i, __int_as_float(0x7fc00000));
            continue;
        }
        store1(out + i, table[(i64)id * E + (i - r * E)]);
    }
}

// dTable[ids[r], :] += dOut[r, :], deterministically and without atomics: thread (column j, partition p) owns
// column j of every table row with id % P == p, walks the positions in order and adds its rows' values. A run of
// equal ids (padding, [MASK], token type 0) is summed in a register and added once when the id changes.
// blockDim.x = 128 columns; grid = (ceil(E/128), P).
template <typename T>
__device__ __forceinline__ void embedding_backward(const T* dOut, const int* ids, float* dTable, i64 rows, int V, int E)
{
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    int p = blockIdx.y, parts = gridDim.y;
    if (j >= E) return;
    int current = -1;
    float acc = 0.f;
    const int BATCH = 8;
    for (i64 r0 = 0; r0 < rows; r0 += BATCH)
    {
        int id[BATCH];
        float v[BATCH];
#pragma unroll
        for (int k = 0; k < BATCH; k++)
        {
            i64 r = r0 + k;
            id[k] = r < rows ? ids[r] : -1;
            bool mine = id[k] >= 0 && id[k] < V && id[k] % parts == p;
            v[k] = mine ? load1(dOut + r * E + j) : 0.f;
            if (!mine) id[k] = -1;
        }
#pragma unroll
        for (int k = 0; k < BATCH; k++)
        {
            if (id[k] < 0) continue;
            if (id[k] != current)
            {
                if (current >= 0) dTable[(i64)current * E + j] += acc;
                current = id[k];
                acc = 0.f;
            }
            acc += v[k];
        }
    }
    if (current >= 0) dTable[(i64)current * E + j] += acc;
}

// dst[m, :] = src[indices[m], :] for raw elements U (int: any 4-byte dtype; unsigned short: bf16). src [R, C];
// dst [M, C]. A bad index leaves a NaN (of either width) in its row.
template <typename U>
__device__ __forceinline__ void gather_rows(const U* src, const int* indices, U* dst, i64 m, int cols, int rows, int* errors,
                                            U poison)
{
    GRID_STRIDE(i, m * cols)
    {
        i64 r = i / cols;
        int idx = indices[r];
        if ((unsigned)idx >= (unsigned)rows) { report_error(errors, ERROR_GATHER_INDEX, r, idx); dst[i] = poison; continue; }
        dst[i] = src[(i64)idx * cols + (i - r * cols)];
    }
}

// dst[indices[m], :] = src[m, :] (indices distinct, so no two threads write one element).
template <typename U>
__device__ __forceinline__ void scatter_rows(const U* src, const int* indices, U* dst, i64 m, int cols, int rows, int* errors)
{
    GRID_STRIDE(i, m * cols)
    {
        i64 r = i / cols;
        int idx = indices[r];
        if ((unsigned)idx >= (unsigned)rows) { report_error(errors, ERROR_SCATTER_INDEX, r, idx); continue; }
        dst[(i64)idx * cols + (i - r * cols)] = src[i];
    }
}

template <typename T>
__device__ __forceinline__ void scatter_rows_add(const T* src, const int* indices, T* dst, i64 m, int cols, int rows, int* errors)
{
    GRID_STRIDE(i, m * cols)
    {
        i64 r = i / cols;
        int idx = indices[r];
        if ((unsigned)idx >= (unsigned)rows) { report_error(errors, ERROR_SCATTER_INDEX, r, idx); continue; }
        T* d = dst + (i64)idx * cols + (i - r * cols);
        store1(d, load1(d) + load1(src + i));
    }
}

}  // namespace emb

extern "C" __global__ void embedding_forward(const float* table, const int* ids, float* out, i64 rows, int V, int E, int* errors)
{
    emb::embedding_forward(table, ids, out, rows, V, E, errors);
}

extern "C" __global__ void embedding_forward_bf16(const float* table, const int* ids, bf16_t* out, i64 rows, int V, int E,
                                                  int* errors)
{
    emb::embedding_forward(table, ids, out, rows, V, E, errors);
}

// blockDim.x = 128 columns; grid = (ceil(E/128), P).
extern "C" __global__ void embedding_backward(const float* dOut, const int* ids, float* dTable, i64 rows, int V, int E)
{
    emb::embedding_backward(dOut, ids, dTable, rows, V, E);
}

extern "C" __global__ void embedding_backward_bf16(const bf16_t* dOut, const int* ids, float* dTable, i64 rows, int V, int E)
{
    emb::embedding_backward(dOut, ids, dTable, rows, V, E);
}

extern "C" __global__ void gather_rows(const int* src, const int* indices, int* dst, i64 m, int cols, int rows, int* errors)
{
    emb::gather_rows(src, indices, dst, m, cols, rows, errors, 0x7fc00000);
}

extern "C" __global__ void gather_rows_u16(const unsigned short* src, const int* indices, unsigned short* dst, i64 m, int cols,
                                           int rows, int* errors)
{
    emb::gather_rows(src, indices, dst, m, cols, rows, errors, (unsigned short)0x7fc0);
}

extern "C" __global__ void scatter_rows(const int* src, const int* indices, int* dst, i64 m, int cols, int rows, int* errors)
{
    emb::scatter_rows(src, indices, dst, m, cols, rows, errors);
}

extern "C" __global__ void scatter_rows_u16(const unsigned short* src, const int* indices, unsigned short* dst, i64 m, int cols,
                                            int rows, int* errors)
{
    emb::scatter_rows(src, indices, dst, m, cols, rows, errors);
}

extern "C" __global__ void scatter_rows_add(const float* src, const int* indices, float* dst, i64 m, int cols, int rows,
                                            int* errors)
{
    emb::scatter_rows_add(src, indices, dst, m, cols, rows, errors);
}

extern "C" __global__ void scatter_rows_add_bf16(const bf16_t* src, const int* indices, bf16_t* dst, i64 m, int cols, int rows,
                                                 int* errors)
{
    emb::scatter_rows_add(src, indices, dst, m, cols, rows, errors);
}
