namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

/// <summary>
/// One gradient tensor may flow to several inputs (an Add with α = β = 1 passes its gradient to both; LayerNorm
/// gives x and the residual the same dS). The engine shares it without copying, so these cases would give wrong
/// sums if it ever wrote into a gradient that another use still holds.
/// </summary>
public class GradientSharingTests
{
    private static Tensor Leaf(params float[] values)
    {
        var t = Tensor.FromArray(values, [values.Length], Device.Cpu);
        t.RequiresGrad = true;
        return t;
    }

    [Test]
    public void TheSameLeafTwiceGetsTwiceTheGradient()
    {
        using var x = Leaf(1f, -2f, 3f);
        using (new TensorScope()) Ops.Sum(Ops.Add(x, x)).Backward();
        Assert.That(x.Grad!.ToFloatArray(), Is.EqualTo(new[] { 2f, 2f, 2f }));
        using (new TensorScope()) Ops.Sum(Ops.Add(x, x)).Backward();
        Assert.That(x.Grad!.ToFloatArray(), Is.EqualTo(new[] { 4f, 4f, 4f }), "the leaf's gradient is its own buffer, accumulated in place");
    }

    [Test]
    public void ASharedGradientIsNotOverwrittenWhileAnotherUseHoldsIt()
    {
        // h = 1·x; u = h + h; w = u + h: ∂Σw/∂x = 3. The gradient of w reaches u and h as one tensor; u's Add
        // then sends it to h twice more, so an in-place sum would double-count.
        using var x = Leaf(0.5f, 1.5f, -1f, 2f);
        using (new TensorScope())
        {
            var h = Ops.Scale(x, 1f);
            var u = Ops.Add(h, h);
            var w = Ops.Add(u, h);
            Ops.Sum(w, scale: 2f).Backward();
        }
        Assert.That(x.Grad!.ToFloatArray(), Is.EqualTo(new[] { 6f, 6f, 6f, 6f }));
    }

    [Test]
    public void AViewOfASharedGradientIsNotWrittenInPlace()
    {
        // w = r.reshape + h with r = h.reshape and h = 1·x, and z = w + r.reshape(4) again: Add hands one gradient
        // to both inputs, and Reshape's backward returns a view of it, so two pending sums may hold one memory.
        using var x = Leaf(1f, -1f, 2f, 0.5f);
        using (new TensorScope())
        {
            var h = Ops.Scale(x, 1f);
            var r = h.Reshape(2, 2);
            var w = Ops.Add(r.Reshape(4), h);
            var z = Ops.Add(w, r.Reshape(4));
            Ops.Sum(z).Backward();
        }
        Assert.That(x.Grad!.ToFloatArray(), Is.EqualTo(new[] { 3f, 3f, 3f, 3f }));
    }

    [Test]
    public void ALinearAddsItsInputGradientIntoTheOnePendingForIt()
    {
        // h feeds a residual-like use (Sum) and a Linear: backward reaches the Sum first, so the Linear's dX GEMM
        // is offered that pending gradient and adds into it (β = 1). Compare with two separate leaves.
        var data = TestData.RandomFloats(6 * 5, 31);
        var w = Tensor.FromArray(TestData.RandomFloats(3 * 5, 32), [3, 5]);
        var target = Tensor.FromArray(TestData.RandomFloats(6 * 3, 33), [6, 3]);
        using var x = Tensor.FromArray(data, [6, 5]);
        x.RequiresGrad = true;
        using (new TensorScope())
        {
            var h = Ops.Scale(x, 1f);
            var loss = Ops.Add(Ops.Sum(h, 0.5f), Ops.MeanSquaredError(Ops.Linear(h, w, null), target));
            loss.Backward();
        }
        using var a = Tensor.FromArray(data, [6, 5]);
        using var b = Tensor.FromArray(data, [6, 5]);
        a.RequiresGrad = b.RequiresGrad = true;
        using (new TensorScope())
            Ops.Add(Ops.Sum(a, 0.5f), Ops.MeanSquaredError(Ops.Linear(b, w, null), target)).Backward();
        var want = a.Grad!.ToFloatArray().Zip(b.Grad!.ToFloatArray(), (p, q) => p + q).ToArray();
        Assert.That(x.Grad!.ToFloatArray(), Is.EqualTo(want).Within(1e-6f));
    }

    [Test]
    public void AScaledUseAndAPassedThroughUseAddUp()
    {
        using var x = Leaf(1f, 2f);
        using var y = Leaf(3f, 4f);
        using (new TensorScope())
        {
            var s = Ops.Add(x, y, 1f, -2f);   // ∂/∂x = 1 (passed through), ∂/∂y = −2 (scaled)
            var t = Ops.Add(s, x);            // x again, through the pass-through path
            Ops.Sum(t).Backward();
        }
        Assert.That(x.Grad!.ToFloatArray(), Is.EqualTo(new[] { 2f, 2f }));
        Assert.That(y.Grad!.ToFloatArray(), Is.EqualTo(new[] { -2f, -2f }));
    }

    [Test]
    public void LayerNormOfXPlusXMatchesTheNormOfTwoX()
    {
        // LayerNorm(x + residual) with residual = x: both inputs get the same dS and the leaf sums them.
        var data = new[] { 0.3f, -1.2f, 2.0f, 0.7f, -0.4f, 1.1f };
        var gamma = Tensor.FromArray(new[] { 1.5f, -0.5f, 2f }, [3], Device.Cpu);
        var beta = Tensor.FromArray(new[] { 0.1f, 0.2f, 0.3f }, [3], Device.Cpu);
        var target = Tensor.FromArray(new[] { 1f, 2f, 3f, -1f, 0.5f, 4f }, [2, 3], Device.Cpu);
        using var x = Tensor.FromArray(data, [2, 3], Device.Cpu);
        x.RequiresGrad = true;
        using var twice = Tensor.FromArray(data.Select(v => 2 * v).ToArray(), [2, 3], Device.Cpu);
        twice.RequiresGrad = true;
        using (new TensorScope())
        {
            Ops.MeanSquaredError(Ops.LayerNorm(x, x, gamma, beta, 1e-12f), target).Backward();
            Ops.MeanSquaredError(Ops.LayerNorm(twice, null, gamma, beta, 1e-12f), target).Backward();
        }
        var got = x.Grad!.ToFloatArray();
        var want = twice.Grad!.ToFloatArray().Select(v => 2 * v).ToArray(); // ∂/∂x of f(2x) = 2 f′(2x)
        Assert.That(got, Is.EqualTo(want).Within(1e-5f));
    }
}
