// BCE-with-logits, forward and gradient in one pass, in the CPU backend's formulation (finite for large |x|).
#include "common.cuh"

// The gradient scale is gradScale, times *scale_by when given (1/Σw kept on the device by a fixed-shape step).
extern "C" __global__ void bce_with_logits(const float* x, const float* y, const float* w, float* losses, float* dx, float gradScale, i64 n,
                                           const float* scale_by)
{
    if (scale_by != nullptr) gradScale *= *scale_by;
    GRID_STRIDE(i, n)
    {
        float xi = x[i], yi = y[i], wi = w[i];
        float softplus = fmaxf(xi, 0.f) + logf(1.f + expf(-fabsf(xi)));
        losses[i] = wi * (softplus - yi * xi);
        float sigmoid = 1.f / (1.f + expf(-xi));
        dx[i] = (sigmoid - yi) * wi * gradScale;
    }
}
