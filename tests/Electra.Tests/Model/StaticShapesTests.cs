using Electra.Model;

namespace Electra.Tests.Model;

using Tensor = Electra.Tensor;

/// <summary>
/// <see cref="Pretrainer.StaticShapes"/>: every step's masked selection padded to B·maxPredictions rows and the loss
/// denominators on the device, so one captured graph serves every step. Against the unpadded step on the CPU: the
/// same masks, samples and labels, the same losses and gradients to the rounding of their sums.
/// </summary>
public class StaticShapesTests
{
    private static Pretrainer Model(bool fixedShapes, Objective objective = Objective.Rtd)
    {
        var config = PretrainerLearningTests.MicroConfig;
        var gen = objective == Objective.Rtd ? config with { HiddenSize = 16, NumAttentionHeads = 1, IntermediateSize = 32 } : null;
        return new Pretrainer(config, gen, new PretrainOptions { Objective = objective, Seed = 5, Special = PretrainerLearningTests.Special }, Device.Cpu, initSeed: 2)
        {
            StaticShapes = fixedShapes,
        };
    }

    [Test]
    public void PaddingRowsPointAtAnUnmaskedPositionAndTargetItsOwnToken()
    {
        using var model = Model(true);
        var batch = PretrainerLearningTests.SyntheticBatch(new Random(8), 6, 24); // rows of 12–24 tokens: fewer than k masked
        var masked = model.Mask(batch, 3);
        int k = Masking.DefaultMaxPredictions(24), m = masked.Plan.Positions.Length;
        Assert.That(masked.Positions, Has.Length.EqualTo(6 * k));
        Assert.That(m, Is.LessThan(6 * k), "the batch must need padding for this test");
        Assert.That(masked.Positions[..m], Is.EqualTo(masked.Plan.Positions), "real rows keep their order and index");
        int pad = masked.Positions[m];
        Assert.That(masked.Plan.Positions, Does.Not.Contain(pad), "a padding row selects a position no row masked");
        Assert.That(masked.Positions[m..], Is.All.EqualTo(pad));
        Assert.That(masked.Targets[m..], Is.All.EqualTo(batch.Ids[pad]));
    }

    [TestCase(Objective.Rtd)]
    [TestCase(Objective.Mlm)]
    public void AStepWithFixedShapesIsTheUnpaddedStep(Objective objective)
    {
        var batch = PretrainerLearningTests.SyntheticBatch(new Random(9), 6, 24);
        (float Loss, PretrainMetrics Metrics, Dictionary<string, float[]> Grads) Step(bool fixedShapes)
        {
            using var model = Model(fixedShapes, objective);
            using var scope = new TensorScope();
            var inputs = model.Upload(model.Mask(batch, 4));
            Assert.That(inputs.FixedShapes, Is.EqualTo(fixedShapes));
            var (loss, metrics) = model.Forward(inputs, 4, computeMetrics: true);
            loss.Backward();
            var grads = model.NamedParameters().Where(p => p.Tensor.Grad is not null).ToDictionary(p => p.Name, p => p.Tensor.Grad!.ToFloatArray());
            return (loss.Item(), metrics!, grads);
        }
        var plain = Step(false);
        var padded = Step(true);
        Assert.That(padded.Metrics.MaskedTokens, Is.EqualTo(plain.Metrics.MaskedTokens), "metrics count the real masked rows");
        Assert.That(padded.Metrics.GenAcc, Is.EqualTo(plain.Metrics.GenAcc));
        // The same samples and labels: the discriminator's accuracies and the replaced share are counts of them.
        Assert.That(padded.Metrics.ReplacedFrac, Is.EqualTo(plain.Metrics.ReplacedFrac));
        Assert.That(padded.Metrics.DiscAcc, Is.EqualTo(plain.Metrics.DiscAcc));
        Assert.That(padded.Loss, Is.EqualTo(plain.Loss).Within(2e-6 * Math.Abs(plain.Loss)));
        Assert.That(padded.Metrics.MlmLoss, Is.EqualTo(plain.Metrics.MlmLoss).Within(2e-6 * Math.Abs(plain.Metrics.MlmLoss)));
        Assert.That(padded.Grads.Keys, Is.EquivalentTo(plain.Grads.Keys));
        foreach (var (name, g) in plain.Grads)
        {
            var h = padded.Grads[name];
            double scale = Math.Sqrt(g.Sum(x => (double)x * x) / g.Length) + 1e-12;
            for (int i = 0; i < g.Length; i++)
                Assert.That(h[i], Is.EqualTo(g[i]).Within(1e-5 * scale + 1e-5 * Math.Abs(g[i])), $"{name}[{i}]");
        }
    }

    [Test]
    public void FixedShapeInputsTakeAnyBatchOfTheirSize()
    {
        using var model = Model(true);
        using var scope = new TensorScope();
        var inputs = model.Upload(model.Mask(PretrainerLearningTests.SyntheticBatch(new Random(1), 6, 24), 0));
        var other = PretrainerLearningTests.SyntheticBatch(new Random(2), 6, 24);
        Assert.That(other.RealTokens, Is.Not.EqualTo(inputs.RealTokens));
        model.Upload(model.Mask(other, 1), inputs);
        Assert.That(inputs.RealTokens, Is.EqualTo(other.RealTokens));
        Assert.That(inputs.InverseRealTokens!.ToFloatArray(), Is.EqualTo(new[] { 1f / other.RealTokens }));
        Assert.That(inputs.RealRows!.Value.Count.ToIntArray(), Is.EqualTo(new[] { inputs.MaskedRows }));

        using var plainModel = Model(false);
        var plain = plainModel.Upload(plainModel.Mask(other, 1));
        // The same batch with one token fewer: another count of real tokens, which unpadded inputs hold as a shape.
        var mask = (int[])other.AttentionMask.Clone();
        mask[Array.LastIndexOf(mask, 1)] = 0;
        var shorter = other with { AttentionMask = mask };
        var ex = Assert.Throws<ArgumentException>(() => plainModel.Upload(plainModel.Mask(shorter, 1), plain));
        Assert.That(ex!.Message, Does.Contain("shapes are fixed").And.Contain("StaticShapes"));
    }
}
