using Electra.Model;
using Electra.Optim;
using Electra.Train;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>
/// The training step captured into one CUDA graph and replayed (<c>bench train --cuda-graph on</c>) against the same
/// steps run eagerly: the replays must draw the same random numbers, read the same lr and update the same weights,
/// so losses and weights agree bit for bit.
/// </summary>
[Category("Gpu")]
public class CapturedTrainStepTests
{
    private const int Steps = 20, EagerStepsBeforeCapture = 2, B = 2, T = 32;

    // Tiny with one layer, a 2,048-token vocabulary and a shorter FFN: the simulator runs 2 × 20 steps in seconds,
    // and both attention instances of the real step stay (discriminator HS 64, generator HS 32).
    private static readonly ElectraConfig Config = ElectraConfig.Tiny with
    {
        VocabSize = 2048, NumHiddenLayers = 1, IntermediateSize = 256, MaxPositionEmbeddings = T,
    };

    private static Pretrainer Model(Device device) => new(Config, null, new PretrainOptions { Seed = 5 }, device, initSeed: 9);

    /// <summary>Warmup from step 0: lr changes every step, so a replay that kept the captured lr would show.</summary>
    private static float Lr(long step) => LrSchedule.Electra(2e-3f, step + 1, 40, 10_000);

    /// <summary>Every fourth step reads the loss back, as a logging step does; the others queue without waiting.</summary>
    private static bool IsLoggingStep(int step) => step % 4 == 3;

    /// <summary>A new full-length batch per step (another masking, the same masked count), ids inside the small vocabulary.</summary>
    private static TokenBatch Batch(int step)
    {
        var rng = new Random(100 + step);
        var ids = new int[B * T];
        for (int i = 0; i < ids.Length; i++) ids[i] = i % T == 0 ? 101 : i % T == T - 1 ? 102 : 200 + rng.Next(Config.VocabSize - 200);
        return new TokenBatch(ids, new int[B * T], Enumerable.Repeat(1, B * T).ToArray(), B, T);
    }

    /// <summary>An eager step; a logging step also gathers the metrics, whose loss must be the step's loss.</summary>
    private static float EagerStep(Pretrainer model, AdamW opt, int step, Precision precision)
    {
        using var scope = new TensorScope();
        using var amp = Autocast.For(precision);
        var (loss, metrics) = model.Forward(Batch(step), step, computeMetrics: IsLoggingStep(step));
        loss.Backward();
        GradClip.ClipGlobalNorm(opt.Params, 1f);
        opt.Step(Lr(step));
        model.ZeroGrad();
        float value = loss.Item();
        if (metrics is not null) Assert.That(metrics.Loss, Is.EqualTo(value), $"step {step}: the metrics' loss");
        return value;
    }

