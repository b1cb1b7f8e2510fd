using System.Runtime.InteropServices;
using Electra.Cuda.Interop;

namespace Electra.Cuda;

/// <summary>
/// The CUDA backend: every IBackend primitive as a kernel of kernels-cu/ or a cuBLAS call, all queued on the
/// device's one stream. Host code never waits except in copies to the host, uploads of more than 4 MiB and
/// <see cref="Synchronize"/>.
/// Index errors found by kernels (an embedding id out of range…) are raised at the next synchronisation.
/// Families live in partial files named after them.
/// </summary>
public sealed unsafe partial class CudaBackend : IBackend, IDisposable
{
    private const int Threads = 256;
    private const long StagingChunk = 32L << 20;

    private readonly PinnedBuffer _staging;
    private readonly UploadRing _uploads;
    private readonly Lock _copyGate = new();
    private readonly ulong _errors; // int[4] on the device: code, position, value
    private const int ColumnTickets = 1 << 16;
    private readonly ulong _columnTickets; // uint[ColumnTickets], zero between launches: see reduce.cu's column_sums
    private readonly nint _cublas;
    private readonly ulong _cublasWorkspace;
    private bool _disposed;

    private CudaBackend(CudaDevice device)
    {
        CudaDevice = device;
        Device = Electra.Device.Cuda(device.Ordinal);
        _staging = new PinnedBuffer(device.Profile);
        device.MakeCurrent();
        _uploads = new UploadRing(device);
        Driver.Check(Driver.cuMemAlloc_v2(out _errors, 16), "cuMemAlloc_v2(errors)");
        Driver.Check(Driver.cuMemsetD32_v2(_errors, 0, 4), "cuMemsetD32_v2(errors)");
        Driver.Check(Driver.cuMemAlloc_v2(out _columnTickets, ColumnTickets * 4), "cuMemAlloc_v2(column tickets)");
        Driver.Check(Driver.cuMemsetD32_v2(_columnTickets, 0, ColumnTickets), "cuMemsetD32_v2(column tickets)");
        NativeLibraries.Require(NativeLibraries.Cublas);
        Cublas.Check(Cublas.cublasCreate_v2(out _cublas), "cublasCreate_v2");
        Cublas.Check(Cublas.cublasSetStream_v2(_cublas, device.Stream), "cublasSetStream_v2");
        // Default math: TF32 only where a call asks for it (compute type 32F_FAST_TF32, see AllowTf32). A handle in
        // TF32_TENSOR_OP mode would let cuBLAS use TF32 for plain 32F calls too, and AllowTf32 = false could not
        // get full FP32 back.
        Cublas.Check(Cublas.cublasSetMathMode(_cublas, CublasMath.Default), "cublasSetMathMode(default)");
        // A workspace of our own keeps cuBLAS from allocating inside a graph capture.
        const long workspace = 32L << 20;
        Driver.Check(Driver.cuMemAlloc_v2(out _cublasWorkspace, (nuint)workspace), "cuMemAlloc_v2(cublas workspace)");
        Cublas.Check(Cublas.cublasSetWorkspace_v2(_cublas, _cublasWorkspace, (nuint)workspace), "cublasSetWorkspace_v2");
        Cublas.Check(Cublas.cublasGetVersion_v2(_cublas, out var v), "cublasGetVersion_v2");
        CublasVersion = v;
    }

    /// <summary>
    /// Opens device <paramref name="device"/>, registers the backend with <see cref="Backends"/> and returns it.
    /// Throws <see cref="CudaUnavailableException"/> (with the reason) when there is no usable driver or device.
    /// </summary>
    public static CudaBackend Create(int device = 0)
    {
        var backend = new CudaBackend(CudaDevice.Open(device));
        Backends.Register(backend);
        return backend;
    }

    public Device Device { get; }
    public CudaDevice CudaDevice { get; }
    public CudaAllocator Allocator => CudaDevice.Allocator;
    public int CublasVersion { get; }

