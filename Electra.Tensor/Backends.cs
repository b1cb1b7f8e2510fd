using Electra.Cpu;

namespace Electra;

/// <summary>Finds the backend that owns a device. The CPU backend is always there; CUDA registers itself.</summary>
public static class Backends
{
    private static readonly Dictionary<Device, IBackend> Registered = new() { [Device.Cpu] = CpuBackend.Instance };
    private static readonly Lock Gate = new();

    public static IBackend Cpu => CpuBackend.Instance;

    public static void Register(IBackend backend)
    {
        lock (Gate) Registered[backend.Device] = backend;
    }

    public static IBackend For(Device device)
    {
        lock (Gate)
        {
            if (Registered.TryGetValue(device, out var b)) return b;
        }
        throw new InvalidOperationException(
            $"no backend for {device}: " + (device.IsCpu ? "the CPU backend is missing" : "the CUDA backend was not initialised (Electra.Cuda.CudaBackend.Create)"));
    }
}
