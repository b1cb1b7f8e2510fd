// cublas.cpp: cuBLAS's GemmEx and GemmStridedBatchedEx as loops, queued on the handle's stream like any device
// work. Column-major as cuBLAS; F32 or BF16 A and B, F32 or BF16 C, F32 accumulation; beta = 0 does not read C
// (so a poisoned C does not leak into the result). CUBLAS_COMPUTE_32F_FAST_TF32 rounds A and B to TF32 only under
// CUDASIM_TF32=1 (by default it is exact FP32: tolerances that hold then hold on TF32 hardware only by luck).
// Sums run in 8 interleaved partial sums, a fixed order: the same inputs give the same bits.
#include <algorithm>
#include <cstring>
#include "host.h"

namespace sim {
namespace {

enum { R_32F = 0, R_16BF = 14 };
enum { COMPUTE_32F = 68, COMPUTE_32F_FAST_16BF = 75, COMPUTE_32F_FAST_TF32 = 77 };
enum { CUBLAS_SUCCESS = 0, CUBLAS_INVALID_VALUE = 7, CUBLAS_EXECUTION_FAILED = 13, CUBLAS_NOT_SUPPORTED = 15 };

struct Handle { void* stream = nullptr; };

float load(const void* p, int type, size_t i) {
    if (type == R_32F) return static_cast<const float*>(p)[i];
    unsigned u = (unsigned)static_cast<const unsigned short*>(p)[i] << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void store(void* p, int type, size_t i, float v) {
    if (type == R_32F) { static_cast<float*>(p)[i] = v; return; }
    unsigned u;
    memcpy(&u, &v, 4);
    unsigned short r = (u & 0x7fffffffu) > 0x7f800000u ? (unsigned short)((u >> 16) | 0x40u) : (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    static_cast<unsigned short*>(p)[i] = r;
}

// FP32 → TF32 (10 mantissa bits), round to nearest even.
float tf32(float v) {
    unsigned u;
    memcpy(&u, &v, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0xfffu + ((u >> 13) & 1u)) & 0xffffe000u;
    memcpy(&v, &u, 4);
    return v;
}

float dot(const float* x, const float* y, int k) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int p = 0;
    for (; p + 8 <= k; p += 8)
        for (int j = 0; j < 8; j++) acc[j] += x[p + j] * y[p + j];
    for (; p < k; p++) acc[p % 8] += x[p] * y[p];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

struct Gemm {
    int ta, tb, m, n, k;
    float alpha, beta;
    const void* A; int at, lda;
    const void* B; int bt, ldb;
    void* C; int ct, ldc;
    bool round_tf32;

    // C = alpha·op(A)·op(B) + beta·C; op(A) is m×k, op(B) k×n. Rows of op(A) and columns of op(B) are gathered
    // into contiguous arrays first, so the inner loop is a plain dot product.
    void run() const {
        std::vector<float> a((size_t)m * k), b((size_t)k * n);
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++) a[(size_t)i * k + p] = load(A, at, ta ? (size_t)i * lda + p : (size_t)p * lda + i);
        for (int j = 0; j < n; j++)
            for (int p = 0; p < k; p++) b[(size_t)j * k + p] = load(B, bt, tb ? (size_t)p * ldb + j : (size_t)j * ldb + p);
        if (round_tf32) {
            for (auto& x : a) x = tf32(x);
            for (auto& x : b) x = tf32(x);
        }
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                size_t c = (size_t)j * ldc + i;
                float r = alpha * dot(&a[(size_t)i * k], &b[(size_t)j * k], k);
                store(C, ct, c, beta == 0.f ? r : r + beta * load(C, ct, c));
            }
    }
};

bool operand_in_range(const void* p, int type, long long rows, long long cols, long long ld, const char* what) {
    if (rows == 0 || cols == 0) return true;
    size_t element = type == R_32F ? 4 : 2;
    return device_range((uintptr_t)p, ((size_t)(cols - 1) * ld + rows) * element, what);
}

int check(const Gemm& g, int compute, long long batch, long long sA, long long sB, long long sC, const char* what) {
    if (g.m < 0 || g.n < 0 || g.k < 0 || batch < 0)
        return error(CUBLAS_INVALID_VALUE, "%s: negative size m %d n %d k %d batch %lld", what, g.m, g.n, g.k, batch);
    int rows_a = g.ta ? g.k : g.m, rows_b = g.tb ? g.n : g.k;
    if (g.lda < std::max(1, rows_a) || g.ldb < std::max(1, rows_b) || g.ldc < std::max(1, g.m))
        return error(CUBLAS_INVALID_VALUE, "%s: leading dimensions lda %d ldb %d ldc %d are too small for m %d n %d k %d", what, g.lda, g.ldb, g.ldc, g.m,
                     g.n, g.k);
    bool f32 = g.at == R_32F && g.bt == R_32F && g.ct == R_32F, bf16 = g.at == R_16BF && g.bt == R_16BF && (g.ct == R_16BF || g.ct == R_32F);
    if (!(f32 && (compute == COMPUTE_32F || compute == COMPUTE_32F_FAST_TF32 || compute == COMPUTE_32F_FAST_16BF)) && !(bf16 && compute == COMPUTE_32F))
        return error(CUBLAS_NOT_SUPPORTED, "%s: types A %d B %d C %d with compute type %d are not simulated", what, g.at, g.bt, g.ct, compute);
    size_t ea = g.at == R_32F ? 4 : 2, eb = g.bt == R_32F ? 4 : 2, ec = g.ct == R_32F ? 4 : 2;
    for (long long i : {0LL, std::max(0LL, batch - 1)}) {
        if (batch == 0) break;
        if (!operand_in_range((const char*)g.A + i * sA * ea, g.at, rows_a, g.ta ? g.m : g.k, g.lda, what) ||
            !operand_in_range((const char*)g.B + i * sB * eb, g.bt, rows_b, g.tb ? g.k : g.n, g.ldb, what) ||
            !operand_in_range((const char*)g.C + i * sC * ec, g.ct, g.m, g.n, g.ldc, what))
            return CUBLAS_INVALID_VALUE;
    }
    return CUBLAS_SUCCESS;
}

int queue(void* handle, std::vector<Gemm> gemms, const char* what) {
    if (tracing() && !gemms.empty())
        log_info("%s x%zu m %d n %d k %d", what, gemms.size(), gemms[0].m, gemms[0].n, gemms[0].k);
    CUresult r = enqueue(static_cast<Handle*>(handle)->stream, [gemms] {
        if (!dry_run())
            for (auto& g : gemms) g.run();
        return CUDA_SUCCESS;
    }, what);
    return r ? CUBLAS_EXECUTION_FAILED : CUBLAS_SUCCESS;
}
}  // namespace
}  // namespace sim

