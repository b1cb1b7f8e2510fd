using System.Runtime.InteropServices;

namespace Electra.Cuda.Interop;

/// <summary>
/// The CUDA driver API (libcuda.so.1), bound to its real exported symbols: where cuda.h maps a name to a
/// versioned one (<c>cuMemAlloc</c> → <c>cuMemAlloc_v2</c>), the versioned symbol is the one bound here.
/// Handles are opaque pointers; device pointers are 64-bit addresses (<c>CUdeviceptr</c>).
/// </summary>
public static unsafe partial class Driver
{
    static Driver() => NativeLibraries.EnsureResolver();

    private const string Lib = NativeLibraries.Cuda;

    [LibraryImport(Lib)] public static partial CuResult cuInit(uint flags);
    [LibraryImport(Lib)] public static partial CuResult cuDriverGetVersion(out int version);
    [LibraryImport(Lib)] public static partial CuResult cuDeviceGet(out int device, int ordinal);
    [LibraryImport(Lib)] public static partial CuResult cuDeviceGetCount(out int count);
    [LibraryImport(Lib)] public static partial CuResult cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(Lib)] public static partial CuResult cuDeviceGetAttribute(out int value, CuDeviceAttribute attribute, int device);
    [LibraryImport(Lib)] public static partial CuResult cuDeviceTotalMem_v2(out nuint bytes, int device);
    [LibraryImport(Lib)] public static partial CuResult cuDevicePrimaryCtxRetain(out nint context, int device);
    [LibraryImport(Lib)] public static partial CuResult cuDevicePrimaryCtxRelease_v2(int device);
    [LibraryImport(Lib)] public static partial CuResult cuCtxSetCurrent(nint context);
    [LibraryImport(Lib)] public static partial CuResult cuCtxSynchronize();
    [LibraryImport(Lib)] public static partial CuResult cuMemGetInfo_v2(out nuint free, out nuint total);

    [LibraryImport(Lib)] public static partial CuResult cuModuleLoadData(out nint module, void* image);
    [LibraryImport(Lib)] public static partial CuResult cuModuleUnload(nint module);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial CuResult cuModuleGetFunction(out nint function, nint module, string name);
    [LibraryImport(Lib)] public static partial CuResult cuFuncGetAttribute(out int value, CuFunctionAttribute attribute, nint function);
    [LibraryImport(Lib)] public static partial CuResult cuFuncSetAttribute(nint function, CuFunctionAttribute attribute, int value);
    [LibraryImport(Lib)]
    public static partial CuResult cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedMemBytes, nint stream, void** kernelParams, void** extra);

    [LibraryImport(Lib)] public static partial CuResult cuMemAlloc_v2(out ulong pointer, nuint bytes);
    [LibraryImport(Lib)] public static partial CuResult cuMemFree_v2(ulong pointer);
    [LibraryImport(Lib)] public static partial CuResult cuMemAllocHost_v2(out nint pointer, nuint bytes);
    [LibraryImport(Lib)] public static partial CuResult cuMemFreeHost(nint pointer);
    [LibraryImport(Lib)] public static partial CuResult cuMemcpyHtoD_v2(ulong dst, void* src, nuint bytes);
    [LibraryImport(Lib)] public static partial CuResult cuMemcpyDtoH_v2(void* dst, ulong src, nuint bytes);
    [LibraryImport(Lib)] public static partial CuResult cuMemcpyDtoD_v2(ulong dst, ulong src, nuint bytes);
    [LibraryImport(Lib)] public static partial CuResult cuMemcpyHtoDAsync_v2(ulong dst, void* src, nuint bytes, nint stream);
    [LibraryImport(Lib)] public static partial CuResult cuMemcpyDtoHAsync_v2(void* dst, ulong src, nuint bytes, nint stream);
    [LibraryImport(Lib)] public static partial CuResult cuMemcpyDtoDAsync_v2(ulong dst, ulong src, nuint bytes, nint stream);
    [LibraryImport(Lib)] public static partial CuResult cuMemsetD8_v2(ulong dst, byte value, nuint count);
    [LibraryImport(Lib)] public static partial CuResult cuMemsetD32_v2(ulong dst, uint value, nuint count);
    // The asynchronous memsets never got a _v2: their original symbols already took 64-bit pointers.
    [LibraryImport(Lib)] public static partial CuResult cuMemsetD8Async(ulong dst, byte value, nuint count, nint stream);
    [LibraryImport(Lib)] public static partial CuResult cuMemsetD32Async(ulong dst, uint value, nuint count, nint stream);

    [LibraryImport(Lib)] public static partial CuResult cuStreamCreate(out nint stream, uint flags);
    [LibraryImport(Lib)] public static partial CuResult cuStreamDestroy_v2(nint stream);
    [LibraryImport(Lib)] public static partial CuResult cuStreamSynchronize(nint stream);

    [LibraryImport(Lib)] public static partial CuResult cuEventCreate(out nint evt, uint flags);
    [LibraryImport(Lib)] public static partial CuResult cuEventRecord(nint evt, nint stream);
    [LibraryImport(Lib)] public static partial CuResult cuEventSynchronize(nint evt);
    [LibraryImport(Lib)] public static partial CuResult cuEventQuery(nint evt);
    [LibraryImport(Lib)] public static partial CuResult cuEventElapsedTime(out float milliseconds, nint start, nint end);
    [LibraryImport(Lib)] public static partial CuResult cuEventDestroy_v2(nint evt);

    [LibraryImport(Lib)] public static partial CuResult cuStreamBeginCapture_v2(nint stream, CuStreamCaptureMode mode);
    [LibraryImport(Lib)] public static partial CuResult cuStreamEndCapture(nint stream, out nint graph);
    // CUDA 12 turned cuGraphInstantiate into a macro for this one; it exists since 11.4 and has one signature everywhere.
    [LibraryImport(Lib)] public static partial CuResult cuGraphInstantiateWithFlags(out nint graphExec, nint graph, ulong flags);
    [LibraryImport(Lib)] public static partial CuResult cuGraphLaunch(nint graphExec, nint stream);
    [LibraryImport(Lib)] public static partial CuResult cuGraphExecDestroy(nint graphExec);
    [LibraryImport(Lib)] public static partial CuResult cuGraphDestroy(nint graph);

    [LibraryImport(Lib)] public static partial CuResult cuGetErrorName(CuResult error, out nint name);
    [LibraryImport(Lib)] public static partial CuResult cuGetErrorString(CuResult error, out nint text);

    /// <summary>"CUDA_ERROR_X: text" for a result code, or the number when the driver cannot name it.</summary>
    public static (string Name, string Text) Describe(CuResult result)
    {
        string name = $"CUresult {(int)result}", text = "unknown error";
        try
        {
            if (cuGetErrorName(result, out var n) == CuResult.Success && n != 0) name = Marshal.PtrToStringUTF8(n) ?? name;
            if (cuGetErrorString(result, out var s) == CuResult.Success && s != 0) text = Marshal.PtrToStringUTF8(s) ?? text;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
        return (name, text);
    }

    /// <summary>Throws <see cref="CudaException"/> naming <paramref name="call"/> unless the result is success.</summary>
    public static void Check(CuResult result, string call)
    {
        if (result == CuResult.Success) return;
        var (name, text) = Describe(result);
        throw new CudaException(call, name, text, (int)result);
    }
}

