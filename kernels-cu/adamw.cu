// AdamW over every parameter in one launch: the host passes a table of chunks (pointers into parameter, grad and
// both moments, a length, the weight decay), one block per chunk. The math is Electra.Cpu.CpuBackend.AdamW's.
#include "common.cuh"

struct AdamChunk { float* p; const float* g; float* m; float* v; int count; float weightDecay; };

extern "C" __global__ void adamw_step(const AdamChunk* chunks, float lr, float beta1, float beta2, float eps, float c1, float c2)
{
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
        c.p[i] = p - lr * update;
    }
}
