namespace Electra.IO;

/// <summary>
/// Every element type the safetensors format names. All of them are parsed so that a file holding, say, a BOOL
/// buffer still opens and its other tensors read; <see cref="SafetensorsFile.ReadTensor"/> converts only the
/// <see cref="SafetensorsDTypes.IsReadable">readable</see> ones.
/// </summary>
public enum SafetensorsDType
{
    Bool,
    U8,
    I8,
    F8E5M2,
    F8E4M3,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    F64,
    I64,
    U64,
}

public static class SafetensorsDTypes
{
    private static readonly (SafetensorsDType Type, string Name, int Size)[] Table =
    [
        (SafetensorsDType.Bool, "BOOL", 1),
        (SafetensorsDType.U8, "U8", 1),
        (SafetensorsDType.I8, "I8", 1),
        (SafetensorsDType.F8E5M2, "F8_E5M2", 1),
        (SafetensorsDType.F8E4M3, "F8_E4M3", 1),
        (SafetensorsDType.I16, "I16", 2),
        (SafetensorsDType.U16, "U16", 2),
        (SafetensorsDType.F16, "F16", 2),
        (SafetensorsDType.BF16, "BF16", 2),
        (SafetensorsDType.I32, "I32", 4),
        (SafetensorsDType.U32, "U32", 4),
        (SafetensorsDType.F32, "F32", 4),
        (SafetensorsDType.F64, "F64", 8),
        (SafetensorsDType.I64, "I64", 8),
        (SafetensorsDType.U64, "U64", 8),
    ];

    /// <summary>The dtypes <see cref="SafetensorsFile.ReadTensor"/> turns into Electra tensors.</summary>
    public static IReadOnlyList<SafetensorsDType> Readable { get; } =
        [SafetensorsDType.F32, SafetensorsDType.F16, SafetensorsDType.BF16, SafetensorsDType.I32, SafetensorsDType.I64];

    public static bool IsReadable(this SafetensorsDType dtype) => Readable.Contains(dtype);

    /// <summary>Bytes per element.</summary>
    public static int Size(this SafetensorsDType dtype) => Table[(int)dtype].Size;

    /// <summary>The spelling the format uses in the header ("F32", "BF16", "F8_E4M3").</summary>
    public static string FormatName(this SafetensorsDType dtype) => Table[(int)dtype].Name;

    public static bool TryParse(string name, out SafetensorsDType dtype)
    {
        foreach (var entry in Table)
        {
            if (entry.Name == name)
            {
                dtype = entry.Type;
                return true;
            }
        }
        dtype = default;
        return false;
    }

    public static string KnownNames => string.Join(", ", Table.Select(e => e.Name));

    /// <summary>The safetensors dtype that stores an Electra dtype as it is.</summary>
    public static SafetensorsDType From(DType dtype) => dtype switch
    {
        DType.F32 => SafetensorsDType.F32,
        DType.I32 => SafetensorsDType.I32,
        DType.BF16 => SafetensorsDType.BF16,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "no safetensors dtype for it"),
    };
}
