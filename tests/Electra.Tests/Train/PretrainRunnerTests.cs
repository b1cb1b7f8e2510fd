using Electra.IO;
using Electra.Model;
using Electra.Train.Data;
using Electra.Train.Pretraining;

namespace Electra.Tests.Train;

/// <summary>The pretraining loop end to end on a small prepared corpus: checkpoints, exact resume, interruption, divergence.</summary>
[NonParallelizable]
public class PretrainRunnerTests
{
    private static readonly Lazy<WordPieceTokenizer> Bert = new(() => WordPieceTokenizer.Load());
    private string _dir = "";
    private string _shards = "";

    private static ElectraConfig Micro => new()
    {
        EmbeddingSize = 16, HiddenSize = 32, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 64, MaxPositionEmbeddings = 64,
    };

    private static ElectraConfig MicroGenerator => Micro with { HiddenSize = 16, NumAttentionHeads = 1, IntermediateSize = 32 };

    [OneTimeSetUp]
    public void PrepareCorpus()
    {
        _dir = TestData.TempDir();
        _shards = MicroRun.Shards(_dir, "shards", Bert.Value, corpusSeed: 3, documents: 12, sentences: 30);
    }

    [OneTimeTearDown]
    public void Clean()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private PretrainSettings Settings(string name, long steps = 6, long saveEvery = 3, float lr = 1e-3f) => new()
    {
        Preset = "micro", Steps = steps, Batch = 4, Seq = 32, Lr = lr, Warmup = 2, LogEvery = 1, SaveEvery = saveEvery,
        Seed = 11, DataDir = _shards, OutDir = Path.Combine(_dir, name),
    };

    private static SpecialTokens Special => new(Bert.Value.PadId, Bert.Value.UnkId, Bert.Value.ClsId, Bert.Value.SepId, Bert.Value.MaskId);

    private PretrainRunner Runner(PretrainSettings s, string? resume = null) => new(s, Micro, MicroGenerator, Device.Cpu, Special, resume);

    /// <summary>The logged metrics without the wall-clock throughput, which no two runs share.</summary>
    private static List<string> Metrics(string path) =>
        File.ReadAllLines(path).Select(l => System.Text.RegularExpressions.Regex.Replace(l, "\"tokens_per_s\":[^,}]*", "")).ToList();

    [Test]
    public void ResumingHalfwayGivesBitIdenticalMetricsAndWeights()
    {
        using (var straight = Runner(Settings("straight")))
            Assert.That(straight.Run(), Is.EqualTo(RunOutcome.Completed));

        var split = Settings("split");
        using (var first = Runner(split))
            Assert.That(first.Run(stopAt: 3), Is.EqualTo(RunOutcome.Completed));
        using (var second = Runner(split, resume: Path.Combine(split.OutDir, "checkpoint")))
        {
            Assert.That(second.Step, Is.EqualTo(3));
            Assert.That(second.Run(), Is.EqualTo(RunOutcome.Completed));
        }

        var a = Metrics(Path.Combine(_dir, "straight", "metrics.jsonl"));
        var b = Metrics(Path.Combine(_dir, "split", "metrics.jsonl"));
        Assert.That(a, Has.Count.EqualTo(6));
        Assert.That(b, Is.EqualTo(a));
        foreach (var half in new[] { "discriminator", "generator" })
        {
            var wa = File.ReadAllBytes(Path.Combine(_dir, "straight", "checkpoint", half, "model.safetensors"));
            var wb = File.ReadAllBytes(Path.Combine(_dir, "split", "checkpoint", half, "model.safetensors"));
            Assert.That(wb, Is.EqualTo(wa), $"{half} weights after resume");
        }
        var state = PretrainCheckpoint.ReadState(Path.Combine(_dir, "split", "checkpoint"));
        Assert.That(state.Step, Is.EqualTo(6));
        Assert.That(state.OptimizerSteps, Is.EqualTo(6));
    }

