namespace Electra;

/// <summary>Element types. F32 and I32 exist on every device; BF16 is storage for CUDA's mixed-precision path.</summary>
public enum DType
{
    F32,
    I32,
    BF16,
}

public static class DTypeExtensions
{
    public static int Size(this DType dtype) => dtype switch
    {
        DType.F32 => 4,
        DType.I32 => 4,
        DType.BF16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    public static string Name(this DType dtype) => dtype switch
    {
        DType.F32 => "f32",
        DType.I32 => "i32",
        DType.BF16 => "bf16",
        _ => dtype.ToString(),
    };
}
