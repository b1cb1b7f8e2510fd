namespace Electra;

/// <summary>
/// How a run computes. <see cref="Fp32"/>: F32 storage and arithmetic, GEMMs included. <see cref="Tf32"/>: F32
/// storage, GEMMs on tensor cores with TF32 inputs (10-bit mantissas) and F32 accumulation (CUDA, compute
/// capability ≥ 8.0). <see cref="Bf16"/>: mixed precision as <see cref="Autocast"/> defines it (CUDA, ≥ 8.0).
/// </summary>
public enum Precision
{
    Fp32,
    Tf32,
    Bf16,
}

public static class PrecisionNames
{
    public static string Name(this Precision precision) => precision switch
    {
        Precision.Fp32 => "fp32",
        Precision.Tf32 => "tf32",
        Precision.Bf16 => "bf16",
        _ => precision.ToString(),
    };

    /// <summary>Parses "fp32", "tf32" or "bf16" (any case); the error names the option and what is accepted.</summary>
    public static Precision Parse(string text, string option = "--precision") => text.Trim().ToLowerInvariant() switch
    {
        "fp32" or "f32" => Precision.Fp32,
        "tf32" => Precision.Tf32,
        "bf16" => Precision.Bf16,
        _ => throw new ArgumentException($"{option} '{text}': expected bf16, tf32 or fp32"),
    };
}
