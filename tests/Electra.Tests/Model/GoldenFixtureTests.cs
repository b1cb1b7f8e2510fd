using Electra.IO;
using Electra.Model;
using Electra.Model.Checkpoints;

namespace Electra.Tests.Model;

using Tensor = Electra.Tensor;

/// <summary>
/// The whole model against PyTorch: tests/fixtures/golden.safetensors holds a tiny generator + discriminator with
/// shared embeddings (HF names), fixed inputs, and the forward outputs and gradients of the ELECTRA loss computed
/// by tests/fixtures/make_golden.py. Sampling is fixed in the fixture, so this covers everything but the draw.
/// </summary>
public class GoldenFixtureTests
{
    private const float Tolerance = 1e-4f;

    private static ElectraConfig Disc => new()
    {
        VocabSize = 50, EmbeddingSize = 16, HiddenSize = 32, NumAttentionHeads = 2, IntermediateSize = 64, NumHiddenLayers = 2,
        MaxPositionEmbeddings = 16, HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0,
    };

    private static ElectraConfig Gen => Disc with { HiddenSize = 24, NumAttentionHeads = 2, IntermediateSize = 48 };

    [Test]
    public void ForwardAndAllGradientsMatchPyTorch()
    {
        var path = Path.Combine(TestData.RepoRoot, "tests", "fixtures", "golden.safetensors");
        using var file = SafetensorsFile.Open(path);
        var rng = new Random(0);
        using var embeddings = new ElectraEmbeddings(Disc, rng, Device.Cpu);
        using var disc = new Discriminator(Disc, embeddings, rng, Device.Cpu);
        using var gen = new Generator(Gen, embeddings, rng, Device.Cpu);
        string Shared(string n, string half) => n.StartsWith("electra.embeddings.", StringComparison.Ordinal) ? "param." + n : $"param.{half}.{n}";
        // Each half ignores the other half's tensors, the gradients, inputs and outputs, but nothing of its own.
        StateLoader.Load(disc, file, n => Shared(n, "disc"), n => !n.StartsWith("param.disc.", StringComparison.Ordinal) && !n.StartsWith("param.electra.", StringComparison.Ordinal));
        StateLoader.Load(gen, file, n => Shared(n, "gen"), n => !n.StartsWith("param.gen.", StringComparison.Ordinal) && !n.StartsWith("param.electra.", StringComparison.Ordinal));
        disc.Eval();
        gen.Eval();

        int[] Ints(string n) => file.ReadTensor(n).ToIntArray();
        var ids = Ints("input.ids");
        int b = 3, t = ids.Length / 3;
        using var scope = new TensorScope();
        var types = Tensor.FromArray(Ints("input.types"), [b, t]);
        var mask = Tensor.FromArray(Ints("input.mask"), [b, t]);
        var positions = Tensor.FromArray(Ints("input.positions"));
        var targets = Tensor.FromArray(Ints("input.targets"));
        var hidden = gen.Encode(Tensor.FromArray(Ints("input.masked_ids"), [b, t]), types, mask);
        var genLogits = gen.Logits(Ops.GatherRows(hidden, positions));
        AssertClose(genLogits.ToFloatArray(), file.ReadTensor("output.gen_logits").ToFloatArray(), "generator logits");
        var (mlm, _) = Ops.SoftmaxCrossEntropy(genLogits, targets);
        var discLogits = disc.Forward(Tensor.FromArray(Ints("input.corrupted"), [b, t]), types, mask);
        AssertClose(discLogits.ToFloatArray(), file.ReadTensor("output.disc_logits").ToFloatArray(), "discriminator logits");
        var weights = Tensor.FromArray(Ints("input.mask").Select(x => (float)x).ToArray());
        var bce = Ops.BceWithLogits(discLogits, file.ReadTensor("input.labels"), weights, weights.ToFloatArray().Sum());
        var loss = Ops.Add(mlm, bce, 1f, 50f);
        Assert.That(mlm.Item(), Is.EqualTo(file.ReadTensor("output.mlm_loss").Item()).Within(Tolerance));
        Assert.That(bce.Item(), Is.EqualTo(file.ReadTensor("output.disc_loss").Item()).Within(Tolerance));
        Assert.That(loss.Item(), Is.EqualTo(file.ReadTensor("output.loss").Item()).Within(Tolerance * 50));
        loss.Backward();

        int compared = 0;
        foreach (var (module, half) in new (Electra.Nn.Module, string)[] { (disc, "disc"), (gen, "gen") })
            foreach (var (name, param) in module.NamedParameters())
            {
                var expected = HfNames.SourcesOf(name).SelectMany(s => file.ReadTensor("grad." + Shared(s, half)["param.".Length..]).ToFloatArray()).ToArray();
                Assert.That(param.Grad, Is.Not.Null, $"{half} {name} got no gradient");
                AssertClose(param.Grad!.ToFloatArray(), expected, $"∂loss/∂{half}.{name}");
                compared++;
            }
        Assert.That(compared, Is.EqualTo(2 * (5 + 2 + 2 * 12) + 4 + 5));
    }

    private static void AssertClose(float[] actual, float[] expected, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        float scale = Math.Max(1f, expected.Max(MathF.Abs));
        float worst = actual.Zip(expected).Max(p => MathF.Abs(p.First - p.Second));
        Assert.That(worst, Is.LessThanOrEqualTo(Tolerance * scale), $"{what}: max abs error {worst} (scale {scale})");
    }
}
