using Electra.Cuda.Interop;

namespace Electra.Cuda;

/// <summary>
/// Page-locked host memory for staging copies: the driver can DMA from it directly, and an asynchronous copy
/// from it is legal (also inside a graph capture). Grows to the largest request; freed on Dispose.
/// </summary>
public sealed unsafe class PinnedBuffer(CudaProfile? profile = null) : IDisposable
{
    public nint Pointer { get; private set; }
    public long Bytes { get; private set; }

    public Span<byte> Span(long bytes) => new((void*)Pointer, checked((int)bytes));

    public void EnsureCapacity(long bytes)
    {
        if (bytes <= Bytes) return;
        if (Pointer != 0) Driver.Check(Driver.cuMemFreeHost(Pointer), "cuMemFreeHost");
        Pointer = 0;
        Bytes = 0;
        long size = Math.Max(bytes, 1 << 20);
        Driver.Check(Driver.cuMemAllocHost_v2(out var p, (nuint)size), $"cuMemAllocHost_v2({size})");
        profile?.DriverAllocation();
        Pointer = p;
        Bytes = size;
    }

    public void Dispose()
    {
        if (Pointer != 0) Driver.cuMemFreeHost(Pointer);
        Pointer = 0;
        Bytes = 0;
    }
}
