// AdamW over every parameter in one launch: the host passes a table of chunks (pointers into parameter, grad and
// both moments, a length, the weight decay), one block per chunk. The math is Electra.Cpu.CpuBackend.AdamW's.
// Mixed precision: a chunk may also point at the parameter's bf16 copy (the GEMM operand of the bf16 step), which
// is written in the same pass as the F32 update, rounded to nearest even, so it never lags the master weights.
#include "common.cuh"

struct AdamChunk { float* p; const float* g; float* m; float* v; int count; float weightDecay; bf16_t* copy; };

extern "C" __global__ void adamw_step(const AdamChunk* chunks, const float* lr_state, float lr_argument, float beta1, float beta2,
                                   float eps, float c1, float c2)
{
    // A captured graph reads the step's lr from the backend's step state; an eager launch passes it by value.
    const float lr = lr_state != nullptr ? *lr_state : lr_argument;
    AdamChunk c = chunks[blockIdx.x];
    for (int i = threadIdx.x; i < c.count; i += blockDim.x)
    {
        float g = c.g[i];
        float m = beta1 * c.m[i] + (1.f - beta1) * g;
        float v = beta2 * c.v[i] + (1.f - beta2) * g * g;
        c.m[i] = m;
        c.v[i] = v;
        float p = c.p[i];
        float update = m * c1 / (sqrtf(v * c2) + eps) + c.weightDecay * p;
        float next = p - lr * update;
        c.p[i] = next;
        if (c.copy != nullptr) c.copy[i] = float_to_bf16(next);
    }
}
