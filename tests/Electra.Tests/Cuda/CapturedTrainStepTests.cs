using Electra.Model;
using Electra.Optim;
using Electra.Train.Benchmarking;

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
    private const int Steps = 6;

    private static Pretrainer Model(Device device) =>
        new(ElectraConfig.Preset("tiny"), null, new PretrainOptions { Seed = 5 }, device, initSeed: 9);

    private static float EagerStep(Pretrainer model, AdamW opt, TokenBatch batch, int step, Precision precision)
    {
        using var scope = new TensorScope();
        using var amp = Autocast.For(precision);
        var (loss, _) = model.Forward(batch, step, computeMetrics: false);
        loss.Backward();
        GradClip.ClipGlobalNorm(opt.Params, 1f);
        opt.Step(TrainBenchmark.Lr(step));
        model.ZeroGrad();
        return loss.Item();
    }

    private static (List<float> Losses, Dictionary<string, float[]> Weights) Run(Precision precision, int eagerSteps)
    {
        var dev = Gpu.Dev;
        var backend = (Electra.Cuda.CudaBackend)Backends.For(dev);
        var batch = TrainBenchmark.SyntheticBatch(2, 32);
        using var model = Model(dev);
        using var opt = new AdamW(AdamW.DefaultGroups(model.NamedParameters()));
        var losses = new List<float>();
        for (int step = 0; step < eagerSteps; step++) losses.Add(EagerStep(model, opt, batch, step, precision));
        if (eagerSteps < Steps)
        {
            using var graph = CapturedTrainStep.TryCapture(model, opt, backend, batch, eagerSteps, precision, TrainBenchmark.Lr, out var reason);
            Assert.That(graph, Is.Not.Null, $"capture failed: {reason}");
            for (int step = eagerSteps; step < Steps; step++)
            {
                graph!.Run(batch, step);
                losses.Add(graph.Loss());
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
        var (eager, eagerWeights) = Run(precision, eagerSteps: Steps);
        var (graphed, graphWeights) = Run(precision, eagerSteps: 2);
        TestContext.Out.WriteLine($"{precision}: eager {string.Join(", ", eager)}; graph {string.Join(", ", graphed)}");
        Assert.That(graphed.Select(BitConverter.SingleToInt32Bits).ToArray(), Is.EqualTo(eager.Select(BitConverter.SingleToInt32Bits).ToArray()),
            "per-step losses, eager against replayed");
        Assert.That(eager[^1], Is.LessThan(eager[0]), "the steps train (the loss falls), so the replays did update the weights");
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
        var batch = TrainBenchmark.SyntheticBatch(2, 32);
        using var model = Model(dev);
        using var opt = new AdamW(AdamW.DefaultGroups(model.NamedParameters()));
        EagerStep(model, opt, batch, 0, Precision.Fp32);
        using var graph = CapturedTrainStep.TryCapture(model, opt, backend, batch, 1, Precision.Fp32, TrainBenchmark.Lr, out var reason);
        Assert.That(graph, Is.Not.Null, $"capture failed: {reason}");
        var mask = batch.AttentionMask.ToArray();
        for (int i = 16; i < 32; i++) mask[i] = 0; // row 0 half padding: fewer real and masked tokens
        var shorter = batch with { AttentionMask = mask };
        var e = Assert.Throws<ArgumentException>(() => graph!.Run(shorter, 1));
        Assert.That(e!.Message, Does.Contain("captured step's shapes are fixed"));
    }
}
