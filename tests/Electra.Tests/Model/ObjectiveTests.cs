using Electra.Model;

namespace Electra.Tests.Model;

using Tensor = Electra.Tensor;

public class ObjectiveTests
{
    [Test]
    public void ReplacedMeansMaskedAndSampleDiffers()
    {
        using var scope = new TensorScope();
        var original = Tensor.FromArray([101, 7, 8, 9, 10, 102]);
        var positions = Tensor.FromArray([1, 3, 4]);
        var samples = Tensor.FromArray([7, 50, 60]);   // the first sample equals its original token
        var (corrupted, labels) = Pretrainer.Corrupt(original, positions, samples);
        Assert.That(corrupted.ToIntArray(), Is.EqualTo(new[] { 101, 7, 8, 50, 60, 102 }));
        Assert.That(labels.ToFloatArray(), Is.EqualTo(new[] { 0f, 0f, 0f, 1f, 1f, 0f }));
    }

    [Test]
    public void LossIsMlmPlusFiftyTimesDiscriminatorBce()
    {
        var config = PretrainerLearningTests.MicroConfig;
        using var model = new Pretrainer(config, config with { HiddenSize = 16, NumAttentionHeads = 1, IntermediateSize = 32 },
            new PretrainOptions { Seed = 3, Special = PretrainerLearningTests.Special }, Device.Cpu, initSeed: 1);
        var batch = PretrainerLearningTests.SyntheticBatch(new Random(2), 6, 20);
        using var scope = new TensorScope();
        var (loss, m) = model.Forward(batch, step: 4, computeMetrics: true);
        Assert.That(m!.Loss, Is.EqualTo(m.MlmLoss + 50f * m.DiscLoss).Within(1e-4f * m.Loss));
        Assert.That(loss.Item(), Is.EqualTo(m.Loss));
        // At initialisation the generator is near uniform over 65 tokens and the discriminator near 0.5.
        Assert.That(m.MlmLoss, Is.EqualTo(MathF.Log(65)).Within(0.3f));
        Assert.That(m.DiscLoss, Is.EqualTo(MathF.Log(2)).Within(0.1f));
        Assert.That(m.RealTokens, Is.EqualTo(batch.AttentionMask.Sum()));
        Assert.That(m.ReplacedFrac, Is.InRange(0f, 1f));
    }

    [Test]
    public void SameStepDrawsTheSameMasksSamplesAndDropout()
    {
        var config = PretrainerLearningTests.MicroConfig;
        using var model = new Pretrainer(config, null, new PretrainOptions { Seed = 3, Special = PretrainerLearningTests.Special }, Device.Cpu, initSeed: 1);
        var batch = PretrainerLearningTests.SyntheticBatch(new Random(2), 4, 20);
        float Loss(long step)
        {
            using var scope = new TensorScope();
            using var noGrad = Electra.Autograd.GradMode.NoGrad();
            return model.Forward(batch, step, false).Loss.Item();
        }
        Assert.That(Loss(5), Is.EqualTo(Loss(5)));
        Assert.That(Loss(6), Is.Not.EqualTo(Loss(5)));
    }

    [Test]
    public void MaskingAheadOfTheStepIsTheMaskingOfTheStep()
    {
        // Mask(batch, step) runs on a worker thread in the pretraining loop: it must be the masking Upload does for
        // that step and leave the model's random stream (dropout's offsets) where it was.
        var config = PretrainerLearningTests.MicroConfig;
        using var model = new Pretrainer(config, null, new PretrainOptions { Seed = 3, Special = PretrainerLearningTests.Special }, Device.Cpu, initSeed: 1);
        var batch = PretrainerLearningTests.SyntheticBatch(new Random(4), 4, 20);
        model.Rng.Seek(12345);
        var ahead = model.Mask(batch, 7);
        Assert.That(model.Rng.Offset, Is.EqualTo(12345UL), "masking ahead draws nothing from the model's stream");
        var plan = Masking.Choose(batch.Ids, batch.AttentionMask, 4, 20, PretrainerLearningTests.Special, Masking.DefaultMaxPredictions(20),
            3, 7 * RandomStream.OffsetsPerStep, vocabSize: config.VocabSize);
        Assert.That(ahead.Plan.Positions, Is.EqualTo(plan.Positions));
        Assert.That(ahead.Plan.InputIds, Is.EqualTo(plan.InputIds));
        Assert.That(model.Mask(batch, 8).Plan.Positions, Is.Not.EqualTo(plan.Positions), "another step, another draw");

        using var scope = new TensorScope();
        using var noGrad = Electra.Autograd.GradMode.NoGrad();
        var fromAhead = model.Forward(model.Upload(ahead), 7, false).Loss.Item();
        Assert.That(fromAhead, Is.EqualTo(model.Forward(batch, 7, false).Loss.Item()), "the step's loss either way");
    }

    [Test]
    public void MlmObjectiveTrainsADiscriminatorSizedMaskedLm()
    {
        var config = PretrainerLearningTests.MicroConfig;
        using var model = new Pretrainer(config, null, new PretrainOptions { Objective = Objective.Mlm, Seed = 3, Special = PretrainerLearningTests.Special }, Device.Cpu);
        Assert.That(model.Discriminator, Is.Null);
        Assert.That(model.Generator.Config.HiddenSize, Is.EqualTo(config.HiddenSize));
        using var scope = new TensorScope();
        var (loss, m) = model.Forward(PretrainerLearningTests.SyntheticBatch(new Random(1), 4, 20), 0, true);
        Assert.That(m!.Loss, Is.EqualTo(m.MlmLoss));
        Assert.That(loss.Item(), Is.EqualTo(MathF.Log(65)).Within(0.3f));
    }
}