    /// <summary>
    /// Eager steps, or two eager steps and then replays; the losses of the logging steps (the only ones a graph run
    /// reads) and the final weights.
    /// </summary>
    private static (Dictionary<int, float> Losses, Dictionary<string, float[]> Weights) Run(Precision precision, bool graphed)
    {
        var dev = Gpu.Dev;
        var backend = (Electra.Cuda.CudaBackend)Backends.For(dev);
        using var model = Model(dev);
        using var opt = new AdamW(AdamW.DefaultGroups(model.NamedParameters()));
        var losses = new Dictionary<int, float>();
        int eagerSteps = graphed ? EagerStepsBeforeCapture : Steps;
        for (int step = 0; step < eagerSteps; step++)
        {
            float loss = EagerStep(model, opt, step, precision);
            if (IsLoggingStep(step) || step == 0) losses[step] = loss;
        }
        if (graphed)
        {
            using var graph = CapturedTrainStep.TryCapture(model, opt, backend, Batch(eagerSteps), eagerSteps, precision, Lr, out var reason);
            Assert.That(graph, Is.Not.Null, $"capture failed: {reason}");
            for (int step = eagerSteps; step < Steps; step++)
            {
                graph!.Run(Batch(step), step);
                if (IsLoggingStep(step)) losses[step] = graph.Loss();
            }
            Assert.That(opt.StepCount, Is.EqualTo(Steps), "each replay counts as an optimizer step");
        }
        var weights = model.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor.ToFloatArray());
        return (losses, weights);
    }

    [TestCase(Precision.Fp32)]
    [TestCase(Precision.Bf16)]
    public void ReplayedStepsMatchEagerStepsBitForBit(Precision precision)
    {
        Assert.That(Lr(Steps - 1), Is.GreaterThan(Lr(Steps - 2)).And.GreaterThan(Lr(EagerStepsBeforeCapture)), "lr rises every step");
        var (eager, eagerWeights) = Run(precision, graphed: false);
        var (graphed, graphWeights) = Run(precision, graphed: true);
        TestContext.Out.WriteLine($"{precision}: eager {string.Join(", ", eager)}; graph {string.Join(", ", graphed)}");
        Assert.That(graphed.Keys, Is.EquivalentTo(new[] { 0, 3, 7, 11, 15, 19 }), "the logging steps, replayed from step 3 on");
        foreach (var (step, loss) in graphed)
            Assert.That(BitConverter.SingleToInt32Bits(loss), Is.EqualTo(BitConverter.SingleToInt32Bits(eager[step])),
                $"step {step}: loss {loss} replayed, {eager[step]} eager");
        Assert.That(eager[19], Is.LessThan(eager[0]), "the steps train (the loss falls), so the replays did update the weights");
        foreach (var (name, w) in eagerWeights)
            Assert.That(graphWeights[name].Select(BitConverter.SingleToInt32Bits).ToArray(), Is.EqualTo(w.Select(BitConverter.SingleToInt32Bits).ToArray()), name);
    }

    [Test]
    public void ACapturedStepsDropoutDrawsAtTheStepStatesBasePlusItsOffset()
    {
        var b = Gpu.Backend;
        using var x = Gpu.Floats(TestData.RandomFloats(1000, 3), 1000);
        using var y = Gpu.Poisoned(1000);
        using var eager = Gpu.Poisoned(1000);
        using var graph = b.CaptureStep(1e-3f, () => b.Dropout(x, 0.5f, 7, 3, y));
        foreach (ulong stepBase in new[] { 0UL, 5UL << 20, 9UL << 20 })
        {
            b.SetStepState(stepBase, 1e-3f);
            graph.Replay();
            b.Dropout(x, 0.5f, 7, stepBase + 3, eager);
            Assert.That(y.ToFloatArray(), Is.EqualTo(eager.ToFloatArray()), $"base {stepBase}");
        }
        Assert.That(y.ToFloatArray().Count(v => v == 0f), Is.InRange(400, 600), "half the elements dropped");
    }

    [Test]
    public void ABatchWithAnotherMaskedCountIsRefusedByTheCapturedStep()
    {
        var dev = Gpu.Dev;
        var backend = (Electra.Cuda.CudaBackend)Backends.For(dev);
        var batch = Batch(1);
        using var model = Model(dev);
        using var opt = new AdamW(AdamW.DefaultGroups(model.NamedParameters()));
        EagerStep(model, opt, 0, Precision.Fp32);
        using var graph = CapturedTrainStep.TryCapture(model, opt, backend, batch, 1, Precision.Fp32, Lr, out var reason);
        Assert.That(graph, Is.Not.Null, $"capture failed: {reason}");
        var mask = batch.AttentionMask.ToArray();
        for (int i = 16; i < 32; i++) mask[i] = 0; // row 0 half padding: fewer real and masked tokens
        var shorter = batch with { AttentionMask = mask };
        var e = Assert.Throws<ArgumentException>(() => graph!.Run(shorter, 1));
        Assert.That(e!.Message, Does.Contain("captured step's shapes are fixed"));
    }
}
