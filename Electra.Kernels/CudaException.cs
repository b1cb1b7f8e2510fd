namespace Electra.Cuda;

/// <summary>A CUDA, NVRTC or cuBLAS call failed. The message names the call and the library's error name and text.</summary>
public class CudaException : Exception
{
    public CudaException(string call, string errorName, string errorText, int code)
        : base($"{call} failed: {errorName} ({errorText})")
    {
        Call = call;
        ErrorName = errorName;
        Code = code;
    }

    public CudaException(string message, Exception? inner = null) : base(message, inner)
    {
        Call = "";
        ErrorName = "";
    }

    public string Call { get; }
    public string ErrorName { get; }
    public int Code { get; }
}

/// <summary>
/// No usable CUDA here: no driver library, no device, or a driver too old. Not a bug: the CLI falls back to the
/// CPU and says why (<see cref="Exception.Message"/> is written for the user).
/// </summary>
public class CudaUnavailableException(string reason, Exception? inner = null) : Exception(reason, inner);

/// <summary>The device ran out of memory; says how much was asked for, how much is in use and cached.</summary>
public sealed class CudaOutOfMemoryException(string message) : CudaException(message);

/// <summary>NVRTC rejected a kernel source; <see cref="Log"/> is the compiler's log with file:line locations.</summary>
public sealed class NvrtcCompileException(string source, string arch, string log)
    : CudaException($"NVRTC could not compile {source} for {arch}:\n{log.TrimEnd()}")
{
    public string SourceName { get; } = source;
    public string Log { get; } = log;
}
