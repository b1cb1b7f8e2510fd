using System.Runtime.InteropServices;

namespace Electra.Cuda.Interop;

/// <summary>cuBLAS (libcublas.so.13/12/11), the handle-based "v2" API. Column-major, like Fortran BLAS.</summary>
public static unsafe partial class Cublas
{
    static Cublas() => NativeLibraries.EnsureResolver();

    private const string Lib = NativeLibraries.Cublas;

    [LibraryImport(Lib)] public static partial int cublasCreate_v2(out nint handle);
    [LibraryImport(Lib)] public static partial int cublasDestroy_v2(nint handle);
    [LibraryImport(Lib)] public static partial int cublasGetVersion_v2(nint handle, out int version);
    [LibraryImport(Lib)] public static partial int cublasSetStream_v2(nint handle, nint stream);
    [LibraryImport(Lib)] public static partial int cublasSetMathMode(nint handle, CublasMath mode);
    [LibraryImport(Lib)] public static partial int cublasSetWorkspace_v2(nint handle, ulong workspace, nuint bytes);

    [LibraryImport(Lib)]
    public static partial int cublasGemmEx(nint handle, CublasOperation transA, CublasOperation transB, int m, int n, int k,
        void* alpha, ulong a, CudaDataType aType, int lda, ulong b, CudaDataType bType, int ldb,
        void* beta, ulong c, CudaDataType cType, int ldc, CublasComputeType computeType, int algo);

    [LibraryImport(Lib)]
    public static partial int cublasGemmStridedBatchedEx(nint handle, CublasOperation transA, CublasOperation transB, int m, int n, int k,
        void* alpha, ulong a, CudaDataType aType, int lda, long strideA, ulong b, CudaDataType bType, int ldb, long strideB,
        void* beta, ulong c, CudaDataType cType, int ldc, long strideC, int batchCount, CublasComputeType computeType, int algo);

    public const int GemmDefault = -1;

    public static string StatusName(int status) => status switch
    {
        0 => "CUBLAS_STATUS_SUCCESS",
        1 => "CUBLAS_STATUS_NOT_INITIALIZED",
        3 => "CUBLAS_STATUS_ALLOC_FAILED",
        7 => "CUBLAS_STATUS_INVALID_VALUE",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH",
        11 => "CUBLAS_STATUS_MAPPING_ERROR",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED",
        16 => "CUBLAS_STATUS_LICENSE_ERROR",
        _ => $"cublasStatus {status}",
    };

    private static string StatusText(int status) => status switch
    {
        1 => "the library was not initialised",
        3 => "resource allocation failed",
        7 => "an unsupported value or parameter was passed",
        8 => "the device lacks a required feature",
        13 => "the GPU program failed to execute",
        14 => "an internal cuBLAS operation failed",
        15 => "the requested functionality is not supported",
        _ => "cuBLAS call failed",
    };

    public static void Check(int status, string call)
    {
        if (status != 0) throw new CudaException(call, StatusName(status), StatusText(status), status);
    }
}

public enum CublasOperation
{
    N = 0,
    T = 1,
}

public enum CublasMath
{
    Default = 0,
    TensorOp = 1,
    Pedantic = 2,
    Tf32TensorOp = 3,
}

/// <summary>cudaDataType_t (library_types.h).</summary>
public enum CudaDataType
{
    R32F = 0,
    R16F = 2,
    R32I = 10,
    R16BF = 14,
}

/// <summary>cublasComputeType_t.</summary>
public enum CublasComputeType
{
    C32F = 68,
    C32FFast16BF = 75,
    C32FFastTf32 = 77,
}
