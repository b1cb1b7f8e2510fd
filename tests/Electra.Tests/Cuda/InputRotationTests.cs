using Electra.Benchmarks.Cuda;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>The benchmark harness's input rotation, which keeps L2 from serving a timed run's inputs.</summary>
public class InputRotationTests
{
    private const long MiB = 1 << 20, L2 = 50 * MiB;

    [Test]
    public void EnoughCopiesThatTwiceTheL2StreamsBetweenReuses()
    {
        Assert.That(InputRotation.Copies(16 * MiB, L2), Is.EqualTo(7), "7 × 16 MiB = 112 MiB ≥ 100 MiB; 6 × 16 = 96 is not");
        Assert.That(InputRotation.Copies(48 * MiB, L2), Is.EqualTo(3));
        Assert.That(InputRotation.Copies(100 * MiB, L2), Is.EqualTo(1), "exactly twice L2 needs no second copy");
        Assert.That(InputRotation.Copies(100 * MiB - 1, L2), Is.EqualTo(2));
        Assert.That(InputRotation.Copies(297 * MiB, L2), Is.EqualTo(1));
    }

    [Test]
    public void CopiesAreCappedByTheBudgetAndTheMaximum()
    {
        Assert.That(InputRotation.Copies(MiB, L2, budgetBytes: 4 * MiB), Is.EqualTo(4));
        Assert.That(InputRotation.Copies(MiB, L2, budgetBytes: MiB / 2), Is.EqualTo(1), "one copy always exists");
        Assert.That(InputRotation.Copies(1, L2), Is.EqualTo(InputRotation.MaxCopies));
        Assert.That(InputRotation.Copies(MiB, l2Bytes: 0), Is.EqualTo(1), "an unknown L2 size rotates nothing");
        Assert.Throws<ArgumentOutOfRangeException>(() => InputRotation.Copies(0, L2));
    }

    [Test]
    public void RunsCycleThroughTheCopiesAndDisposeFreesThemAll()
    {
        var made = new List<Tensor>();
        var a = Tensor.FromArray([1f, 2f], [2]);
        var b = Tensor.FromArray([3], [1]);
        Tensor Clone(Tensor t)
        {
            var c = Tensor.Empty(t.Shape, t.DType);
            t.Backend.Copy(t, c);
            made.Add(c);
            return c;
        }

        var rotation = new Rotation([a, b], 3, Clone);
        Assert.That(rotation.Count, Is.EqualTo(3));
        Assert.That(rotation[0], Is.EqualTo(new[] { a, b }));
        Assert.That(rotation[3], Is.SameAs(rotation[0]));
        Assert.That(rotation[4], Is.SameAs(rotation[1]).And.Not.SameAs(rotation[0]));
        Assert.That(rotation[2][0].ToFloatArray(), Is.EqualTo(new[] { 1f, 2f }), "clones hold the originals' values");
        Assert.That(rotation[2][1].ToIntArray(), Is.EqualTo(new[] { 3 }));
        Assert.That(made, Has.Count.EqualTo(4));

        rotation.Dispose();
        Assert.That(made.Append(a).Append(b).Select(t => t.IsDisposed), Has.All.True);
    }

    [Test]
    public void AFailedCloneFreesWhatWasMade()
    {
        var a = Tensor.FromArray([1f], [1]);
        var made = new List<Tensor>();
        int calls = 0;
        Tensor Clone(Tensor t)
        {
            if (++calls == 3) throw new InvalidOperationException("out of memory");
            var c = Tensor.Empty(t.Shape, t.DType);
            made.Add(c);
            return c;
        }

        Assert.Throws<InvalidOperationException>(() => new Rotation([a], 5, Clone));
        Assert.That(made.Append(a).Select(t => t.IsDisposed), Has.All.True);
    }
}
