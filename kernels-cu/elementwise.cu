// Element-wise primitives of CudaBackend. All are memory-bound one-pass kernels over a flat range with a
// grid-stride loop; the F32 math mirrors Electra.Cpu.CpuBackend expression by expression.
// The `_bf16` instances are the same templates on bf16 storage (activations of the mixed-precision step): values
// widen to F32 on load and round once, to nearest even, on store; biases and the scalar stay F32 (parameters and
// device-side factors are never bf16).
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

namespace ew {

// dst = alpha·a + beta·b; dst may alias a or b.
template <typename T>
__device__ __forceinline__ void add_scaled(const T* a, const T* b, T* dst, float alpha, float beta, i64 n)
{
    GRID_STRIDE(i, n) store1(dst + i, alpha * load1(a + i) + beta * load1(b + i));
}

template <typename T>
__device__ __forceinline__ void scale(const T* x, T* dst, float alpha, i64 n)
{
    GRID_STRIDE(i, n) store1(dst + i, load1(x + i) * alpha);
}

// dst = (alpha·s)·x with s read from device memory, so a loss scale or clip factor never visits the host.
template <typename T>
__device__ __forceinline__ void scale_by_scalar(const T* x, const float* scalar, T* dst, float alpha, i64 n)
{
    float s = alpha * scalar[0];
    GRID_STRIDE(i, n) store1(dst + i, load1(x + i) * s);
}

}  // namespace ew

#define ARITHMETIC_FAMILY(SUFFIX, T)                                                                             \
    extern "C" __global__ void add_scaled##SUFFIX(const T* a, const T* b, T* dst, float alpha, float beta, i64 n) { \
        ew::add_scaled(a, b, dst, alpha, beta, n);                                                               \
    }                                                                                                            \
    extern "C" __global__ void scale##SUFFIX(const T* x, T* dst, float alpha, i64 n) { ew::scale(x, dst, alpha, n); } \
    extern "C" __global__ void scale_by_scalar##SUFFIX(const T* x, const float* scalar, T* dst, float alpha, i64 n) { \
        ew::scale_by_scalar(x, scalar, dst, alpha, n);                                                           \
    }
ARITHMETIC_FAMILY(, float)
ARITHMETIC_FAMILY(_bf16, bf16_t)

extern "C" __global__ void not_equal_i32(const int* a, const int* b, float* dst, i64 n)
{
    GRID_STRIDE(i, n) dst[i] = a[i] != b[i] ? 1.f : 0.f;
}

// GELU with the exact normal CDF, as the model (and HF's "gelu") defines it.
__device__ __forceinline__ float gelu(float x) { return 0.5f * x * (1.f + erff(x * 0.70710678118654752f)); }

__device__ __forceinline__ float gelu_grad(float x)
{
    return 0.5f * (1.f + erff(x * 0.70710678118654752f)) + x * 0.39894228040143268f * expf(-0.5f * x * x);
}

namespace ew {

// y[r, c] = x[r, c] + bias[c]; y may alias x.
template <typename T>
__device__ __forceinline__ void add_bias(const T* x, const float* bias, T* y, i64 rows, int cols)
{
    GRID_STRIDE(i, rows * cols) store1(y + i, load1(x + i) + bias[i % cols]);
}

// y = GELU(x + bias). x, y [R, C]; bias [C].
template <typename T>
__device__ __forceinline__ void bias_gelu_forward(const T* x, const float* bias, T* y, i64 rows, int cols)
{
    GRID_STRIDE(i, rows * cols) store1(y + i, gelu(load1(x + i) + bias[i % cols]));
}

// dX = dY ∘ GELU′(x + bias), and dBias = Σ_r dX (as stored) in the same launch: column_sums_of visits every
// element once, so it writes dX where it reads it. Launched as common.cuh's column sums.
template <typename T>
struct BiasGeluGrad
{
    const T *dy, *x;
    const float* bias;
    T* dx;
    int cols;
    __device__ __forceinline__ float operator()(i64 r, int c) const
    {
        i64 i = r * cols + c;
        store1(dx + i, load1(dy + i) * gelu_grad(load1(x + i) + bias[c]));
        return load1(dx + i);
    }
};

}  // namespace ew

#define BIAS_FAMILY(SUFFIX, T)                                                                                   \
    extern "C" __global__ void add_bias##SUFFIX(const T* x, const float* bias, T* y, i64 rows, int cols) {        \
        ew::add_bias(x, bias, y, rows, cols);                                                                    \
    }                                                                                                            \
    extern "C" __global__ void bias_gelu_forward##SUFFIX(const T* x, const float* bias, T* y, i64 rows, int cols) { \
        ew::bias_gelu_forward(x, bias, y, rows, cols);                                                           \
    }                                                                                                            \
    extern "C" __global__ void bias_gelu_backward##SUFFIX(const T* dy, const T* x, const float* bias, T* dx,      \
        i64 rows, int cols, int rowsPerBlock, float* partials, unsigned* tickets, float* dbias) {                \
        column_sums_of(ew::BiasGeluGrad<T>{dy, x, bias, dx, cols}, rows, cols, rowsPerBlock, partials, tickets,  \
                       dbias, 0.f);                                                                              \
    }
BIAS_FAMILY(, float)
BIAS_FAMILY(_bf16, bf16_t)