    /// <summary>The device's counters (<see cref="CudaDevice.Profile"/>): a step profile is the difference of two snapshots.</summary>
    public CudaProfile Profile => CudaDevice.Profile;

    /// <summary>F32 GEMMs on tensor cores in TF32 (10-bit mantissa inputs, F32 accumulation). On by default.</summary>
    public bool AllowTf32 { get; set; } = true;

    public Storage Allocate(long bytes) => new CudaStorage(this, Allocator, bytes);

    internal CudaKernel K(string source, string kernel) => CudaDevice.Kernel(source, kernel);

    internal static ulong Ptr(Tensor t) => (ulong)t.Pointer;

    internal nint ErrorsPointer => (nint)_errors;

    // ---- copies and synchronisation ------------------------------------------------------------------------------

    /// <summary>
    /// Queues the upload and returns: small uploads (a batch, a table) go through the <see cref="UploadRing"/> and
    /// never wait; larger ones (loading weights) are staged in chunks, waiting for each. Not allowed inside a graph
    /// capture, whose replays would copy from host memory that has been reused since.
    /// </summary>
    public void CopyFromHost(ReadOnlySpan<byte> source, Tensor destination)
    {
        if (source.Length != destination.Bytes)
            throw new ArgumentException($"CopyFromHost: {source.Length} bytes for a tensor of {destination.Bytes}");
        if (Allocator.IsCapturing)
            throw new InvalidOperationException(
                $"CopyFromHost of {destination.Shape} inside a CUDA graph capture: upload a graph's inputs into its tensors before each replay, outside the captured region");
        CudaDevice.MakeCurrent();
        lock (_copyGate)
        {
            ulong dst = Ptr(destination);
            if (source.Length <= UploadRing.HalfBytes)
            {
                _uploads.Upload(source, dst);
                return;
            }
            for (long done = 0; done < source.Length;)
            {
                long n = Math.Min(StagingChunk, source.Length - done);
                _staging.EnsureCapacity(n);
                source.Slice((int)done, (int)n).CopyTo(_staging.Span(n));
                Driver.Check(Driver.cuMemcpyHtoDAsync_v2(dst + (ulong)done, (void*)_staging.Pointer, (nuint)n, CudaDevice.Stream), "cuMemcpyHtoDAsync_v2");
                Profile.Upload(n);
                // The staging buffer is reused by the next chunk: wait until the DMA has read it.
                CudaDevice.Synchronize();
                done += n;
            }
        }
    }

    public void CopyToHost(Tensor source, Span<byte> destination)
    {
        if (destination.Length != source.Bytes)
            throw new ArgumentException($"CopyToHost: {destination.Length} bytes for a tensor of {source.Bytes}");
        CudaDevice.MakeCurrent();
        lock (_copyGate)
        {
            ulong src = Ptr(source);
            for (long done = 0; done < destination.Length;)
            {
                long n = Math.Min(StagingChunk, destination.Length - done);
                _staging.EnsureCapacity(n);
                Driver.Check(Driver.cuMemcpyDtoHAsync_v2((void*)_staging.Pointer, src + (ulong)done, (nuint)n, CudaDevice.Stream), "cuMemcpyDtoHAsync_v2");
                Profile.Download(n);
                CudaDevice.Synchronize();
                _staging.Span(n).CopyTo(destination.Slice((int)done, (int)n));
                done += n;
            }
        }
        ThrowDeferredErrors();
    }

    public void Synchronize()
    {
        CudaDevice.Synchronize();
        ThrowDeferredErrors();
    }

