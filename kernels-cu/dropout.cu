// Inverted dropout with the Philox stream of Electra.Philox: element i keeps iff uniform(bits(seed, offset, i)) ≥ p.
// One Philox block serves four consecutive elements, so each thread handles four. The bf16 instance draws the same
// mask; a kept value is x·keepScale in F32, rounded once on store.
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void dropout(const T* x, T* y, float p, float keepScale, u64 seed, u64 offset, i64 n)
{
    GRID_STRIDE(b, (n + 3) / 4)
    {
        philox4 r = philox_words(seed, offset, (u64)b);
        unsigned words[4] = { r.x, r.y, r.z, r.w };
#pragma unroll
        for (int w = 0; w < 4; w++)
        {
            i64 i = b * 4 + w;
            if (i < n) store1(y + i, philox_uniform(words[w]) >= p ? load1(x + i) * keepScale : 0.f);
        }
    }
}

extern "C" __global__ void dropout_forward(const float* x, float* y, float p, float keepScale, u64 seed, u64 offset,
                                           const u64* rng_base, i64 n)
{
    dropout(x, y, p, keepScale, seed, step_offset(offset, rng_base), n);
}

extern "C" __global__ void dropout_forward_bf16(const bf16_t* x, bf16_t* y, float p, float keepScale, u64 seed,
                                                u64 offset, const u64* rng_base, i64 n)
{
    dropout(x, y, p, keepScale, seed, step_offset(offset, rng_base), n);
}
