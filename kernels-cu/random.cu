// The raw Philox stream and its derived draws, element by element: what the parity tests compare with the C#
// Philox, and what any op that needs plain random numbers on the device can use.
#include "common.cuh"

// bits[i] = Philox(seed, offset, start + i), one Philox block per thread for four consecutive elements.
extern "C" __global__ void philox_bits_kernel(unsigned* bits, u64 seed, u64 offset, u64 start, i64 n)
{
    GRID_STRIDE(i, n)
    {
        u64 index = start + (u64)i;
        bits[i] = philox_bits(seed, offset, index);
    }
}

// uniform[i], open[i], gumbel[i] of element start + i.
extern "C" __global__ void philox_draws_kernel(float* uniform, float* open, float* gumbel, u64 seed, u64 offset, u64 start, i64 n)
{
    GRID_STRIDE(i, n)
    {
        unsigned b = philox_bits(seed, offset, start + (u64)i);
        uniform[i] = philox_uniform(b);
        open[i] = philox_uniform_open(b);
        gumbel[i] = philox_gumbel(b);
    }
}

// y = portable_log(x) element-wise: the log both devices must agree on bit for bit.
extern "C" __global__ void portable_log_kernel(const float* x, float* y, i64 n)
{
    GRID_STRIDE(i, n) y[i] = portable_log(x[i]);
}
