using Electra.Cuda.Interop;

namespace Electra.Cuda;

/// <summary>
/// Pinned staging memory for host-to-device uploads that do not wait. Each upload gets its own slice, so the host
/// never overwrites bytes a queued copy has yet to read; the ring is two halves, and an event recorded when the
/// writer leaves a half tells, when it comes back, whether the copies from that half have run. Only then, and only
/// if they have not, does the host wait. A training step uploads a few tens of KiB, so a 4 MiB half lasts many
/// steps and the wait, when it comes, finds the event long complete.
/// </summary>
internal sealed unsafe class UploadRing : IDisposable
{
    public const long HalfBytes = 4L << 20;
    private const long Alignment = 256;

    private readonly CudaDevice _device;
    private readonly PinnedBuffer _buffer;
    private readonly nint[] _leftHalf = new nint[2];
    private readonly bool[] _recorded = new bool[2];
    private int _half;
    private long _used;

    public UploadRing(CudaDevice device)
    {
        _device = device;
        _buffer = new PinnedBuffer(device.Profile);
        for (int i = 0; i < 2; i++) Driver.Check(Driver.cuEventCreate(out _leftHalf[i], EventDisableTiming), "cuEventCreate(upload ring)");
    }

    private const uint EventDisableTiming = 2;

    /// <summary>Queues an asynchronous copy of <paramref name="source"/> (at most <see cref="HalfBytes"/>) to device address <paramref name="destination"/>.</summary>
    public void Upload(ReadOnlySpan<byte> source, ulong destination)
    {
        long n = source.Length;
        if (n > HalfBytes) throw new ArgumentOutOfRangeException(nameof(source), $"UploadRing: {n} bytes is more than one half ({HalfBytes})");
        if (n == 0) return;
        _buffer.EnsureCapacity(2 * HalfBytes);
        if (_used + n > HalfBytes) MoveToOtherHalf();
        nint slice = _buffer.Pointer + (nint)(_half * HalfBytes + _used);
        source.CopyTo(new Span<byte>((void*)slice, (int)n));
        Driver.Check(Driver.cuMemcpyHtoDAsync_v2(destination, (void*)slice, (nuint)n, _device.Stream), "cuMemcpyHtoDAsync_v2(upload ring)");
        _device.Profile.Upload(n);
        _used += (n + Alignment - 1) / Alignment * Alignment;
    }

    private void MoveToOtherHalf()
    {
        Driver.Check(Driver.cuEventRecord(_leftHalf[_half], _device.Stream), "cuEventRecord(upload ring)");
        _recorded[_half] = true;
        _half ^= 1;
        _used = 0;
        if (!_recorded[_half]) return;
        var state = Driver.cuEventQuery(_leftHalf[_half]);
        if (state == CuResult.Success) return;
        if (state != CuResult.ErrorNotReady) Driver.Check(state, "cuEventQuery(upload ring)");
        // The device is a whole half of uploads behind: wait for the copies that read this half.
        _device.Profile.HostSync();
        Driver.Check(Driver.cuEventSynchronize(_leftHalf[_half]), "cuEventSynchronize(upload ring)");
    }

    public void Dispose()
    {
        foreach (var e in _leftHalf)
            if (e != 0) Driver.cuEventDestroy_v2(e);
        _buffer.Dispose();
    }
}
