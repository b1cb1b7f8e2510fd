using System.Runtime.InteropServices;
using System.Text;
using Electra.Autograd;

namespace Electra;

/// <summary>
/// A contiguous, row-major block of elements on one device. Reshapes share memory, as do the parts of one buffer
/// (<see cref="Part"/>); every other op writes a new tensor. A tensor that requires grad and came out of an op remembers that op (<see cref="GradFn"/>), so
/// <see cref="Backward"/> can walk the graph back to the leaves.
/// </summary>
public sealed partial class Tensor : IDisposable
{
    private bool _disposed;
    private readonly long _offset; // bytes from the start of the storage: non-zero only for a Part

    internal Tensor(Storage storage, Shape shape, DType dtype, long offset = 0)
    {
        if (offset < 0 || offset + shape.Count * dtype.Size() > storage.Bytes)
            throw new ArgumentException($"shape {shape} of {dtype.Name()} at byte {offset} needs {offset + shape.Count * dtype.Size()} bytes; storage has {storage.Bytes}");
        Storage = storage;
        Shape = shape;
        DType = dtype;
        _offset = offset;
        TensorScope.Current?.Add(this);
    }

    public Shape Shape { get; }
    public DType DType { get; }
    public Storage Storage { get; }
    public IBackend Backend => Storage.Backend;
    public Device Device => Storage.Backend.Device;
    public long Count => Shape.Count;
    public long Bytes => Count * DType.Size();
    public int Rank => Shape.Rank;

    /// <summary>Optional name, used in error messages and by modules for parameters.</summary>
    public string? Name { get; set; }

    /// <summary>True for parameters (set by hand) and for every op output computed from one.</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>∂loss/∂this, accumulated by <see cref="Backward"/> into leaves that require grad.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>The op that produced this tensor, while its graph is alive; null for leaves.</summary>
    public Node? GradFn { get; internal set; }

    internal TensorScope? Scope { get; set; }

    /// <summary>A parameter's bf16 copy, the GEMM operand of mixed precision (see <see cref="Autocast"/>); owned by this tensor.</summary>
    internal Tensor? Bf16Copy { get; set; }

    public bool IsDisposed => _disposed;

    public bool IsLeaf => GradFn is null;

    /// <summary>Pointer to the first element (host memory on CPU, device memory on CUDA).</summary>
    public nint Pointer
    {
        get
        {
            ThrowIfDisposed();
            return Storage.Pointer + (nint)_offset;
        }
    }

    /// <summary>
    /// Elements [<paramref name="offset"/>, offset + shape's count) of this tensor's memory, seen as
    /// <paramref name="dtype"/> of the same element size: several inputs that travel together, uploaded as one buffer,
    /// each used as a tensor of its own. Never recorded in the graph; the buffer's memory lives while any part does.
    /// </summary>
    public Tensor Part(long offset, Shape shape, DType dtype)
    {
        ThrowIfDisposed();
        if (dtype.Size() != DType.Size())
            throw new ArgumentException($"Part: {dtype.Name()} elements are not the size of this {DType.Name()} buffer's");
        if (offset < 0 || offset + shape.Count > Count)
            throw new ArgumentOutOfRangeException(nameof(offset), $"Part: elements [{offset}, {offset + shape.Count}) are outside this buffer of {Count}");
        Storage.AddRef();
        return new Tensor(Storage, shape, dtype, _offset + offset * DType.Size());
    }

    // ---- creation -------------------------------------------------------------------------------------------

    public static Tensor Empty(Shape shape, DType dtype = DType.F32, Device? device = null)
    {
        var backend = Backends.For(device ?? Device.Cpu);
        return new Tensor(backend.Allocate(shape.Count * dtype.Size()), shape, dtype);
    }

    public static Tensor Zeros(Shape shape, DType dtype = DType.F32, Device? device = null) => Full(shape, 0f, dtype, device);

    public static Tensor Ones(Shape shape, DType dtype = DType.F32, Device? device = null) => Full(shape, 1f, dtype, device);