    [Test]
    public void CheckpointIsAnHfDirectoryPerNetworkAndLeavesNoDebris()
    {
        var s = Settings("layout", steps: 2, saveEvery: 1);
        using (var runner = Runner(s)) runner.Run();
        var ckpt = Path.Combine(s.OutDir, "checkpoint");
        Assert.That(Directory.GetFileSystemEntries(s.OutDir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "checkpoint", "metrics.jsonl" }));
        using var disc = SafetensorsFile.Open(Path.Combine(ckpt, "discriminator", "model.safetensors"));
        Assert.That(disc.Names, Does.Contain("electra.encoder.layer.0.attention.self.query.weight"));
        Assert.That(disc.Names, Does.Contain("discriminator_predictions.dense_prediction.bias"));
        Assert.That(disc.Names.Any(n => n.Contains("qkv")), Is.False);
        using var gen = SafetensorsFile.Open(Path.Combine(ckpt, "generator", "model.safetensors"));
        Assert.That(gen.Names, Does.Contain("generator_lm_head.bias"));
        Assert.That(gen.Names, Does.Contain("electra.embeddings.word_embeddings.weight"));
        Assert.That(gen.Names, Does.Not.Contain("generator_lm_head.weight"), "tied to the word embeddings, as HF saves it");
        Assert.That(ElectraConfig.Load(Path.Combine(ckpt, "generator", "config.json")).HiddenSize, Is.EqualTo(16));
        Assert.That(File.Exists(Path.Combine(ckpt, "trainer", "optimizer.safetensors")), Is.True);
    }

    [Test]
    public void AnInterruptedSwapFallsBackToTheCompleteOldCheckpoint()
    {
        var s = Settings("swap", steps: 1);
        using (var runner = Runner(s)) runner.Run();
        var ckpt = Path.Combine(s.OutDir, "checkpoint");
        Directory.Move(ckpt, ckpt + ".old"); // as if the process died between the two renames
        Assert.That(PretrainCheckpoint.Locate(ckpt), Is.EqualTo(ckpt + ".old"));
        Assert.That(PretrainCheckpoint.ReadState(ckpt).Step, Is.EqualTo(1));
    }

    [Test]
    public void CancellationSavesACheckpointAtTheCurrentStep()
    {
        var s = Settings("cancel", steps: 50, saveEvery: 1000);
        using var cancel = new CancellationTokenSource();
        using var runner = Runner(s);
        var outcome = runner.Run(r => { if (r.Step == 1) cancel.Cancel(); }, cancel.Token);
        Assert.That(outcome, Is.EqualTo(RunOutcome.Interrupted));
        Assert.That(PretrainCheckpoint.ReadState(runner.CheckpointDir).Step, Is.EqualTo(2));
    }

    [Test]
    public void ACancelledRunResumesOnTheBatchItsWorkerHadAlreadyDrawn()
    {
        // Step t + 1's batch is drawn and masked on a worker during step t: the checkpoint of a run cancelled after
        // step 2 must point at that batch, not past it, so the resumed run trains on exactly the straight run's data.
        using (var straight = Runner(Settings("cancel-straight")))
            Assert.That(straight.Run(), Is.EqualTo(RunOutcome.Completed));
        var s = Settings("cancel-resume", saveEvery: 1000);
        using (var cancel = new CancellationTokenSource())
        using (var first = Runner(s))
            Assert.That(first.Run(r => { if (r.Step == 2) cancel.Cancel(); }, cancel.Token), Is.EqualTo(RunOutcome.Interrupted));
        var state = PretrainCheckpoint.ReadState(Path.Combine(s.OutDir, "checkpoint"));
        Assert.That((state.Step, state.DataPosition), Is.EqualTo((3L, 3 * s.Batch)), "three batches consumed, the fourth only drawn");
        using (var second = Runner(s, resume: Path.Combine(s.OutDir, "checkpoint")))
            Assert.That(second.Run(), Is.EqualTo(RunOutcome.Completed));
        Assert.That(Metrics(Path.Combine(s.OutDir, "metrics.jsonl")), Is.EqualTo(Metrics(Path.Combine(_dir, "cancel-straight", "metrics.jsonl"))));
    }

    [Test]
    public void DivergenceStopsAndKeepsTheLastGoodCheckpoint()
    {
        // An absurd learning rate (the CLI refuses it; the runner trains whatever is finite): step 0 runs at lr 0
        // (warmup) and is saved, then the weights overflow within a step or two.
        var bad = Settings("nan", steps: 40, saveEvery: 1) with { Lr = 1e30f, Warmup = 1 };
        using var runner = Runner(bad);
        Assert.That(runner.Run(), Is.EqualTo(RunOutcome.Diverged));
        var (step, value) = runner.DivergedAt!.Value;
        Assert.That(float.IsFinite(value), Is.False);
        var kept = PretrainCheckpoint.ReadState(runner.CheckpointDir).Step;
        Assert.That(runner.LastGoodCheckpoint, Is.EqualTo(runner.CheckpointDir));
        Assert.That((kept, step), Is.EqualTo((1L, 1L)), "the checkpoint after the lr-0 step is kept; the step that overflowed is named");
        using var disc = SafetensorsFile.Open(Path.Combine(runner.CheckpointDir, "discriminator", "model.safetensors"));
        foreach (var name in disc.Names)
            Assert.That(disc.ReadTensor(name).ToFloatArray().All(float.IsFinite), Is.True, $"{name} in the kept checkpoint is finite");
    }

    [Test]
    public void SettingsThatDoNotFitTheDataAreRefusedByName()
    {
        var tooLong = Settings("bad") with { Seq = 48 };
        var ex = Assert.Throws<ArgumentException>(() => Runner(tooLong));
        Assert.That(ex!.Message, Does.Contain("--seq 48").And.Contain("32"));
        var noData = Settings("bad2") with { DataDir = Path.Combine(_dir, "nope") };
        Assert.That(() => Runner(noData), Throws.InstanceOf<IOException>().Or.InstanceOf<InvalidDataException>());
    }
}
