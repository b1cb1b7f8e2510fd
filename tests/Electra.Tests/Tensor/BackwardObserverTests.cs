using Electra.Autograd;

namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

public class BackwardObserverTests
{
    [Test]
    public void SeesEveryNodeInBackwardOrderWhileTheScopeIsOpen()
    {
        using var scope = new TensorScope();
        var x = Tensor.FromArray([1f, 2f, 3f], [3]);
        x.RequiresGrad = true;
        Tensor Loss() => Ops.Sum(Ops.Scale(Ops.Add(x, x, 1f, 1f), 2f));

        var seen = new List<string>();
        using (BackwardObserver.Observe(seen.Add))
            Loss().Backward();
        Assert.That(seen, Is.EqualTo(new[] { "Sum", "Scale", "Add" }), "the loss's node first, the input's last");
        Assert.That(x.Grad!.ToFloatArray(), Is.EqualTo(new[] { 4f, 4f, 4f }), "observing changes nothing");

        Loss().Backward();
        Assert.That(seen, Has.Count.EqualTo(3), "a closed scope observes nothing");
    }

    [Test]
    public void ScopesNestAndRestoreTheOuterObserver()
    {
        using var scope = new TensorScope();
        var x = Tensor.FromArray([1f], [1]);
        x.RequiresGrad = true;
        var outer = new List<string>();
        var inner = new List<string>();
        using (BackwardObserver.Observe(outer.Add))
        {
            using (BackwardObserver.Observe(inner.Add)) Ops.Sum(x).Backward();
            Ops.Sum(Ops.Scale(x, 3f)).Backward();
        }
        Assert.That(inner, Is.EqualTo(new[] { "Sum" }));
        Assert.That(outer, Is.EqualTo(new[] { "Sum", "Scale" }));
    }
}
