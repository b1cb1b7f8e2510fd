using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Electra.IO;

/// <summary>
/// Writes tensors as a safetensors file that the reference implementation (and HF transformers) reads: header keys
/// sorted, header padded with spaces so the data starts on an 8-byte boundary, tensors laid out widest dtype first
/// so every tensor's offset is a multiple of its element size. The file appears atomically: it is written to
/// <c>path + ".tmp"</c> and moved over <c>path</c> only when complete.
/// </summary>
public static class SafetensorsWriter
{
    /// <param name="storeAs">
    /// null stores each tensor in its own dtype; F32 or BF16 converts every floating tensor to that dtype
    /// (I32 tensors are always stored as I32).
    /// </param>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null, DType? storeAs = null)
    {
        if (storeAs is DType.I32)
            throw new ArgumentException($"{path}: storeAs must be F32 or BF16 (it converts floating tensors); got I32", nameof(storeAs));

        var entries = new List<(string Name, Tensor Tensor, SafetensorsDType Stored)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in tensors)
        {
            if (name == SafetensorsHeader.MetadataKey)
                throw new ArgumentException($"{path}: '{name}' is reserved for the metadata map and cannot name a tensor");
            if (!seen.Add(name))
                throw new ArgumentException($"{path}: tensor '{name}' given twice");
            if (tensor.IsDisposed)
                throw new ObjectDisposedException($"{path}: tensor '{name}' is disposed");
            var stored = tensor.DType == DType.I32 || storeAs is null
                ? SafetensorsDTypes.From(tensor.DType)
                : SafetensorsDTypes.From(storeAs.Value);
            entries.Add((name, tensor, stored));
        }

        // Widest element first, then by name: offsets stay multiples of each element size (as the reference does).
        var layout = entries.OrderByDescending(e => e.Stored.Size()).ThenBy(e => e.Name, StringComparer.Ordinal).ToList();
        var offsets = new Dictionary<string, (long Begin, long End)>(StringComparer.Ordinal);
        long position = 0;
        foreach (var e in layout)
        {
            long bytes = e.Tensor.Count * e.Stored.Size();
            offsets[e.Name] = (position, position + bytes);
            position += bytes;
        }

        var header = BuildHeader(entries, offsets, metadata);
        var tmp = path + ".tmp";
        try
        {
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                stream.Write(length);
                stream.Write(header);
                foreach (var e in layout) stream.Write(StoredBytes(path, e.Name, e.Tensor, e.Stored));
                stream.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } // the original error matters more than a stale .tmp
            throw;
        }
    }

    private static byte[] BuildHeader(List<(string Name, Tensor Tensor, SafetensorsDType Stored)> entries,
        Dictionary<string, (long Begin, long End)> offsets, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafetensorsHeader.MetadataKey);
                foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) json.WriteString(key, value);
                json.WriteEndObject();
            }
            foreach (var e in entries.OrderBy(e => e.Name, StringComparer.Ordinal))
            {
                json.WriteStartObject(e.Name);
                json.WriteString("dtype", e.Stored.FormatName());
                json.WriteStartArray("shape");
                foreach (var d in e.Tensor.Shape.Dims) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offsets[e.Name].Begin);
                json.WriteNumberValue(offsets[e.Name].End);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        // Pad so that 8 (the length prefix) + header is a multiple of 8; trailing spaces are valid JSON whitespace.
        int padding = (int)((8 - buffer.Length % 8) % 8);
        for (int i = 0; i < padding; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    private static byte[] StoredBytes(string path, string name, Tensor tensor, SafetensorsDType stored)
    {
        long bytes = tensor.Count * stored.Size();
        if (bytes > Array.MaxLength)
            throw new ArgumentException($"{path}: tensor '{name}' {tensor.Shape} needs {bytes} bytes, more than one write can hold");
        if (stored == SafetensorsDTypes.From(tensor.DType))
        {
            var raw = new byte[bytes];
            tensor.Backend.CopyToHost(tensor, raw);
            return raw;
        }
        var values = tensor.ToFloatArray();
        if (stored == SafetensorsDType.F32) return MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        var result = new byte[bytes];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(2 * i), BFloat16.FromFloat(values[i]));
        return result;
    }
}
