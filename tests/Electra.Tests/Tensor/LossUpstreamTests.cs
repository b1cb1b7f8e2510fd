using Electra.Autograd;

namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

/// <summary>
/// A loss's backward from a host upstream (Backward() of the loss or of a host multiple of it: no scale pass for 1,
/// the number as the one launch's argument otherwise) against the same upstream handed in as a tensor seed, which
/// takes the ScaleByScalar path: the logits' gradients agree bit for bit, on either device.
/// </summary>
public static class LossUpstream
{
    public enum Loss { SoftmaxCrossEntropy, Bce }

    /// <summary>∂(upstream·loss)/∂x with the upstream from the host (Backward()) or from a one-element seed.</summary>
    public static float[] Gradient(Device device, Loss kind, DType logitsDType, float upstream, bool hostUpstream)
    {
        const int m = 13, v = 37;
        using var scope = new TensorScope();
        var x = Tensor.FromArray(TestData.RandomFloats(m * v, 41, scale: 3f), [m, v], device);
        x.RequiresGrad = true;
        // BF16 logits are an intermediate (the cast), as in the mixed-precision step; F32 ones the leaf itself.
        var logits = logitsDType == DType.BF16 ? Ops.Cast(x, DType.BF16) : x;
        Tensor loss;
        if (kind == Loss.SoftmaxCrossEntropy)
        {
            var targets = Enumerable.Range(0, m).Select(i => i % 4 == 3 ? -100 : (i * 7) % v).ToArray();
            loss = Ops.SoftmaxCrossEntropy(logits, Tensor.FromArray(targets, [m], device)).loss;
        }
        else
        {
            var rng = new Random(42);
            var labels = Enumerable.Range(0, m * v).Select(_ => (float)rng.Next(2)).ToArray();
            var weights = Enumerable.Range(0, m * v).Select(i => i % 9 == 0 ? 0f : 1f).ToArray();
            loss = Ops.BceWithLogits(logits, Tensor.FromArray(labels, [m, v], device), Tensor.FromArray(weights, [m, v], device), weights.Sum());
        }
        var root = upstream == 1f ? loss : Ops.Scale(loss, upstream);
        if (hostUpstream) root.Backward();
        else root.Backward(Tensor.Full(new Shape(), 1f, DType.F32, device));
        var d = x.Grad!.ToFloatArray();
        x.Grad.Dispose();
        return d;
    }

    public static void AssertHostUpstreamMatchesTensorUpstream(Device device, Loss kind, DType logitsDType, float upstream)
    {
        var host = Gradient(device, kind, logitsDType, upstream, hostUpstream: true);
        var seeded = Gradient(device, kind, logitsDType, upstream, hostUpstream: false);
        Assert.That(host.Count(g => g != 0f), Is.GreaterThan(host.Length / 4), "a gradient to compare");
        Assert.That(host.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(seeded.Select(BitConverter.SingleToInt32Bits)),
            $"{kind} {logitsDType.Name()}, upstream {upstream}: host upstream against a tensor seed");
        if (upstream == 1f || logitsDType != DType.F32) return;
        // And the host number is applied: g·dUnit, rounded once, as the tensor path rounds it.
        var unit = Gradient(device, kind, logitsDType, 1f, hostUpstream: true);
        Assert.That(host, Is.EqualTo(unit.Select(u => u * upstream).ToArray()), "the upstream scales the unit gradient");
    }
}

public class LossUpstreamTests
{
    [TestCase(LossUpstream.Loss.SoftmaxCrossEntropy, 1f)]
    [TestCase(LossUpstream.Loss.SoftmaxCrossEntropy, 2.5f)]
    [TestCase(LossUpstream.Loss.Bce, 1f)]
    [TestCase(LossUpstream.Loss.Bce, 50f)]
    public void HostUpstreamMatchesTensorUpstreamOnCpu(LossUpstream.Loss kind, float upstream) =>
        LossUpstream.AssertHostUpstreamMatchesTensorUpstream(Device.Cpu, kind, DType.F32, upstream);
}
