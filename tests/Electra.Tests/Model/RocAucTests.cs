using Electra.Model;

namespace Electra.Tests.Model;

public class RocAucTests
{
    private static readonly bool[] All4 = [true, true, true, true];

    [Test]
    public void CountsOrderedPairs()
    {
        // Positives 0.35, 0.8 against negatives 0.1, 0.4: three of the four pairs are ordered correctly.
        Assert.That(RocAuc.Compute([0.1f, 0.4f, 0.35f, 0.8f], [false, false, true, true], All4), Is.EqualTo(0.75f).Within(1e-6f));
        Assert.That(RocAuc.Compute([0.1f, 0.2f, 0.3f, 0.4f], [false, false, true, true], All4), Is.EqualTo(1f));
        Assert.That(RocAuc.Compute([0.1f, 0.2f, 0.3f, 0.4f], [true, true, false, false], All4), Is.EqualTo(0f));
    }

    [Test]
    public void TiedScoresCountHalf()
    {
        // Pairs: (1 vs 1) ties → ½, (2 vs 1) → 1: (½ + 1) / 2.
        Assert.That(RocAuc.Compute([1f, 1f, 2f], [true, false, true], [true, true, true]), Is.EqualTo(0.75f).Within(1e-6f));
        Assert.That(RocAuc.Compute([3f, 3f, 3f, 3f], [true, false, true, false], All4), Is.EqualTo(0.5f), "a constant score is chance");
    }

    [Test]
    public void ExcludedItemsDoNotCount()
    {
        // Without the third item (a mis-ranked positive) every pair is ordered.
        Assert.That(RocAuc.Compute([0.1f, 0.9f, -5f, 0.8f], [false, true, true, true], [true, true, false, true]), Is.EqualTo(1f));
    }

    [Test]
    public void UndefinedWithoutBothClassesOrWithANaN()
    {
        Assert.That(RocAuc.Compute([0.1f, 0.2f], [true, true], [true, true]), Is.NaN);
        Assert.That(RocAuc.Compute([0.1f, 0.2f], [true, false], [false, true]), Is.NaN);
        Assert.That(RocAuc.Compute([0.1f, float.NaN], [true, false], [true, true]), Is.NaN);
        Assert.Throws<ArgumentException>(() => RocAuc.Compute([0.1f], [true, false], [true]));
    }
}