    public static Tensor Full(Shape shape, float value, DType dtype = DType.F32, Device? device = null)
    {
        var t = Empty(shape, dtype, device);
        t.Backend.Fill(t, value);
        return t;
    }

    public static Tensor Scalar(float value, Device? device = null) => FromArray([value], [], device);

    public static Tensor FromArray(float[] data, Shape shape, Device? device = null) => FromSpan<float>(data, shape, DType.F32, device);

    public static Tensor FromArray(int[] data, Shape shape, Device? device = null) => FromSpan<int>(data, shape, DType.I32, device);

    public static Tensor FromArray(float[] data) => FromArray(data, [data.Length]);

    public static Tensor FromArray(int[] data) => FromArray(data, [data.Length]);

    /// <summary>Copies host elements into a new tensor. <typeparamref name="T"/> must match the dtype's size.</summary>
    public static Tensor FromSpan<T>(ReadOnlySpan<T> data, Shape shape, DType dtype, Device? device = null) where T : unmanaged
    {
        if (data.Length != shape.Count)
            throw new ArgumentException($"{data.Length} elements do not fill shape {shape} ({shape.Count} elements)");
        if (Marshal.SizeOf<T>() != dtype.Size())
            throw new ArgumentException($"{typeof(T).Name} elements cannot be stored as {dtype.Name()}");
        var t = Empty(shape, dtype, device);
        t.Backend.CopyFromHost(MemoryMarshal.AsBytes(data), t);
        return t;
    }