    /// <summary>Reads the device's error slot (after a synchronisation) and throws what a kernel reported.</summary>
    private void ThrowDeferredErrors()
    {
        var e = stackalloc int[4];
        // A synchronous copy: it waits for the stream like a synchronisation does.
        Profile.Download(16);
        Profile.HostSync();
        Driver.Check(Driver.cuMemcpyDtoH_v2(e, _errors, 16), "cuMemcpyDtoH_v2(errors)");
        if (e[0] == 0) return;
        Driver.Check(Driver.cuMemsetD32_v2(_errors, 0, 4), "cuMemsetD32_v2(errors)");
        throw e[0] switch
        {
            1 => new ArgumentOutOfRangeException("ids", $"Embedding: id {e[2]} at position {e[1]} is outside the table (found by the CUDA kernel)"),
            2 => new ArgumentOutOfRangeException("indices", $"GatherRows: index {e[2]} at {e[1]} is outside the source rows (found by the CUDA kernel)"),
            3 => new ArgumentOutOfRangeException("indices", $"ScatterRows: index {e[2]} at {e[1]} is outside the destination rows (found by the CUDA kernel)"),
            4 => new ArgumentOutOfRangeException("targets", $"SoftmaxCrossEntropy: row {e[1]} has target {e[2]}, outside the vocabulary (found by the CUDA kernel)"),
            5 => new ArgumentOutOfRangeException("typeIds", $"EmbeddingSum: token type id {e[2]} at position {e[1]} is outside the token-type table (found by the CUDA kernel)"),
            _ => new CudaException($"a CUDA kernel reported error code {e[0]} at {e[1]} (value {e[2]})"),
        };
    }

    // ---- checks shared by the primitives -------------------------------------------------------------------------

    internal void Own(string op, params ReadOnlySpan<Tensor?> tensors)
    {
        foreach (var t in tensors)
            if (t is not null && t.Device != Device)
                throw new ArgumentException($"{op}: a tensor {t.Shape} is on {t.Device}, not {Device}");
    }

    internal static void SameCount(string op, Tensor a, Tensor b)
    {
        if (a.Count != b.Count) throw new ArgumentException($"{op}: {a.Shape} and {b.Shape} have different element counts");
    }

    internal static void Require(string op, Tensor t, DType dtype)
    {
        if (t.DType != dtype) throw new ArgumentException($"{op}: expected a {dtype.Name()} tensor, got {t.DType.Name()} {t.Shape}");
    }

    /// <summary>The F32-only kernels index 4-byte elements: a BF16 or I32 tensor would be read past its end.</summary>
    internal static void F32(string op, params Tensor[] tensors)
    {
        foreach (var t in tensors) Require(op, t, DType.F32);
    }

    /// <summary>
    /// The kernel suffix of an activation dtype ("" for F32, "_bf16" for BF16), for kernels instantiated for both;
    /// every tensor given must have that one dtype (F32 parameters beside them are checked with <see cref="F32"/>).
    /// </summary>
    internal static string Activations(string op, params Tensor[] tensors)
    {
        var dtype = tensors[0].DType;
        if (dtype is not (DType.F32 or DType.BF16))
            throw new ArgumentException($"{op}: expected f32 or bf16 activations, got {dtype.Name()} {tensors[0].Shape}");
        foreach (var t in tensors)
            if (t.DType != dtype)
                throw new ArgumentException($"{op}: tensors {tensors[0].Shape} {dtype.Name()} and {t.Shape} {t.DType.Name()} must share one dtype");
        return dtype == DType.BF16 ? "_bf16" : "";
    }

    /// <summary>Scratch device memory from the pool, returned when disposed (stream order keeps it safe).</summary>
    internal Tensor Scratch(long elements, DType dtype = DType.F32) => Tensor.Empty([checked((int)Math.Max(elements, 1))], dtype, Device);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        CudaDevice.MakeCurrent();
        Driver.cuStreamSynchronize(CudaDevice.Stream);
        foreach (var t in _tables.Values) t.Dispose();
        _tables.Clear();
        Cublas.cublasDestroy_v2(_cublas);
        Driver.cuMemFree_v2(_cublasWorkspace);
        Driver.cuMemFree_v2(_errors);
        Driver.cuMemFree_v2(_columnTickets);
        if (_stepState != 0) Driver.cuMemFree_v2(_stepState);
        _staging.Dispose();
        _uploads.Dispose();
        CudaDevice.Dispose();
    }
}
