namespace Electra.Cuda;

/// <summary>Device memory behind a tensor; its block goes back to the allocator's pool when the last view lets go.</summary>
public sealed class CudaStorage : Storage
{
    private readonly CudaAllocator _allocator;
    private ulong _pointer;

    internal CudaStorage(IBackend backend, CudaAllocator allocator, long bytes) : base(backend, bytes)
    {
        _allocator = allocator;
        _pointer = allocator.Allocate(bytes);
    }

    public override nint Pointer => _pointer == 0 ? throw new ObjectDisposedException(nameof(CudaStorage)) : (nint)_pointer;

    protected override void Free()
    {
        var p = _pointer;
        _pointer = 0;
        if (p != 0) _allocator.Free(p);
    }
}