    /// <summary>Overwrites this tensor's elements with host ones (same count, same element size), keeping its memory.</summary>
    public void CopyFrom<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        if (data.Length != Count)
            throw new ArgumentException($"CopyFrom: {data.Length} elements for a tensor {Shape} of {Count}");
        if (Marshal.SizeOf<T>() != DType.Size())
            throw new ArgumentException($"CopyFrom: {typeof(T).Name} elements cannot be stored as {DType.Name()}");
        Backend.CopyFromHost(MemoryMarshal.AsBytes(data), this);
    }

    // ---- reading back -------------------------------------------------------------------------------------------

    public T[] ToArray<T>() where T : unmanaged
    {
        ThrowIfDisposed();
        if (Marshal.SizeOf<T>() != DType.Size())
            throw new InvalidOperationException($"cannot read {DType.Name()} tensor as {typeof(T).Name}");
        var result = new T[Count];
        Backend.CopyToHost(this, MemoryMarshal.AsBytes(result.AsSpan()));
        return result;
    }

    public float[] ToFloatArray()
    {
        if (DType == DType.BF16)
        {
            var raw = ToArray<ushort>();
            var f = new float[raw.Length];
            for (int i = 0; i < raw.Length; i++) f[i] = BFloat16.ToFloat(raw[i]);
            return f;
        }
        RequireDType(DType.F32, "ToFloatArray");
        return ToArray<float>();
    }

    public int[] ToIntArray()
    {
        RequireDType(DType.I32, "ToIntArray");
        return ToArray<int>();
    }

    /// <summary>The value of a one-element tensor.</summary>
    public float Item()
    {
        if (Count != 1) throw new InvalidOperationException($"Item() needs a one-element tensor; this one has shape {Shape}");
        return DType == DType.I32 ? ToArray<int>()[0] : ToFloatArray()[0];
    }

    /// <summary>Host view of a CPU tensor's elements; no copy.</summary>
    public unsafe Span<T> AsSpan<T>() where T : unmanaged
    {
        ThrowIfDisposed();
        if (!Device.IsCpu) throw new InvalidOperationException($"AsSpan needs a CPU tensor; this one is on {Device}");
        if (sizeof(T) != DType.Size()) throw new InvalidOperationException($"cannot view {DType.Name()} tensor as {typeof(T).Name}");
        return new Span<T>((void*)Pointer, checked((int)Count));
    }

    // ---- shape --------------------------------------------------------------------------------------------------

    /// <summary>
    /// Same memory, new shape (one axis may be -1). Free: no copy. The result takes part in autograd like any op.
    /// </summary>
    public Tensor Reshape(params int[] dims)
    {
        ThrowIfDisposed();
        var shape = ResolveReshape(dims);
        Storage.AddRef();
        var view = new Tensor(Storage, shape, DType, _offset);
        if (RequiresGrad && GradMode.IsEnabled)
        {
            var from = Shape.ToArray();
            Node.Record("Reshape", view, [this], g => [g.Reshape(from)]);
        }
        return view;
    }

    /// <summary>Same memory, new shape, never recorded in the graph: for ops that reinterpret their own inputs.</summary>
    internal Tensor View(params int[] dims)
    {
        ThrowIfDisposed();
        var shape = ResolveReshape(dims);
        Storage.AddRef();
        return new Tensor(Storage, shape, DType, _offset);
    }

    private Shape ResolveReshape(int[] dims)
    {
        int infer = Array.IndexOf(dims, -1);
        var resolved = (int[])dims.Clone();
        if (infer >= 0)
        {
            long known = 1;
            for (int i = 0; i < dims.Length; i++) if (i != infer) known *= dims[i];
            if (known == 0 || Count % known != 0)
                throw new ArgumentException($"cannot reshape {Shape} into [{string.Join(", ", dims)}]");
            resolved[infer] = (int)(Count / known);
        }
        var shape = new Shape(resolved);
        if (shape.Count != Count)
            throw new ArgumentException($"cannot reshape {Shape} ({Count} elements) into {shape} ({shape.Count} elements)");
        return shape;
    }

    // ---- autograd -----------------------------------------------------------------------------------------------

    /// <summary>
    /// Back-propagates from this tensor. A scalar needs no seed; any other tensor needs <paramref name="seed"/>,
    /// the gradient of the loss with respect to it.
    /// </summary>
    public void Backward(Tensor? seed = null) => Backprop.Run(this, seed);

    /// <summary>A tensor sharing this one's memory but cut off from the graph.</summary>
    public Tensor Detach()
    {
        ThrowIfDisposed();
        Storage.AddRef();
        return new Tensor(Storage, Shape, DType, _offset);
    }

    // ---- lifetime -----------------------------------------------------------------------------------------------

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        GradFn = null;
        Bf16Copy?.Dispose();
        Bf16Copy = null;
        Storage.Release();
    }

    internal void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(Name ?? $"tensor {Shape}", "tensor used after it was disposed");
    }

    internal void RequireDType(DType dtype, string op)
    {
        if (DType != dtype) throw new ArgumentException($"{op}: expected a {dtype.Name()} tensor, got {DType.Name()} {Shape}");
    }

    // ---- display ------------------------------------------------------------------------------------------------

    public override string ToString()
    {
        if (_disposed) return $"Tensor({Shape}, {DType.Name()}, disposed)";
        var head = $"Tensor({Shape}, {DType.Name()}, {Device}{(RequiresGrad ? ", requires_grad" : "")})";
        if (Count > 64) return head;
        var sb = new StringBuilder(head).Append(' ');
        if (DType == DType.I32) Format(sb, ToIntArray(), v => v.ToString());
        else Format(sb, ToFloatArray(), v => v.ToString("G5", System.Globalization.CultureInfo.InvariantCulture));
        return sb.ToString();
    }

    private void Format<T>(StringBuilder sb, T[] values, Func<T, string> fmt)
    {
        if (Rank == 0) { sb.Append(fmt(values[0])); return; }
        int pos = 0;
        void Axis(int axis)
        {
            sb.Append('[');
            for (int i = 0; i < Shape[axis]; i++)
            {
                if (i > 0) sb.Append(", ");
                if (axis == Rank - 1) sb.Append(fmt(values[pos++]));
                else Axis(axis + 1);
            }
            sb.Append(']');
        }
        Axis(0);
    }
}
