using Electra.Autograd;

namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

/// <summary>
/// Backward of a scalar loss starts from a host 1, and Add, Scale and Sum hand on host numbers (Gradient): a probe
/// node that takes host gradients records what reaches it. The host number must be exactly what the tensor path
/// would compute, and must not be claimed where the gradient depends on tensor values.
/// </summary>
public class HostGradientTests
{
    /// <summary>y = x, recording the upstream gradient it receives and passing it on unchanged.</summary>
    private static Tensor Probe(Tensor x, List<Gradient> seen)
    {
        var y = Ops.Copy(x);
        Node.RecordTakingHostGradients("Probe", y, [x], g =>
        {
            seen.Add(g.Tensor is { } t ? Ops.Copy(t) : g);
            return [g];
        });
        return y;
    }

    private static Tensor Leaf(float[] values, params int[] shape)
    {
        var t = Tensor.FromArray(values, shape);
        t.RequiresGrad = true;
        return t;
    }

    [Test]
    public void AddScaleAndSumKeepTheSeedOnTheHost()
    {
        using var x = Leaf([1f, -2f, 3f], 3);
        using var z = Leaf([0.5f, 4f], 2);
        var seenX = new List<Gradient>();
        var seenZ = new List<Gradient>();
        using (new TensorScope())
        {
            // loss = 3·Σx + 50·(0.5·Σz), the shape of mlm + 50·disc.
            var loss = Ops.Add(Ops.Scale(Ops.Sum(Probe(x, seenX)), 3f), Ops.Sum(Probe(z, seenZ), 0.5f), 1f, 50f);
            loss.Backward();
        }
        Assert.That(seenX.Select(g => g.HostValue), Is.EqualTo(new float?[] { 3f }), "1 · 3 through Scale, then Sum's scale 1");
        Assert.That(seenZ.Select(g => g.HostValue), Is.EqualTo(new float?[] { 25f }), "1 · 50 through Add, then Sum's 0.5");
        Assert.That(x.Grad!.ToFloatArray(), Is.EqualTo(new[] { 3f, 3f, 3f }), "a leaf gets the host number as a filled tensor");
        Assert.That(z.Grad!.ToFloatArray(), Is.EqualTo(new[] { 25f, 25f }));
    }

    [Test]
    public void TwoHostNumbersForOneTensorAddOnTheHost()
    {
        using var x = Leaf([1f, 2f], 2);
        var seen = new List<Gradient>();
        using (new TensorScope())
        {
            var s = Ops.Sum(Probe(x, seen));
            Ops.Add(Ops.Scale(s, 2f), Ops.Scale(s, 3f)).Backward();
        }
        Assert.That(seen.Select(g => g.HostValue), Is.EqualTo(new float?[] { 5f }));
        Assert.That(x.Grad!.ToFloatArray(), Is.EqualTo(new[] { 5f, 5f }));
    }

    [Test]
    public void AGradientThatDependsOnTensorsIsATensor()
    {
        // Σ(x·wᵀ): ∂/∂x[i, k] = Σ_o w[o, k], the upstream host 1 times a tensor's values.
        var wData = TestData.RandomFloats(3 * 4, 7);
        using var x = Leaf(TestData.RandomFloats(2 * 4, 8), 2, 4);
        var seen = new List<Gradient>();
        using var scope = new TensorScope();
        var w = Tensor.FromArray(wData, [3, 4]);
        Ops.Sum(Ops.Linear(Probe(x, seen), w, null)).Backward();
        Assert.That(seen, Has.Count.EqualTo(1));
        Assert.That(seen[0].HostValue, Is.Null);
        var columnSums = Enumerable.Range(0, 4).Select(k => wData[k] + wData[4 + k] + wData[8 + k]).ToArray();
        Assert.That(seen[0].Tensor!.ToFloatArray(), Is.EqualTo(columnSums.Concat(columnSums).ToArray()).Within(1e-6f));
    }

    [Test]
    public void ALossTimesATensorValueIsNotAHostNumber()
    {
        // MSE's gradient is 2(p − t)/N times the upstream: the probe before it must see those values.
        using var p = Leaf([1f, 3f], 2);
        var seen = new List<Gradient>();
        using var scope = new TensorScope();
        Ops.Scale(Ops.MeanSquaredError(Probe(p, seen), Tensor.FromArray([0f, 1f], [2])), 2f).Backward();
        Assert.That(seen[0].HostValue, Is.Null);
        Assert.That(seen[0].Tensor!.ToFloatArray(), Is.EqualTo(new[] { 2f, 4f }), "2 · 2(p − t)/2");
        Assert.That(p.Grad!.ToFloatArray(), Is.EqualTo(new[] { 2f, 4f }));
    }

    [Test]
    public void ABackwardThatTakesOnlyTensorsGetsTheHostNumberFilledIn()
    {
        // Reshape's backward is written for tensors: it gets a tensor of 4s, and the probe before it that tensor's view.
        using var x = Leaf([1f, 2f, 3f, 4f], 4);
        var seen = new List<Gradient>();
        using var scope = new TensorScope();
        Ops.Scale(Ops.Sum(Probe(x, seen).Reshape(2, 2)), 4f).Backward();
        Assert.That(seen[0].HostValue, Is.Null);
        Assert.That(seen[0].Tensor!.ToFloatArray(), Is.EqualTo(new[] { 4f, 4f, 4f, 4f }));
        Assert.That(x.Grad!.ToFloatArray(), Is.EqualTo(new[] { 4f, 4f, 4f, 4f }));
    }

    [Test]
    public void AnExplicitSeedIsATensor()
    {
        using var x = Leaf([1f, 2f], 2);
        var seen = new List<Gradient>();
        using var scope = new TensorScope();
        Ops.Scale(Ops.Sum(Probe(x, seen)), 3f).Backward(Tensor.Full(new Shape(), 2f));
        Assert.That(seen[0].HostValue, Is.Null);
        Assert.That(seen[0].Tensor!.ToFloatArray(), Is.EqualTo(new[] { 6f, 6f }));
        Assert.That(x.Grad!.ToFloatArray(), Is.EqualTo(new[] { 6f, 6f }));
    }
}