public enum CuResult
{
    Success = 0,
    ErrorInvalidValue = 1,
    ErrorOutOfMemory = 2,
    ErrorNotInitialized = 3,
    ErrorDeinitialized = 4,
    ErrorStubLibrary = 34,
    ErrorInsufficientDriver = 35,
    ErrorNoDevice = 100,
    ErrorInvalidDevice = 101,
    ErrorNoBinaryForGpu = 209,
    ErrorInvalidPtx = 218,
    ErrorUnsupportedPtxVersion = 222,
    ErrorNotFound = 500,
    ErrorNotReady = 600,
    ErrorLaunchOutOfResources = 701,
    ErrorLaunchFailed = 719,
    ErrorStreamCaptureUnsupported = 900,
    ErrorSystemDriverMismatch = 803,
    ErrorCompatNotSupportedOnDevice = 804,
}

public enum CuDeviceAttribute
{
    MaxThreadsPerBlock = 1,
    MaxSharedMemoryPerBlock = 8,
    WarpSize = 10,
    ClockRate = 13,
    MultiprocessorCount = 16,
    L2CacheSize = 38,
    MaxThreadsPerMultiprocessor = 39,
    MemoryClockRate = 36,
    GlobalMemoryBusWidth = 37,
    ComputeCapabilityMajor = 75,
    ComputeCapabilityMinor = 76,
    MaxSharedMemoryPerBlockOptin = 97,
}

public enum CuFunctionAttribute
{
    MaxThreadsPerBlock = 0,
    SharedSizeBytes = 1,
    ConstSizeBytes = 2,
    LocalSizeBytes = 3,
    NumRegs = 4,
    PtxVersion = 5,
    BinaryVersion = 6,
    MaxDynamicSharedSizeBytes = 8,
}

public enum CuStreamCaptureMode
{
    Global = 0,
    ThreadLocal = 1,
    Relaxed = 2,
}
