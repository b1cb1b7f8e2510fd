using Electra.Cuda;

namespace Electra.Train;

/// <summary>The one place the CLI opens the CUDA backend.</summary>
internal static class CudaSupport
{
    private static CudaBackend? _opened;

    public static IBackend Create(int index)
    {
        if (_opened is not null && _opened.Device.Index == index) return _opened;
        return _opened = CudaBackend.Create(index);
    }

    public static string Describe(IBackend backend) => backend is CudaBackend cuda ? cuda.CudaDevice.ToString() : backend.Device.ToString();

    /// <summary>True for "there is no usable CUDA here" (as opposed to a failure of a working device).</summary>
    public static bool IsUnavailable(Exception e) => e is CudaUnavailableException or DllNotFoundException;
}
