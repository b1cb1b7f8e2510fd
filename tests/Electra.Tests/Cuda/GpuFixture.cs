using Electra.Cuda;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>The one CUDA backend the Gpu tests share, or the reason there is none (the tests then skip with it).</summary>
public static class Gpu
{
    private static readonly Lazy<(CudaBackend? Backend, string Reason)> Instance = new(() =>
    {
        try
        {
            return (CudaBackend.Create(0), "");
        }
        catch (CudaUnavailableException e)
        {
            return (null, e.Message);
        }
    });

    public static CudaBackend Backend
    {
        get
        {
            var (b, reason) = Instance.Value;
            if (b is null) Assert.Ignore("no CUDA device: " + reason);
            return b!;
        }
    }

    public static Device Dev => Backend.Device;

    public static Tensor Floats(float[] data, params int[] shape) => Tensor.FromArray(data, shape, Dev);
    public static Tensor Ints(int[] data, params int[] shape) => Tensor.FromArray(data, shape, Dev);

    /// <summary>An output filled with NaN, so any element the kernel fails to write shows up.</summary>
    public static Tensor Poisoned(params int[] shape) => Tensor.Full(shape, float.NaN, DType.F32, Dev);

    public static Tensor PoisonedInts(params int[] shape) => Tensor.Full(shape, -12345, DType.I32, Dev);

    /// <summary>
    /// ‖got − want‖ / ‖want‖ in double; NaN anywhere in got fails. With <paramref name="floorRms"/> the denominator
    /// is at least floorRms·√n: a reference that is zero up to rounding noise is then compared on an absolute scale.
    /// </summary>
    public static void AssertClose(float[] got, float[] want, double tolerance, string what, double floorRms = 0)
    {
        Assert.That(got, Has.Length.EqualTo(want.Length), what);
        double num = 0, den = 0;
        for (int i = 0; i < got.Length; i++)
        {
            if (float.IsNaN(got[i]) && !float.IsNaN(want[i])) Assert.Fail($"{what}: element {i} is NaN (unwritten?), expected {want[i]}");
            double d = got[i] - (double)want[i];
            num += d * d;
            den += (double)want[i] * want[i];
        }
        den = Math.Max(den, floorRms * floorRms * got.Length);
        double rel = den == 0 ? Math.Sqrt(num) : Math.Sqrt(num / den);
        Assert.That(rel, Is.LessThanOrEqualTo(tolerance), $"{what}: relative error {rel:E2}");
    }

    public static int[] RandomInts(int n, int max, int seed)
    {
        var rng = new Random(seed);
        var x = new int[n];
        for (int i = 0; i < n; i++) x[i] = rng.Next(max);
        return x;
    }
}
