using Electra.Tests.Tensor;
using static Electra.Tests.Cuda.Gpu;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>
/// The losses' backward from a host upstream on the CUDA backend: bit for bit what a tensor seed gives (the
/// ScaleByScalar path), and for the pretraining loss mlm + 50·disc no launch beyond the BCE's one scale by 50.
/// </summary>
[Category("Gpu")]
public class LossUpstreamKernelTests
{
    [TestCase(LossUpstream.Loss.SoftmaxCrossEntropy, "F32", 1f)]
    [TestCase(LossUpstream.Loss.SoftmaxCrossEntropy, "F32", 2.5f)]
    [TestCase(LossUpstream.Loss.SoftmaxCrossEntropy, "BF16", 1f)]
    [TestCase(LossUpstream.Loss.SoftmaxCrossEntropy, "BF16", 2.5f)]
    [TestCase(LossUpstream.Loss.Bce, "F32", 50f)]
    [TestCase(LossUpstream.Loss.Bce, "BF16", 1f)]
    public void HostUpstreamMatchesTensorUpstream(LossUpstream.Loss kind, string dtype, float upstream) =>
        LossUpstream.AssertHostUpstreamMatchesTensorUpstream(Dev, kind, Enum.Parse<DType>(dtype), upstream);

    [Test]
    public void ThePretrainingLossBackwardLaunchesOnlyTheBceScale()
    {
        const int m = 6, v = 50, n = 40;
        using var scope = new TensorScope();
        var mlmLogits = Floats(TestData.RandomFloats(m * v, 51, scale: 2f), m, v);
        var discLogits = Floats(TestData.RandomFloats(n, 52, scale: 2f), n);
        mlmLogits.RequiresGrad = discLogits.RequiresGrad = true;
        var targets = Ints(Enumerable.Range(0, m).Select(i => i * 3).ToArray(), m);
        var labels = Floats(Enumerable.Range(0, n).Select(i => (float)(i % 2)).ToArray(), n);
        var weights = Floats(Enumerable.Repeat(1f, n).ToArray(), n);
        var (mlm, _) = Ops.SoftmaxCrossEntropy(mlmLogits, targets, validRows: m);
        var loss = Ops.Add(mlm, Ops.BceWithLogits(discLogits, labels, weights, n), 1f, 50f);
        var before = Backend.Profile.Snapshot();
        loss.Backward();
        var d = Backend.Profile.Snapshot().Minus(before);
        Assert.That(d.LaunchesByKernel, Is.EquivalentTo(new Dictionary<string, long> { ["elementwise.cu:scale"] = 1 }),
            "no seed fill, no scale of the one-element gradient by 50, no scale of the CE gradient by 1");
        Assert.That(d.Memsets, Is.Zero);
        Assert.That(d.DeviceCopies, Is.Zero, "each loss's gradient becomes its leaf's without a copy");

        // The values: the BCE's 50·(σ(x) − y)/n, the CE's (softmax − one-hot)/m.
        var x = discLogits.ToFloatArray();
        var want = x.Select((xi, i) => 50f * (1f / (1f + MathF.Exp(-xi)) - i % 2) / n).ToArray();
        AssertClose(discLogits.Grad!.ToFloatArray(), want, 1e-5, "BCE gradient");
        var z = mlmLogits.ToFloatArray();
        var wantMlm = new float[m * v];
        for (int r = 0; r < m; r++)
        {
            var row = z.Skip(r * v).Take(v).Select(t => (double)t).ToArray();
            double max = row.Max(), sum = row.Sum(t => Math.Exp(t - max));
            for (int c = 0; c < v; c++) wantMlm[r * v + c] = (float)((Math.Exp(row[c] - max) / sum - (c == r * 3 ? 1 : 0)) / m);
        }
        AssertClose(mlmLogits.Grad!.ToFloatArray(), wantMlm, 1e-5, "CE gradient");
        discLogits.Grad.Dispose();
        mlmLogits.Grad.Dispose();
    }
}
