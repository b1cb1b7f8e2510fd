using static Electra.Tests.Cuda.Gpu;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>
/// The losses of a fixed-shape step (<see cref="Electra.Model.Pretrainer.StaticShapes"/>) read their counts on the
/// device: softmax-CE skips the padding rows past validRows (loss 0, gradient 0, sample = target) and scales by a
/// device 1/count; BCE and Sum scale by a device scalar. Against the CPU backend, and against the same loss with the
/// count as a launch argument.
/// </summary>
[Category("Gpu")]
public class FixedShapeLossKernelTests
{
    private static readonly IBackend Cpu = Backends.Cpu;

    [TestCase(12, 1001, 7, DType.F32)]
    [TestCase(9, 30522, 9, DType.BF16)]
    [TestCase(5, 333, 0, DType.F32)]
    public void CrossEntropySkipsPaddingRowsAndScalesByTheDeviceCount(int m, int v, int valid, DType dtype)
    {
        _ = Backend;
        using var scope = new TensorScope();
        var logits = TestData.RandomFloats(m * v, m + v, 5f);
        if (dtype == DType.BF16) logits = logits.Select(x => BFloat16.ToFloat(BFloat16.FromFloat(x))).ToArray();
        var targets = Enumerable.Range(0, m).Select(r => (r * 7919 + 3) % v).ToArray();
        float inverse = valid > 0 ? 1f / valid : 0f;
        const float temperature = 1f;
        const ulong seed = 77, offset = 5;

        var cx = Tensor.FromArray(logits, [m, v]);
        var cl = Tensor.Empty([m]);
        var cs = Tensor.Empty([m], DType.I32);
        Cpu.SoftmaxCrossEntropy(cx, Tensor.FromArray(targets, [m]), -100, cl, cx, 1f, cs, temperature, seed, offset,
            Tensor.FromArray([valid], [1]), Tensor.FromArray([inverse], [1]));

        var gx = Tensor.Empty([m, v], dtype, Dev);
        Backend.Copy(Floats(logits, m, v), gx);
        var gl = Poisoned(m);
        var gs = PoisonedInts(m);
        Backend.SoftmaxCrossEntropy(gx, Ints(targets, m), -100, gl, gx, 1f, gs, temperature, seed, offset, Ints([valid], 1), Floats([inverse], 1));

        var losses = gl.ToFloatArray();
        var grads = gx.ToFloatArray();
        var samples = gs.ToIntArray();
        AssertClose(losses, cl.ToFloatArray(), 1e-5, "losses");
        AssertClose(grads, cx.ToFloatArray(), dtype == DType.BF16 ? 1e-2 : 1e-4, "dLogits");
        Assert.That(samples, Is.EqualTo(cs.ToIntArray()), "samples");
        for (int r = valid; r < m; r++)
        {
            Assert.That(losses[r], Is.EqualTo(0f), $"padding row {r}: loss");
            Assert.That(samples[r], Is.EqualTo(targets[r]), $"padding row {r}: its sample is its target");
            Assert.That(grads.AsSpan(r * v, v).ToArray(), Is.All.EqualTo(0f), $"padding row {r}: gradient");
        }

        // The real rows as the unpadded launch computes them, with 1/valid as its argument.
        if (valid == 0) return;
        var ux = Tensor.Empty([valid, v], dtype, Dev);
        Backend.Copy(Floats(logits[..(valid * v)], valid, v), ux);
        var ul = Poisoned(valid);
        var us = PoisonedInts(valid);
        Backend.SoftmaxCrossEntropy(ux, Ints(targets[..valid], valid), -100, ul, ux, inverse, us, temperature, seed, offset);
        Assert.That(losses[..valid], Is.EqualTo(ul.ToFloatArray()), "real rows' losses, bit for bit");
        Assert.That(grads[..(valid * v)], Is.EqualTo(ux.ToFloatArray()), "real rows' gradients, bit for bit");
        Assert.That(samples[..valid], Is.EqualTo(us.ToIntArray()), "real rows' samples");
    }

    [Test]
    public void BceAndSumScaleByTheDeviceScalar()
    {
        _ = Backend;
        using var scope = new TensorScope();
        const int n = 1000;
        var x = TestData.RandomFloats(n, 3, 4f);
        var y = Enumerable.Range(0, n).Select(i => i % 3 == 0 ? 1f : 0f).ToArray();
        var w = Enumerable.Range(0, n).Select(i => i % 10 == 9 ? 0f : 1f).ToArray();
        const float inverse = 1f / 900f;
        (float[] Losses, float[] Grads, float Sum) Run(IBackend be, Device dev, float scale, Tensor? scaleBy)
        {
            var losses = Tensor.Empty([n], DType.F32, dev);
            var grads = Tensor.Empty([n], DType.F32, dev);
            be.BceWithLogits(Tensor.FromArray(x, [n], dev), Tensor.FromArray(y, [n], dev), Tensor.FromArray(w, [n], dev), losses, grads, scale, scaleBy);
            var sum = Tensor.Empty([], DType.F32, dev);
            be.Sum(losses, sum, scale, scaleBy);
            return (losses.ToFloatArray(), grads.ToFloatArray(), sum.Item());
        }
        var onDevice = Run(Backend, Dev, 1f, Floats([inverse], 1));
        var asArgument = Run(Backend, Dev, inverse, null);
        var cpu = Run(Cpu, Device.Cpu, 1f, Tensor.FromArray([inverse], [1]));
        Assert.That(onDevice.Grads, Is.EqualTo(asArgument.Grads), "1·s on the device is s as an argument");
        Assert.That(onDevice.Sum, Is.EqualTo(asArgument.Sum));
        AssertClose(onDevice.Grads, cpu.Grads, 1e-5, "BCE gradient vs CPU");
        Assert.That(onDevice.Sum, Is.EqualTo(cpu.Sum).Within(1e-6 * Math.Abs(cpu.Sum)), "mean vs CPU");
    }
}
