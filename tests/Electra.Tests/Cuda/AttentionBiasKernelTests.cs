using static Electra.Tests.Cuda.Gpu;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>
/// The QKV projection's bias handed to the attention kernels (added as Q, K, V are read; in the tensor-core backward
/// its gradient summed from the blocks' own dQ, dK, dV tiles): the same bits as AddBias before attention for the
/// output, the log-sum-exp and dQkv, and a bias gradient equal to the column sums of dQkv, the same bits every run.
/// </summary>
[Category("Gpu")]
public class AttentionBiasKernelTests
{
    // (tensor cores, dtype, B, T, NH, HS, dropout, padding step). T = 45, 129: partial 64-row tiles; NH = 1: one
    // ticket serves the whole bias; HS 32 at F32: the forward whose registers are tightest.
    [TestCase(true, DType.BF16, 2, 45, 4, 64, 0.1f, 6)]
    [TestCase(true, DType.BF16, 3, 129, 2, 64, 0f, 11)]
    [TestCase(true, DType.BF16, 2, 70, 1, 32, 0.1f, 9)]
    [TestCase(false, DType.BF16, 2, 45, 2, 64, 0.1f, 6)]
    [TestCase(false, DType.F32, 2, 33, 2, 32, 0.1f, 5)]
    [TestCase(false, DType.F32, 1, 40, 1, 128, 0f, 3)]
    public void MatchesAddingTheBiasFirst(bool tensorCores, DType dtype, int b, int t, int nh, int hs, float dropout, int pad)
    {
        var be = Backend;
        be.UseTensorCoreAttention = tensorCores;
        try
        {
            using var scope = new TensorScope();
            int h = nh * hs;
            float scale = 1f / MathF.Sqrt(hs);
            var qkv = Input(TestData.RandomFloats(b * t * 3 * h, 300 + t, 1.5f), [b, t, 3 * h], dtype);
            var dOut = Input(TestData.RandomFloats(b * t * h, 400 + t), [b, t, h], dtype);
            var bias = Floats(TestData.RandomFloats(3 * h, 500 + hs, 0.7f), 3 * h);
            var mask = Ints(KernelTestInputs.PaddingMask(b, t, pad), b, t);
            var biased = Tensor.Empty([b, t, 3 * h], dtype, Dev);
            be.AddBias(qkv, bias, biased);

            (float[] Out, float[] Lse, float[] DQkv, float[]? DBias) Run(Tensor input, Tensor? qkvBias)
            {
                var o = Tensor.Full([b, t, h], float.NaN, dtype, Dev);
                var lse = Poisoned(b, nh, t);
                var d = Tensor.Full([b, t, 3 * h], float.NaN, dtype, Dev);
                var dBias = qkvBias is null ? null : Poisoned(3 * h);
                be.AttentionForward(input, mask, nh, scale, dropout, 21, 8, o, lse, qkvBias);
                be.AttentionBackward(dOut, input, mask, o, lse, nh, scale, dropout, 21, 8, d, qkvBias, dBias);
                return (o.ToFloatArray(), lse.ToFloatArray(), d.ToFloatArray(), dBias?.ToFloatArray());
            }

            var first = Run(biased, null);
            var fused = Run(qkv, bias);
            Assert.That(fused.Out, Is.EqualTo(first.Out), "output: the bias as loaded is the bias as AddBias stores it");
            Assert.That(fused.Lse, Is.EqualTo(first.Lse), "log-sum-exp");
            Assert.That(fused.DQkv, Is.EqualTo(first.DQkv), "dQkv");

            // The bias gradient: the column sums of dQkv as stored, in double; F32 partial sums in a fixed order.
            var want = new double[3 * h];
            for (int r = 0; r < b * t; r++)
                for (int c = 0; c < 3 * h; c++) want[c] += fused.DQkv[(long)r * 3 * h + c];
            var scaleOf = Math.Sqrt(want.Sum(x => x * x) / want.Length);
            for (int c = 0; c < 3 * h; c++)
                Assert.That(fused.DBias![c], Is.EqualTo(want[c]).Within(1e-5 * scaleOf + 1e-6 * Math.Abs(want[c])), $"dBias[{c}] ({"QKV"[c / h]})");
            Assert.That(Run(qkv, bias).DBias, Is.EqualTo(fused.DBias), "the same bits on a second run (the tickets were reset)");
        }
        finally
        {
            be.UseTensorCoreAttention = true;
        }
    }

    [Test]
    public void BiasGradientWithoutTheBiasIsANamedError()
    {
        using var scope = new TensorScope();
        var qkv = Tensor.Zeros([1, 4, 3 * 64], DType.BF16, Dev);
        var mask = Ints([1, 1, 1, 1], 1, 4);
        var o = Tensor.Zeros([1, 4, 64], DType.BF16, Dev);
        var lse = Tensor.Zeros([1, 1, 4], DType.F32, Dev);
        var ex = Assert.Throws<ArgumentException>(() =>
            Backend.AttentionBackward(o, qkv, mask, o, lse, 1, 0.125f, 0f, 0, 0, Tensor.Zeros([1, 4, 192], DType.BF16, Dev), null, Tensor.Zeros([192], DType.F32, Dev)));
        Assert.That(ex!.Message, Does.Contain("dQkvBias").And.Contain("qkvBias"));
    }

    private static Tensor Input(float[] data, int[] shape, DType dtype)
    {
        if (dtype == DType.F32) return Floats(data, shape);
        return KernelTestInputs.Bf16(data, shape).Device;
    }
}
