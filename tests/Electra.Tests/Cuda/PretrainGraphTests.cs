using Electra.Model;
using Electra.Train.Data;
using Electra.Train.Pretraining;
using Electra.Tests.Train;

namespace Electra.Tests.Cuda;

/// <summary>
/// `pretrain --cuda-graph on` against `off` on the same data: the steps that log nothing are replayed from one
/// captured graph, the logging steps run eagerly in between, and every step has the same shapes (padded masked
/// selection, denominators on the device), so the logged metrics and the final weights agree bit for bit over 20 steps
/// of a warming-up learning rate and batches with different numbers of real and masked tokens; and so do a graph run
/// stopped at step 8 and resumed, whose new runner captures a graph of its own.
/// </summary>
[Category("Gpu")]
[NonParallelizable]
public class PretrainGraphTests
{
    private static readonly Lazy<WordPieceTokenizer> Bert = new(() => WordPieceTokenizer.Load());
    private string _dir = "";
    private string _shards = "";

    private static ElectraConfig Micro => new()
    {
        EmbeddingSize = 32, HiddenSize = 64, NumHiddenLayers = 1, NumAttentionHeads = 1, IntermediateSize = 128, MaxPositionEmbeddings = 64,
    };

    [OneTimeSetUp]
    public void PrepareCorpus()
    {
        _ = Gpu.Backend;
        _dir = TestData.TempDir();
        _shards = MicroRun.Shards(_dir, "shards", Bert.Value, corpusSeed: 5, documents: 12, sentences: 30);
    }

    [OneTimeTearDown]
    public void Clean()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [TestCase(Precision.Fp32)]
    [TestCase(Precision.Bf16)]
    public void GraphAndEagerRunsAreBitIdentical(Precision precision)
    {
        var special = new SpecialTokens(Bert.Value.PadId, Bert.Value.UnkId, Bert.Value.ClsId, Bert.Value.SepId, Bert.Value.MaskId);
        var disc = Micro with { VocabSize = Bert.Value.VocabSize, PadTokenId = Bert.Value.PadId };
        var gen = disc with { HiddenSize = 64, IntermediateSize = 128 };
        PretrainSettings Settings(string name) => new()
        {
            Preset = "micro", Steps = 20, Batch = 4, Seq = 32, Lr = 2e-3f, Warmup = 30, LogEvery = 5, SaveEvery = 1000, Seed = 3,
            DataDir = _shards, OutDir = Path.Combine(_dir, $"{precision}-{name}"), Precision = precision,
        };
        string Run(bool graph, out long replayed)
        {
            var settings = Settings(graph ? "graph" : "eager");
            using var runner = new PretrainRunner(settings, disc, gen, Gpu.Dev, special, new PretrainStart { CudaGraph = graph });
            Assert.That(runner.Run(), Is.EqualTo(RunOutcome.Completed));
            Assert.That(runner.GraphMode, Is.EqualTo(graph ? "on" : "off"));
            replayed = runner.ReplayedSteps;
            return settings.OutDir;
        }
        var eager = Run(false, out long none);
        var graph = Run(true, out long replayed);
        Assert.That(none, Is.EqualTo(0));
        // Steps 0, 5, 10, 15 and 19 log, step 0 also comes before any capture: the other 15 are replays.
        Assert.That(replayed, Is.EqualTo(15));

        // Stopped at step 8 and resumed: the resumed runner captures a graph of its own after one eager step.
        var split = Settings("split");
        using (var first = new PretrainRunner(split, disc, gen, Gpu.Dev, special, new PretrainStart()))
            Assert.That(first.Run(stopAt: 8), Is.EqualTo(RunOutcome.Completed));
        using (var second = new PretrainRunner(split, disc, gen, Gpu.Dev, special, new PretrainStart { ResumeFrom = Path.Combine(split.OutDir, "checkpoint") }))
        {
            Assert.That(second.Run(), Is.EqualTo(RunOutcome.Completed));
            Assert.That(second.ReplayedSteps, Is.EqualTo(8), "steps 9, 11–14 and 16–18 replay; 8 (the first) and the logging steps do not");
        }

        static List<string> Metrics(string run) => File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l, "\"tokens_per_s\":[^,}]*", "")).ToList();
        Assert.That(Metrics(graph), Has.Count.EqualTo(5));
        Assert.That(Metrics(graph), Is.EqualTo(Metrics(eager)), "logged losses, accuracies, AUC, lr and gradient norms");
        // The first half's last step (7) logs too; every step both runs logged agrees.
        Assert.That(Metrics(split.OutDir).Where(l => !l.StartsWith("{\"step\":7,", StringComparison.Ordinal)), Is.EqualTo(Metrics(eager)),
            "the stopped and resumed run's");
        foreach (var half in new[] { "discriminator", "generator" })
        {
            var want = File.ReadAllBytes(Path.Combine(eager, "checkpoint", half, "model.safetensors"));
            Assert.That(File.ReadAllBytes(Path.Combine(graph, "checkpoint", half, "model.safetensors")), Is.EqualTo(want), $"{half} weights after 20 steps");
            Assert.That(File.ReadAllBytes(Path.Combine(split.OutDir, "checkpoint", half, "model.safetensors")), Is.EqualTo(want), $"{half} weights, stopped and resumed");
        }
    }
}
