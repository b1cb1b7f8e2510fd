using Electra.Optim;

namespace Electra.Tests.Tensor;

public class ScheduleTests
{
    // ELECTRA-Small: peak 5e-4, warmup 10k, 1M steps. lr(t) = peak·min(1, t/warmup)·(1 − t/total).
    [TestCase(0L, 0.0)]
    [TestCase(5_000L, 5e-4 * 0.5 * (1 - 0.005))]
    [TestCase(10_000L, 5e-4 * (1 - 0.01))]
    [TestCase(500_000L, 5e-4 * 0.5)]
    [TestCase(1_000_000L, 0.0)]
    [TestCase(1_200_000L, 0.0)] // past the end it stays at zero rather than turning negative
    public void ElectraScheduleAtKeyPoints(long step, double expected)
    {
        Assert.That(LrSchedule.Electra(5e-4f, step, 10_000, 1_000_000), Is.EqualTo(expected).Within(1e-10));
    }

    [Test]
    public void WithoutWarmupOnlyTheDecayApplies()
    {
        Assert.That(LrSchedule.Electra(1f, 0, 0, 100), Is.EqualTo(1f));
        Assert.That(LrSchedule.Electra(1f, 25, 0, 100), Is.EqualTo(0.75f));
    }

    [Test]
    public void NonPositiveTotalIsRejected()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => LrSchedule.Electra(1f, 0, 10, 0));
        Assert.That(ex!.ParamName, Is.EqualTo("total"));
    }
}
