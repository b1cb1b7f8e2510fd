using Electra.Cuda;

namespace Electra.Train;

/// <summary>
/// Resolves --precision against the device the run got: by default bf16 on CUDA devices of compute capability
/// ≥ 8.0 (tensor cores with bf16 and TF32) and fp32 elsewhere; bf16 and tf32 are refused where they cannot run (the
/// CPU backend computes in fp32 only: it does not emulate bf16). Also sets the CUDA backend's TF32 switch, so fp32
/// means full FP32 GEMMs there.
/// </summary>
public static class PrecisionChoice
{
    public const string Description = "bf16 (mixed precision), tf32 or fp32; default bf16 on CUDA devices of compute capability ≥ 8.0, fp32 on the CPU";

    /// <summary>The precision to run with on <paramref name="device"/>; null asks for the device's default.</summary>
    public static Precision Resolve(string? requested, Device device) =>
        Resolve(requested is null ? null : PrecisionNames.Parse(requested), device);

    public static Precision Resolve(Precision? requested, Device device)
    {
        var cuda = Backends.For(device) as CudaBackend;
        int arch = cuda?.CudaDevice.Arch ?? 0;
        var precision = requested ?? (arch >= 80 ? Precision.Bf16 : Precision.Fp32);
        if (precision != Precision.Fp32 && cuda is null)
            throw new ArgumentException(
                $"--precision {precision.Name()}: the CPU backend computes in fp32 only (bf16 and tf32 need a CUDA device of compute capability ≥ 8.0); use --precision fp32 or --device cuda");
        if (precision != Precision.Fp32 && arch < 80)
            throw new ArgumentException($"--precision {precision.Name()} needs compute capability ≥ 8.0, and {cuda!.CudaDevice.Name} is sm_{arch}; use --precision fp32");
        if (cuda is not null) cuda.AllowTf32 = precision != Precision.Fp32;
        return precision;
    }
}
