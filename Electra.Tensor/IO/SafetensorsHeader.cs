using System.Text.Json;

namespace Electra.IO;

/// <summary>Where one tensor lives in a safetensors file: offsets are relative to the data section.</summary>
public sealed record SafetensorsTensorInfo(string Name, SafetensorsDType DType, Shape Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;
}

/// <summary>
/// Parses and validates a safetensors JSON header against the size of the data section that follows it. Everything a
/// later read relies on is checked here (offsets inside the data, byte length = elements × dtype size, no two
/// tensors sharing bytes), so reads never go out of range.
/// </summary>
public static class SafetensorsHeader
{
    /// <summary>The reference implementation refuses headers this large; so do we (a corrupt length, not a model).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public const string MetadataKey = "__metadata__";

    public static (Dictionary<string, SafetensorsTensorInfo> Tensors, Dictionary<string, string> Metadata) Parse(
        string file, ReadOnlyMemory<byte> json, long dataLength)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException e)
        {
            throw new SafetensorsException($"{file}: header ({json.Length} bytes) is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new SafetensorsException($"{file}: header must be a JSON object of tensors; found a JSON {Describe(root.ValueKind)}");

            var tensors = new Dictionary<string, SafetensorsTensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name == MetadataKey)
                {
                    if (sawMetadata) throw new SafetensorsException($"{file}: header has '{MetadataKey}' twice");
                    sawMetadata = true;
                    ParseMetadata(file, property.Value, metadata);
                    continue;
                }
                if (tensors.ContainsKey(property.Name))
                    throw new SafetensorsException($"{file}: tensor '{property.Name}': appears twice in the header");
                tensors.Add(property.Name, ParseTensor(file, property.Name, property.Value, dataLength));
            }
            CheckNoOverlap(file, tensors.Values);
            return (tensors, metadata);
        }
    }

    private static void ParseMetadata(string file, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new SafetensorsException($"{file}: '{MetadataKey}' must be an object of strings; found a JSON {Describe(value.ValueKind)}");
        foreach (var entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw new SafetensorsException($"{file}: '{MetadataKey}' entry '{entry.Name}' must be a string; found a JSON {Describe(entry.Value.ValueKind)}");
            metadata[entry.Name] = entry.Value.GetString()!;
        }
    }

    private static SafetensorsTensorInfo ParseTensor(string file, string name, JsonElement entry, long dataLength)
    {
        string where = $"{file}: tensor '{name}'";
        if (entry.ValueKind != JsonValueKind.Object)
            throw new SafetensorsException($"{where}: entry must be an object with dtype, shape and data_offsets; found a JSON {Describe(entry.ValueKind)}");

        if (!entry.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw new SafetensorsException($"{where}: missing string 'dtype'");
        var dtypeName = dtypeElement.GetString()!;
        if (!SafetensorsDTypes.TryParse(dtypeName, out var dtype))
            throw new SafetensorsException($"{where}: unknown dtype '{dtypeName}' (the format's dtypes: {SafetensorsDTypes.KnownNames})");

        if (!entry.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new SafetensorsException($"{where}: missing array 'shape'");
        var dims = new int[shapeElement.GetArrayLength()];
        int axis = 0;
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var dim) || dim < 0 || dim > int.MaxValue)
                throw new SafetensorsException($"{where}: shape {shapeElement.GetRawText()} has {d.GetRawText()} at axis {axis}; dimensions must be integers in [0, {int.MaxValue}]");
            dims[axis++] = (int)dim;
        }
        var shape = new Shape(dims);

        if (!entry.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw new SafetensorsException($"{where}: 'data_offsets' must be an array [begin, end]");
        var text = offsets.GetRawText();
        if (!TryOffset(offsets[0], out var begin) || !TryOffset(offsets[1], out var end))
            throw new SafetensorsException($"{where}: data_offsets {text} must be non-negative integers");
        if (begin > end)
            throw new SafetensorsException($"{where}: data_offsets [{begin}, {end}] begin after they end");
        if (end > dataLength)
            throw new SafetensorsException($"{where}: data_offsets [{begin}, {end}] reach past the data section, which has {dataLength} bytes (truncated file?)");

        long needed = ByteLengthOf(dims, dtype.Size());
        if (needed != end - begin)
        {
            var need = needed < 0 ? "more than 2^63" : needed.ToString();
            throw new SafetensorsException($"{where}: data_offsets [{begin}, {end}] hold {end - begin} bytes but shape {shape} of {dtype.FormatName()} needs {need}");
        }
        return new SafetensorsTensorInfo(name, dtype, shape, begin, end);
    }

    private static bool TryOffset(JsonElement e, out long value)
    {
        value = 0;
        return e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out value) && value >= 0;
    }

    /// <summary>Elements × size, or -1 when that does not fit in a long (such a tensor cannot match any offsets).</summary>
    private static long ByteLengthOf(int[] dims, int elementSize)
    {
        if (dims.Contains(0)) return 0;
        try
        {
            long n = elementSize;
            foreach (var d in dims) n = checked(n * d);
            return n;
        }
        catch (OverflowException)
        {
            return -1;
        }
    }

    private static void CheckNoOverlap(string file, IEnumerable<SafetensorsTensorInfo> tensors)
    {
        // Tensors without bytes cannot collide with anything, wherever their offsets point.
        var sorted = tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.Begin).ThenBy(t => t.End).ToList();
        for (int i = 1; i < sorted.Count; i++)
        {
            var (previous, current) = (sorted[i - 1], sorted[i]);
            if (current.Begin < previous.End)
                throw new SafetensorsException(
                    $"{file}: tensor '{current.Name}': data_offsets [{current.Begin}, {current.End}] overlap tensor '{previous.Name}' at [{previous.Begin}, {previous.End}]");
        }
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };
}
