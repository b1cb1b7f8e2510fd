using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;

namespace Electra.IO;

/// <summary>
/// A safetensors file opened for reading: 8-byte little-endian header length, JSON header, then the raw tensor bytes.
/// The file is memory-mapped, so opening a large checkpoint costs only the header parse and each tensor is copied
/// once, straight from the page cache into the tensor's storage. Every offset is validated at open.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly Dictionary<string, SafetensorsTensorInfo> _tensors;
    private byte* _base;
    private readonly long _dataStart;

    private SafetensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePointer,
        long dataStart, Dictionary<string, SafetensorsTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        _map = map;
        _view = view;
        _base = basePointer;
        _dataStart = dataStart;
        _tensors = tensors;
        Metadata = metadata;
        Names = tensors.Keys.Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>The path as given to <see cref="Open"/>; every error message starts with it.</summary>
    public string Path { get; }

    /// <summary>Tensor names in ordinal order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>The header's <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public static SafetensorsFile Open(string path)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors stores little-endian data; this reader assumes a little-endian machine");

        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SafetensorsException($"{path}: cannot open: {e.Message}", e);
        }

        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        byte* basePointer = null;
        try
        {
            long length = stream.Length;
            if (length < 8)
                throw new SafetensorsException($"{path}: file has {length} bytes; a safetensors file starts with an 8-byte header length");
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePointer);
            basePointer += view.PointerOffset;

            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(basePointer, 8));
            if (headerLength > SafetensorsHeader.MaxHeaderBytes)
                throw new SafetensorsException($"{path}: header length {headerLength} is over the {SafetensorsHeader.MaxHeaderBytes}-byte limit (not a safetensors file, or corrupt)");
            if ((long)headerLength > length - 8)
                throw new SafetensorsException($"{path}: header length {headerLength} reaches past the end of the file ({length} bytes, so at most {length - 8} are left for the header)");

            var header = new ReadOnlySpan<byte>(basePointer + 8, (int)headerLength).ToArray();
            long dataStart = 8 + (long)headerLength;
            var (tensors, metadata) = SafetensorsHeader.Parse(path, header, length - dataStart);
            return new SafetensorsFile(path, map, view, basePointer, dataStart, tensors, metadata);
        }
        catch
        {
            if (basePointer != null) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    public SafetensorsTensorInfo Info(string name)
    {
        if (_tensors.TryGetValue(name, out var info)) return info;
        var some = string.Join(", ", Names.Take(8).Select(n => $"'{n}'"));
        var more = Names.Count > 8 ? $" and {Names.Count - 8} more" : "";
        throw new SafetensorsException($"{Path}: no tensor '{name}' (it holds {Names.Count}: {some}{more})");
    }

    /// <summary>The tensor's bytes exactly as stored (little-endian), valid until this file is disposed.</summary>
    public ReadOnlySpan<byte> RawBytes(string name)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        var info = Info(name);
        if (info.ByteLength > int.MaxValue)
            throw new SafetensorsException($"{Path}: tensor '{name}': {info.ByteLength} bytes is more than one read can hold ({int.MaxValue})");
        return new ReadOnlySpan<byte>(_base + _dataStart + info.Begin, (int)info.ByteLength);
    }

    /// <summary>
    /// Reads a tensor onto <paramref name="device"/>: F32 stays F32, F16 and BF16 widen to F32, I32 stays I32,
    /// I64 narrows to I32 (every element must fit).
    /// </summary>
    public Tensor ReadTensor(string name, Device? device = null)
    {
        var info = Info(name);
        var bytes = RawBytes(name);
        var dev = device ?? Device.Cpu;
        switch (info.DType)
        {
            case SafetensorsDType.F32:
            {
                var t = Tensor.Empty(info.Shape, DType.F32, dev);
                t.Backend.CopyFromHost(bytes, t);
                return t;
            }
            case SafetensorsDType.I32:
            {
                var t = Tensor.Empty(info.Shape, DType.I32, dev);
                t.Backend.CopyFromHost(bytes, t);
                return t;
            }
            case SafetensorsDType.F16:
            {
                var values = new float[info.Shape.Count];
                for (int i = 0; i < values.Length; i++)
                    values[i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]));
                return Tensor.FromArray(values, info.Shape, dev);
            }
            case SafetensorsDType.BF16:
            {
                var values = new float[info.Shape.Count];
                for (int i = 0; i < values.Length; i++)
                    values[i] = BFloat16.ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]));
                return Tensor.FromArray(values, info.Shape, dev);
            }
            case SafetensorsDType.I64:
            {
                var values = new int[info.Shape.Count];
                for (int i = 0; i < values.Length; i++)
                {
                    long v = BinaryPrimitives.ReadInt64LittleEndian(bytes[(8 * i)..]);
                    if (v < int.MinValue || v > int.MaxValue)
                        throw new SafetensorsException($"{Path}: tensor '{name}': I64 element {i} is {v}, outside the I32 range it is read into");
                    values[i] = (int)v;
                }
                return Tensor.FromArray(values, info.Shape, dev);
            }
            default:
                throw new SafetensorsException(
                    $"{Path}: tensor '{name}': dtype {info.DType.FormatName()} cannot be read (readable: {string.Join(", ", SafetensorsDTypes.Readable.Select(d => d.FormatName()))})");
        }
    }

    public void Dispose()
    {
        if (_base == null) return;
        _base = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
