namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>Inputs shared by the kernel parity tests: BF16 copies on the device and their exact F32 values on the CPU.</summary>
internal static class KernelTestInputs
{
    /// <summary>A BF16 device tensor of <paramref name="data"/> rounded, and the rounded values as floats (the CPU's input).</summary>
    public static (Tensor Device, float[] Rounded) Bf16(float[] data, int[] shape)
    {
        var rounded = data.Select(v => BFloat16.ToFloat(BFloat16.FromFloat(v))).ToArray();
        using var f32 = Gpu.Floats(data, shape);
        var bf = Tensor.Empty(shape, DType.BF16, Gpu.Dev);
        Gpu.Backend.Copy(f32, bf);
        return (bf, rounded);
    }

    /// <summary>A BF16 device tensor filled with NaN, so unwritten elements show.</summary>
    public static Tensor PoisonedBf16(params int[] shape) => Tensor.Full(shape, float.NaN, DType.BF16, Gpu.Dev);

    /// <summary>Key mask [B, T]: batch b keeps its first T − (b·pad) % T tokens (at least one).</summary>
    public static int[] PaddingMask(int b, int t, int pad)
    {
        var mask = new int[b * t];
        for (int i = 0; i < b; i++)
        {
            int real = Math.Max(1, t - (i * pad) % t);
            for (int j = 0; j < real; j++) mask[i * t + j] = 1;
        }
        return mask;
    }
}
