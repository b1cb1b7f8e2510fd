namespace Electra.Train;

/// <summary>The one place the CLI touches the CUDA backend.</summary>
internal static class CudaSupport
{
    public static IBackend Create(int index) =>
        throw new CudaNotBuiltException("this build has no CUDA backend yet");

    public static string Describe(IBackend backend) => backend.Device.ToString();

    public static bool IsUnavailable(Exception e) => e is CudaNotBuiltException;

    private sealed class CudaNotBuiltException(string message) : Exception(message);
}
