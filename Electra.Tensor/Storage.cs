namespace Electra;

/// <summary>
/// A block of memory owned by one backend. Tensors that share it (a tensor and its reshapes) hold a reference
/// each; the block goes back to its backend when the last one is disposed. There is no finalizer: device memory
/// is released deterministically through <see cref="Tensor.Dispose"/> and <see cref="TensorScope"/>.
/// </summary>
public abstract class Storage
{
    private int _refs = 1;

    protected Storage(IBackend backend, long bytes)
    {
        Backend = backend;
        Bytes = bytes;
    }

    public IBackend Backend { get; }
    public long Bytes { get; }

    /// <summary>Address of the first byte: host memory on the CPU, a device pointer on CUDA.</summary>
    public abstract nint Pointer { get; }

    public bool IsReleased => Volatile.Read(ref _refs) <= 0;

    /// <summary>True when one tensor alone holds this memory (no view of it is alive).</summary>
    internal bool HasOneOwner => Volatile.Read(ref _refs) == 1;

    internal void AddRef()
    {
        if (Interlocked.Increment(ref _refs) <= 1)
            throw new ObjectDisposedException(nameof(Storage), "storage was already released");
    }

    internal void Release()
    {
        if (Interlocked.Decrement(ref _refs) == 0) Free();
    }

    /// <summary>Returns the memory to its owner. Called exactly once, when the last tensor lets go.</summary>
    protected abstract void Free();
}