using namespace sim;

EXPORT int cublasCreate_v2(void** h) { *h = new Handle(); return 0; }
EXPORT int cublasDestroy_v2(void* h) { delete static_cast<Handle*>(h); return 0; }
EXPORT int cublasGetVersion_v2(void*, int* v) { *v = 120800; return 0; }
EXPORT int cublasSetStream_v2(void* h, void* s) { static_cast<Handle*>(h)->stream = s; return 0; }
EXPORT int cublasSetMathMode(void*, int) { return 0; }
EXPORT int cublasSetWorkspace_v2(void*, unsigned long long, size_t) { return 0; }

EXPORT int cublasGemmEx(void* h, int ta, int tb, int m, int n, int k, const float* alpha, const void* A, int at, int lda, const void* B, int bt,
                        int ldb, const float* beta, void* C, int ct, int ldc, int compute, int) {
    LOCK;
    Gemm g{ta, tb, m, n, k, *alpha, *beta, A, at, lda, B, bt, ldb, C, ct, ldc, compute == COMPUTE_32F_FAST_TF32 && env_int("CUDASIM_TF32", 0)};
    if (int r = check(g, compute, 1, 0, 0, 0, "cublasGemmEx")) return r;
    return queue(h, {g}, "cublasGemmEx");
}

EXPORT int cublasGemmStridedBatchedEx(void* h, int ta, int tb, int m, int n, int k, const float* alpha, const void* A, int at, int lda, long long sA,
                                      const void* B, int bt, int ldb, long long sB, const float* beta, void* C, int ct, int ldc, long long sC,
                                      int batch, int compute, int) {
    LOCK;
    Gemm g{ta, tb, m, n, k, *alpha, *beta, A, at, lda, B, bt, ldb, C, ct, ldc, compute == COMPUTE_32F_FAST_TF32 && env_int("CUDASIM_TF32", 0)};
    const char* what = "cublasGemmStridedBatchedEx";
    if (int r = check(g, compute, batch, sA, sB, sC, what)) return r;
    size_t ea = at == R_32F ? 4 : 2, eb = bt == R_32F ? 4 : 2, ec = ct == R_32F ? 4 : 2;
    std::vector<Gemm> all;
    for (int i = 0; i < batch; i++) {
        Gemm x = g;
        x.A = (const char*)A + i * sA * ea;
        x.B = (const char*)B + i * sB * eb;
        x.C = (char*)C + i * sC * ec;
        all.push_back(x);
    }
    return queue(h, all, what);
}
