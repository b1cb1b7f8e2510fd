// Element-wise primitives of CudaBackend. All are memory-bound one-pass kernels over a flat range with a
// grid-stride loop; the F32 math mirrors Electra.Cpu.CpuBackend expression by expression.
#include "common.cuh"

extern "C" __global__ void fill_u16(unsigned short* dst, unsigned short value, i64 n)
{
    GRID_STRIDE(i, n) dst[i] = value;
}

extern "C" __global__ void f32_to_bf16(const float* src, bf16_t* dst, i64 n)
{
    GRID_STRIDE(i, n) dst[i] = float_to_bf16(src[i]);
}

extern "C" __global__ void bf16_to_f32(const bf16_t* src, float* dst, i64 n)
{
    GRID_STRIDE(i, n) dst[i] = bf16_to_float(src[i]);
}

// dst = alpha·a + beta·b; dst may alias a or b.
extern "C" __global__ void add_scaled(const float* a, const float* b, float* dst, float alpha, float beta, i64 n)
{
    GRID_STRIDE(i, n) dst[i] = alpha * a[i] + beta * b[i];
}

extern "C" __global__ void scale(const float* x, float* dst, float alpha, i64 n)
{
    GRID_STRIDE(i, n) dst[i] = x[i] * alpha;
}

// dst = (alpha·s)·x with s read from device memory, so a loss scale or clip factor never visits the host.
extern "C" __global__ void scale_by_scalar(const float* x, const float* scalar, float* dst, float alpha, i64 n)
{
    float s = alpha * scalar[0];
    GRID_STRIDE(i, n) dst[i] = x[i] * s;
}

extern "C" __global__ void not_equal_i32(const int* a, const int* b, float* dst, i64 n)
{
    GRID_STRIDE(i, n) dst[i] = a[i] != b[i] ? 1.f : 0.f;
}

// y[r, c] = x[r, c] + bias[c]; y may alias x.
extern "C" __global__ void add_bias(const float* x, const float* bias, float* y, i64 rows, int cols)
{
    GRID_STRIDE(i, rows * cols) y[i] = x[i] + bias[i % cols];
}

// GELU with the exact normal CDF, as the model (and HF's "gelu") defines it.
__device__ __forceinline__ float gelu(float x) { return 0.5f * x * (1.f + erff(x * 0.70710678118654752f)); }

__device__ __forceinline__ float gelu_grad(float x)
{
    return 0.5f * (1.f + erff(x * 0.70710678118654752f)) + x * 0.39894228040143268f * expf(-0.5f * x * x);
}

// y = GELU(x + bias). x, y [R, C]; bias [C].
extern "C" __global__ void bias_gelu_forward(const float* x, const float* bias, float* y, i64 rows, int cols)
{
    GRID_STRIDE(i, rows * cols) y[i] = gelu(x[i] + bias[i % cols]);
}

// dX = dY ∘ GELU′(x + bias); the bias gradient is a column sum of dX (reduce.cu) launched right after.
extern "C" __global__ void bias_gelu_backward(const float* dy, const float* x, const float* bias, float* dx, i64 rows, int cols)
{
    GRID_STRIDE(i, rows * cols) dx[i] = dy[i] * gelu_grad(x[i] + bias[i % cols]);
}
