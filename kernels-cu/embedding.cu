// Embedding gather/scatter and row gather/scatter. Out-of-range ids cannot throw on the device: they are
// reported through `errors` (see report_error) and the host raises the exception at its next synchronisation.
#include "common.cuh"

#define ERROR_EMBEDDING_ID 1
#define ERROR_GATHER_INDEX 2
#define ERROR_SCATTER_INDEX 3

// output[r, :] = table[ids[r], :]. table [V, E]; ids [R]; output [R, E].
extern "C" __global__ void embedding_forward(const float* table, const int* ids, float* out, i64 rows, int V, int E, int* errors)
{
    GRID_STRIDE(i, rows * E)
    {
        i64 r = i / E;
        int id = ids[r];
        if ((unsigned)id >= (unsigned)V)
        {
            report_error(errors, ERROR_EMBEDDING_ID, r, id);
            out[i] = __int_as_float(0x7fc00000);
            continue;
        }
        out[i] = table[(i64)id * E + (i - r * E)];
    }
}

// dTable[ids[r], :] += dOut[r, :], deterministically and without atomics: thread (column j, partition p) owns
// column j of every table row with id % P == p, walks the positions in order and adds its rows' values. A run of
// equal ids (padding, [MASK], token type 0) is summed in a register and added once when the id changes.
// blockDim.x = 128 columns; grid = (ceil(E/128), P).
extern "C" __global__ void embedding_backward(const float* dOut, const int* ids, float* dTable, i64 rows, int V, int E)
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
            v[k] = mine ? dOut[r * E + j] : 0.f;
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

// dst[m, :] = src[indices[m], :] for 4-byte elements. src [R, C]; dst [M, C].
extern "C" __global__ void gather_rows(const int* src, const int* indices, int* dst, i64 m, int cols, int rows, int* errors)
{
    GRID_STRIDE(i, m * cols)
    {
        i64 r = i / cols;
        int idx = indices[r];
        if ((unsigned)idx >= (unsigned)rows) { report_error(errors, ERROR_GATHER_INDEX, r, idx); dst[i] = 0x7fc00000; continue; }
        dst[i] = src[(i64)idx * cols + (i - r * cols)];
    }
}

// dst[indices[m], :] = src[m, :] (indices distinct, so no two threads write one element).
extern "C" __global__ void scatter_rows(const int* src, const int* indices, int* dst, i64 m, int cols, int rows, int* errors)
{
    GRID_STRIDE(i, m * cols)
    {
        i64 r = i / cols;
        int idx = indices[r];
        if ((unsigned)idx >= (unsigned)rows) { report_error(errors, ERROR_SCATTER_INDEX, r, idx); continue; }
        dst[(i64)idx * cols + (i - r * cols)] = src[i];
    }
}

extern "C" __global__ void scatter_rows_add(const float* src, const int* indices, float* dst, i64 m, int cols, int rows, int* errors)
{
    GRID_STRIDE(i, m * cols)
    {
        i64 r = i / cols;
        int idx = indices[r];
        if ((unsigned)idx >= (unsigned)rows) { report_error(errors, ERROR_SCATTER_INDEX, r, idx); continue; }
        dst[(i64)idx * cols + (i - r * cols)] += src[i];
    }
}
