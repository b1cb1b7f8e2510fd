using System.Runtime.InteropServices;

namespace Electra.Cuda.Interop;

/// <summary>
/// cuBLASLt (libcublasLt.so.13/12/11): matmul with fused epilogues. Its GELU epilogue is the tanh approximation,
/// not the exact erf GELU the model uses, so only the bias epilogue is used on the training path.
/// </summary>
public static unsafe partial class CublasLt
{
    static CublasLt() => NativeLibraries.EnsureResolver();

    private const string Lib = NativeLibraries.CublasLt;

    [LibraryImport(Lib)] public static partial int cublasLtCreate(out nint handle);
    [LibraryImport(Lib)] public static partial int cublasLtDestroy(nint handle);
    [LibraryImport(Lib)] public static partial nuint cublasLtGetVersion();

    [LibraryImport(Lib)] public static partial int cublasLtMatmulDescCreate(out nint desc, CublasComputeType computeType, CudaDataType scaleType);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulDescDestroy(nint desc);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulDescSetAttribute(nint desc, LtMatmulDescAttribute attribute, void* value, nuint size);

    [LibraryImport(Lib)] public static partial int cublasLtMatrixLayoutCreate(out nint layout, CudaDataType type, ulong rows, ulong cols, long ld);
    [LibraryImport(Lib)] public static partial int cublasLtMatrixLayoutDestroy(nint layout);
    [LibraryImport(Lib)] public static partial int cublasLtMatrixLayoutSetAttribute(nint layout, LtMatrixLayoutAttribute attribute, void* value, nuint size);

    [LibraryImport(Lib)] public static partial int cublasLtMatmulPreferenceCreate(out nint pref);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulPreferenceDestroy(nint pref);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulPreferenceSetAttribute(nint pref, int attribute, void* value, nuint size);

    [LibraryImport(Lib)]
    public static partial int cublasLtMatmulAlgoGetHeuristic(nint handle, nint opDesc, nint aDesc, nint bDesc, nint cDesc, nint dDesc,
        nint preference, int requestedCount, LtHeuristicResult* results, out int returnedCount);

    [LibraryImport(Lib)]
    public static partial int cublasLtMatmul(nint handle, nint opDesc, void* alpha, ulong a, nint aDesc, ulong b, nint bDesc,
        void* beta, ulong c, nint cDesc, ulong d, nint dDesc, void* algo, ulong workspace, nuint workspaceBytes, nint stream);

    public const int PrefMaxWorkspaceBytes = 1;
}

public enum LtMatmulDescAttribute
{
    TransA = 3,
    TransB = 4,
    Epilogue = 7,
    BiasPointer = 8,
    BiasDataType = 26,
}

public enum LtMatrixLayoutAttribute
{
    Type = 0,
    Order = 1,
    BatchCount = 5,
    StridedBatchOffset = 6,
}

public enum LtEpilogue : uint
{
    Default = 1,
    Relu = 2,
    Bias = 4,
    Gelu = 32,
    GeluBias = 36,
}

/// <summary>cublasLtMatmulHeuristicResult_t: the 64-byte algo, workspace size, state, waves, 4 reserved ints.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct LtHeuristicResult
{
    public fixed ulong Algo[8];
    public nuint WorkspaceSize;
    public int State;
    public float WavesCount;
    public fixed int Reserved[4];
}
