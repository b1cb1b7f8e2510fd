using Electra.Model;
using Electra.Nn;
using Electra.Train.Experiments;

namespace Electra.Tests.Train;

/// <summary>The training-FLOP count that sets the MLM baseline's length: a hand count, and the built models' shapes.</summary>
public class TrainingFlopsTests
{
    // Discriminator V=10, E=4, H=8, one layer, 2 heads, FFN 16; generator H=4 (E = H: no projection), 1 head, FFN 8.
    private static ElectraConfig Disc => new()
    {
        VocabSize = 10, EmbeddingSize = 4, HiddenSize = 8, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 16, MaxPositionEmbeddings = 8,
    };

    private static ElectraConfig Gen => Disc with { HiddenSize = 4, NumAttentionHeads = 1, IntermediateSize = 8 };

    [Test]
    public void OneSequenceOfFourTokensCountedByHand()
    {
        // B=1, T=4: 4 tokens; masked rows = round(0.15·4) = 1.
        // Discriminator encoder: projection 2·4·8·4 = 256; QKV 2·4·24·8 = 1,536; QKᵀ + PV 2·(2·4·4·8) = 512;
        // attention output 2·4·8·8 = 512; FFN 2·4·16·8 + 2·4·8·16 = 2,048 → 4,864. Head: 2·4·8·8 + 2·4·1·8 = 576.
        // Generator encoder: QKV 2·4·12·4 = 384; QKᵀ + PV 2·(2·4·4·4) = 256; output 2·4·4·4 = 128; FFN 2·2·4·8·4 = 512
        // → 1,280. Masked-LM head on 1 row: 2·1·4·4 + 2·1·10·4 = 112.
        Assert.That(TrainingFlops.EncoderForward(Disc, 1, 4), Is.EqualTo(4864));
        Assert.That(TrainingFlops.EncoderForward(Gen, 1, 4), Is.EqualTo(1280));
        Assert.That(TrainingFlops.MaskedRows(1, 4), Is.EqualTo(1));

        var rtd = TrainingFlops.PretrainStep(Objective.Rtd, Disc, Gen, 1, 4);
        Assert.That(rtd.GeneratorForward, Is.EqualTo(1280 + 112));
        Assert.That(rtd.DiscriminatorForward, Is.EqualTo(4864 + 576));
        Assert.That(rtd.Training, Is.EqualTo(3 * (1392 + 5440)));           // 20,496

        // MLM: the discriminator-sized encoder with a masked-LM head (2·1·8·4 + 2·1·10·4 = 144), no discriminator.
        var mlm = TrainingFlops.PretrainStep(Objective.Mlm, Disc, Gen, 1, 4);
        Assert.That((mlm.GeneratorForward, mlm.DiscriminatorForward), Is.EqualTo((4864.0 + 144, 0.0)));
        Assert.That(mlm.Training, Is.EqualTo(15024));
    }

    [Test]
    public void AttentionGrowsWithTheSquareOfTheLengthAndTheRestLinearly()
    {
        // Doubling T doubles the per-token products and quadruples QKᵀ + PV (4·B·T²·H per layer).
        double at4 = TrainingFlops.EncoderForward(Disc, 1, 4), at8 = TrainingFlops.EncoderForward(Disc, 1, 8);
        double attention4 = 4 * 16 * 8, attention8 = 4 * 64 * 8;
        Assert.That(at8 - attention8, Is.EqualTo(2 * (at4 - attention4)));
        Assert.That(TrainingFlops.EncoderForward(Disc, 3, 4), Is.EqualTo(3 * at4), "batch is linear");
    }

    [TestCase(2, 16)]
    [TestCase(3, 20)]
    public void ProductsAreTwiceTheWeightsOfTheBuiltNetworksPerRowTheyTouch(int b, int t)
    {
        // Every Linear weight of the built modules is used once per token (encoders, discriminator head) or once per
        // masked row (generator head, and the tied [V, E] word embeddings as its output layer); attention's two
        // products have no weights and are added as 4·B·T²·H per layer.
        var disc = new ElectraConfig
        {
            VocabSize = 50, EmbeddingSize = 12, HiddenSize = 24, NumHiddenLayers = 2, NumAttentionHeads = 3, IntermediateSize = 40, MaxPositionEmbeddings = 32,
        };
        var gen = disc.Generator();                                 // H=6: E≠H in both networks
        using var embeddings = new ElectraEmbeddings(disc, new Random(1), Device.Cpu);
        using var d = new Discriminator(disc, embeddings, new Random(2), Device.Cpu);
        using var g = new Generator(gen, embeddings, new Random(3), Device.Cpu);
        static long Weights(Module m, Func<string, bool> which) =>
            m.NamedParameters().Where(p => p.Tensor.Shape.Rank == 2 && !p.Name.Contains(".embeddings.") && which(p.Name)).Sum(p => p.Tensor.Count);

        double tokens = b * t, rows = TrainingFlops.MaskedRows(b, t);
        double Attention(ElectraConfig c) => c.NumHiddenLayers * 4.0 * b * t * t * c.HiddenSize;
        double discForward = 2 * tokens * Weights(d, _ => true) + Attention(disc);
        double genForward = 2 * tokens * Weights(g, n => n.StartsWith("electra.")) + Attention(gen)
            + 2 * rows * (Weights(g, n => n.StartsWith("generator_predictions.")) + (long)disc.VocabSize * disc.EmbeddingSize);

        var step = TrainingFlops.PretrainStep(Objective.Rtd, disc, gen, b, t);
        Assert.That(step.DiscriminatorForward, Is.EqualTo(discForward));
        Assert.That(step.GeneratorForward, Is.EqualTo(genForward));
    }

    [TestCase(950, "950 FLOP")]
    [TestCase(2.0071882752e10, "20.1 GFLOP")]
    [TestCase(3.011e13, "30.1 TFLOP")]
    [TestCase(1.5e15, "1.50 PFLOP")]
    [TestCase(401e9, "401 GFLOP")]
    public void CountsPrintWithSiPrefixes(double flops, string expected) => Assert.That(TrainingFlops.Format(flops), Is.EqualTo(expected));
}
