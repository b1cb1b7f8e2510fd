using Electra.Autograd;

namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

public class TensorBasicsTests
{
    [Test]
    public void FromArrayRoundTripsAndReshapeSharesMemory()
    {
        using var t = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], [2, 3]);
        using var r = t.Reshape(3, -1);
        Assert.That(r.Shape, Is.EqualTo(new Shape(3, 2)));
        Assert.That(r.Pointer, Is.EqualTo(t.Pointer));
        Assert.That(r.ToFloatArray(), Is.EqualTo(new[] { 1f, 2f, 3f, 4f, 5f, 6f }));
        Assert.That(t.ToString(), Is.EqualTo("Tensor([2, 3], f32, cpu) [[1, 2, 3], [4, 5, 6]]"));
    }

    [Test]
    public void ReshapeToWrongCountNamesBothShapes()
    {
        using var t = Tensor.Zeros([2, 3]);
        var ex = Assert.Throws<ArgumentException>(() => t.Reshape(4, 2));
        Assert.That(ex!.Message, Does.Contain("[2, 3]").And.Contain("[4, 2]"));
    }

    [Test]
    public void ScopeDisposesWhatItCreatedExceptKept()
    {
        Tensor kept, dropped;
        using (new TensorScope())
        {
            dropped = Tensor.Zeros([4]);
            kept = TensorScope.Keep(Tensor.Ones([4]));
        }
        Assert.That(dropped.IsDisposed, Is.True);
        Assert.That(kept.IsDisposed, Is.False);
        Assert.That(kept.ToFloatArray(), Is.EqualTo(new[] { 1f, 1f, 1f, 1f }));
        kept.Dispose();
    }

    [Test]
    public void StorageLivesWhileAnyViewLives()
    {
        var t = Tensor.FromArray([1f, 2f, 3f, 4f]);
        var v = t.Reshape(2, 2);
        t.Dispose();
        Assert.That(v.ToFloatArray(), Is.EqualTo(new[] { 1f, 2f, 3f, 4f }));
        v.Dispose();
        Assert.That(v.Storage.IsReleased, Is.True);
    }

    [Test]
    public void BackwardOnNonScalarWithoutSeedIsAClearError()
    {
        using var w = Tensor.FromArray([1f, 2f]);
        w.RequiresGrad = true;
        using var y = Ops.Scale(w, 3f);
        var ex = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.That(ex!.Message, Does.Contain("not a scalar").And.Contain("seed"));
    }

    [Test]
    public void GradientsAccumulateAcrossUsesAndBackwardCalls()
    {
        using var w = Tensor.FromArray([1f, 2f, 3f]);
        w.RequiresGrad = true;
        using (new TensorScope())
        {
            // loss = Σ (2w + 3w) → ∂/∂w = 5 per element
            var loss = Ops.Sum(Ops.Add(Ops.Scale(w, 2f), Ops.Scale(w, 3f)));
            loss.Backward();
        }
        Assert.That(w.Grad!.ToFloatArray(), Is.EqualTo(new[] { 5f, 5f, 5f }));
        using (new TensorScope())
        {
            Ops.Sum(w, 0.5f).Backward();
        }
        Assert.That(w.Grad!.ToFloatArray(), Is.EqualTo(new[] { 5.5f, 5.5f, 5.5f }));
    }

    [Test]
    public void NoGradRecordsNothing()
    {
        using var w = Tensor.FromArray([1f, 2f]);
        w.RequiresGrad = true;
        using (GradMode.NoGrad())
        {
            using var y = Ops.Scale(w, 2f);
            Assert.That(y.RequiresGrad, Is.False);
            Assert.That(y.GradFn, Is.Null);
        }
    }

    [Test]
    public void SecondBackwardThroughFreedGraphIsAClearError()
    {
        using var w = Tensor.FromArray([1f, 2f]);
        w.RequiresGrad = true;
        using var scope = new TensorScope();
        var y = Ops.Scale(w, 2f);
        var loss = Ops.Sum(y);
        loss.Backward();
        var loss2 = Ops.Sum(y);
        var ex = Assert.Throws<InvalidOperationException>(() => loss2.Backward());
        Assert.That(ex!.Message, Does.Contain("backward already ran"));
    }

    [Test]
    public void PartsOfOneBufferSeeTheirElementsAndOutliveIt()
    {
        var buffer = Tensor.FromArray(Enumerable.Range(0, 12).ToArray(), [12]);
        using var ints = buffer.Part(2, new Shape(2, 3), DType.I32);
        using var floats = buffer.Part(8, new Shape(2), DType.F32);
        Assert.That(ints.ToIntArray(), Is.EqualTo(new[] { 2, 3, 4, 5, 6, 7 }));
        Assert.That(ints.Reshape(3, 2).ToIntArray(), Is.EqualTo(new[] { 2, 3, 4, 5, 6, 7 }), "a reshape keeps the part's offset");
        Assert.That(floats.ToFloatArray(), Is.EqualTo(new[] { BitConverter.Int32BitsToSingle(8), BitConverter.Int32BitsToSingle(9) }));
        buffer.CopyFrom<int>(Enumerable.Range(100, 12).ToArray());
        Assert.That(ints.ToIntArray()[0], Is.EqualTo(102), "one copy into the buffer is seen by its parts");
        buffer.Dispose();
        Assert.That(ints.ToIntArray()[5], Is.EqualTo(107), "the memory lives while a part does");
    }

    [Test]
    public void APartOutsideItsBufferOrOfAnotherElementSizeIsRefused()
    {
        using var buffer = Tensor.FromArray(new int[8], [8]);
        Assert.That(() => buffer.Part(6, new Shape(3), DType.I32), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("[6, 9)"));
        Assert.That(() => buffer.Part(0, new Shape(2), DType.BF16), Throws.ArgumentException.With.Message.Contains("bf16"));
    }
}
