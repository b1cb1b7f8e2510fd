using System.Runtime.InteropServices;

namespace Electra.Cuda.Interop;

/// <summary>NVRTC, the run-time CUDA C++ compiler (libnvrtc.so.13/12/11.2). Needs no GPU.</summary>
public static unsafe partial class Nvrtc
{
    static Nvrtc() => NativeLibraries.EnsureResolver();

    private const string Lib = NativeLibraries.Nvrtc;

    [LibraryImport(Lib)] public static partial int nvrtcVersion(out int major, out int minor);
    [LibraryImport(Lib)] public static partial int nvrtcGetNumSupportedArchs(out int count);
    [LibraryImport(Lib)] public static partial int nvrtcGetSupportedArchs(int* archs);
    [LibraryImport(Lib)]
    public static partial int nvrtcCreateProgram(out nint program, byte* source, byte* name, int headerCount, byte** headers, byte** includeNames);
    [LibraryImport(Lib)] public static partial int nvrtcCompileProgram(nint program, int optionCount, byte** options);
    [LibraryImport(Lib)] public static partial int nvrtcGetProgramLogSize(nint program, out nuint size);
    [LibraryImport(Lib)] public static partial int nvrtcGetProgramLog(nint program, byte* log);
    [LibraryImport(Lib)] public static partial int nvrtcGetPTXSize(nint program, out nuint size);
    [LibraryImport(Lib)] public static partial int nvrtcGetPTX(nint program, byte* ptx);
    [LibraryImport(Lib)] public static partial int nvrtcGetCUBINSize(nint program, out nuint size);
    [LibraryImport(Lib)] public static partial int nvrtcGetCUBIN(nint program, byte* cubin);
    [LibraryImport(Lib)] public static partial int nvrtcDestroyProgram(ref nint program);
    [LibraryImport(Lib)] public static partial nint nvrtcGetErrorString(int result);

    public const int Success = 0;
    public const int ErrorCompilation = 6;

    public static string ErrorString(int result)
    {
        try
        {
            var p = nvrtcGetErrorString(result);
            return p == 0 ? $"nvrtcResult {result}" : Marshal.PtrToStringUTF8(p) ?? $"nvrtcResult {result}";
        }
        catch (EntryPointNotFoundException)
        {
            return $"nvrtcResult {result}";
        }
    }

    public static void Check(int result, string call)
    {
        if (result != Success) throw new CudaException(call, ErrorString(result), "NVRTC call failed", result);
    }
}
