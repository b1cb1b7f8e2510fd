using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Electra.Cpu;

/// <summary>
/// Host memory from the pinned object heap: a stable address for pointer loops, and no leak if a tensor is
/// dropped without Dispose (the GC still reclaims it; only device memory needs strict disposal).
/// </summary>
internal sealed unsafe class CpuStorage : Storage
{
    private byte[]? _data;
    private readonly nint _pointer;

    public CpuStorage(IBackend backend, long bytes) : base(backend, bytes)
    {
        // One spare vector so SIMD tails may over-read within the allocation.
        _data = GC.AllocateUninitializedArray<byte>(checked((int)Math.Max(bytes, 0) + 64), pinned: true);
        _pointer = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_data));
    }

    public override nint Pointer => _data is null ? throw new ObjectDisposedException(nameof(CpuStorage)) : _pointer;

    protected override void Free() => _data = null;
}
