using Electra.Model;
using Electra.Train.Benchmarking;

namespace Electra.Tests.Train;

/// <summary><c>electra bench train</c>'s engine: headline numbers, the per-phase breakdown and the Pretrainer's phase hook.</summary>
public class TrainBenchmarkTests
{
    // Bench batches hold word ids up to 21,000, so the vocabulary stays BERT's; everything else is small.
    private static ElectraConfig Micro => new()
    {
        EmbeddingSize = 16, HiddenSize = 32, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 64, MaxPositionEmbeddings = 64,
    };

    private static readonly string[] Phases =
    [
        PretrainPhases.MaskingUpload, PretrainPhases.GeneratorForward, PretrainPhases.GeneratorHead, PretrainPhases.DiscriminatorForward,
        PretrainPhases.Loss, TrainBenchmark.Backward, TrainBenchmark.Clipping, TrainBenchmark.Optimizer, TrainBenchmark.ZeroGradAndFree,
    ];

    [Test]
    public void PhaseHookSeesEveryForwardPhaseInOrderAndLeavesTheLossUnchanged()
    {
        var batch = TrainBenchmark.SyntheticBatch(2, 16);
        float Loss(Action<string>? hook)
        {
            using var model = new Pretrainer(Micro, null, new PretrainOptions(), Device.Cpu, initSeed: 5) { PhaseEnded = hook };
            using var scope = new TensorScope();
            return model.Forward(batch, step: 3, computeMetrics: false).Loss.Item();
        }
        var seen = new List<string>();
        float hooked = Loss(seen.Add);
        Assert.That(seen, Is.EqualTo(Phases[..5]));
        Assert.That(hooked, Is.EqualTo(Loss(null)));
    }

    [Test]
    public void BreakdownTimesEveryPhaseAndNamesTheFiveCostliest()
    {
        var r = TrainBenchmark.Run(Micro, 2, 16, 2, Device.Cpu, breakdown: true);
        var phases = r["phases"]!.AsObject().Select(kv => (kv.Key, Ms: kv.Value!.GetValue<double>())).ToList();
        Assert.That(phases.Select(p => p.Key), Is.EqualTo(Phases));
        Assert.That(phases.Select(p => p.Ms), Has.All.GreaterThanOrEqualTo(0.0));
        var expectedTop = phases.OrderByDescending(p => p.Ms).Take(5).Select(p => p.Key).ToArray();
        Assert.That(r["phase_top5"]!.AsArray().Select(n => n!.GetValue<string>()), Is.EqualTo(expectedTop));
        Assert.That(r["breakdown_steps"]!.GetValue<int>(), Is.EqualTo(2));
        // The backward phase again, by the op each node recorded: the model's ops, costliest first.
        var ops = r["backward_ops"]!.AsObject().Select(kv => (kv.Key, Ms: kv.Value!.GetValue<double>())).ToList();
        Assert.That(ops.Select(o => o.Key), Is.SupersetOf(new[] { "Linear", "LinearGelu", "Attention", "LayerNorm", "EmbeddingSum", "SoftmaxCrossEntropy", "BceWithLogits" }));
        Assert.That(ops.Select(o => o.Ms), Is.Ordered.Descending);
        Assert.That(ops.Select(o => o.Ms), Has.All.GreaterThanOrEqualTo(0.0));
        Assert.That(r.ContainsKey("peak_memory_bytes"), Is.False, "the CPU backend has no allocator statistics");
    }

    [Test]
    public void CudaGraphIsIgnoredOnTheCpu()
    {
        var on = TrainBenchmark.Run(Micro, 2, 16, 1, Device.Cpu, breakdown: false, cudaGraph: true);
        var off = TrainBenchmark.Run(Micro, 2, 16, 1, Device.Cpu, breakdown: false, cudaGraph: false);
        Assert.That(on["cuda_graph"]!.GetValue<string>(), Is.EqualTo("n/a"));
        Assert.That(on.ContainsKey("capture_ms"), Is.False);
        Assert.That(on["loss_last"]!.GetValue<float>(), Is.EqualTo(off["loss_last"]!.GetValue<float>()), "the same eager steps");
    }

    [Test]
    public void HeadlineNumbersAreConsistentAndTheInitialLossIsRtdAtChance()
    {
        var r = TrainBenchmark.Run(Micro, 2, 16, 3, Device.Cpu, breakdown: false);
        double median = r["step_ms_median"]!.GetValue<double>();
        Assert.That(median, Is.GreaterThan(0));
        Assert.That(r["step_ms_min"]!.GetValue<double>(), Is.LessThanOrEqualTo(median));
        // Both numbers are rounded (the median to 0.001 ms, throughput to 0.1 tokens/s), so recomputing throughput
        // from the rounded median can be off by up to throughput × 0.0005 / median, plus the 0.05 of its own rounding.
        double throughput = 2 * 16 / (median / 1000);
        Assert.That(r["tokens_per_s"]!.GetValue<double>(), Is.EqualTo(throughput).Within(throughput * 0.0005 / median + 0.051));
        Assert.That(r.ContainsKey("phases"), Is.False);
        Assert.That(r["matmul_precision"]!.GetValue<string>(), Is.EqualTo("fp32"));
        // At initialisation: uniform generator over the vocabulary, discriminator at 0.5.
        float expected = MathF.Log(30522) + 50 * MathF.Log(2);
        Assert.That(r["loss_first"]!.GetValue<float>(), Is.EqualTo(expected).Within(1f));
        Assert.That(float.IsFinite(r["loss_last"]!.GetValue<float>()), Is.True);
    }

    [Test]
    public void APhaseEndingSeveralTimesInAStepCountsOnceWithItsSum()
    {
        var timer = new PhaseTimer(Backends.Cpu);
        for (int step = 0; step < 3; step++)
        {
            timer.Start();
            timer.End("a");
            Thread.Sleep(15);
            timer.End("b");
            Thread.Sleep(15);
            timer.End("b");
        }
        var medians = timer.Medians();
        Assert.That(medians.Select(m => m.Phase), Is.EqualTo(new[] { "a", "b" }));
        Assert.That(medians[1].MedianMs, Is.GreaterThanOrEqualTo(30.0), "two sleeps of 15 ms each step");
    }

    [Test]
    public void MedianOfOddAndEvenCounts()
    {
        Assert.That(PhaseTimer.Median([5, 1, 3]), Is.EqualTo(3));
        Assert.That(PhaseTimer.Median([4, 1, 3, 2]), Is.EqualTo(2.5));
        Assert.Throws<ArgumentException>(() => PhaseTimer.Median([]));
    }
}
