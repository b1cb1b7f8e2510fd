using System.Text.Json.Nodes;
using Electra.Model;
using Electra.Train;
using Electra.Train.Data;
using Electra.Train.Experiments;
using Electra.Train.FineTuning;
using Electra.Train.Pretraining;

namespace Electra.Tests.Train;

/// <summary>
/// The experiment end to end on micro shapes: an interrupted experiment resumes its pretraining exactly, skips what
/// finished and starts an interrupted fine-tuning run over, ending with the same results as one uninterrupted run.
/// </summary>
[NonParallelizable]
public class RtdVsMlmRunnerTests
{
    private static readonly Lazy<WordPieceTokenizer> Bert = new(() => WordPieceTokenizer.Load());
    private string _dir = "";
    private string _shards = "";
    private string _glue = "";

    private static ElectraConfig Micro => new()
    {
        EmbeddingSize = 16, HiddenSize = 32, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 64, MaxPositionEmbeddings = 64,
    };

    [OneTimeSetUp]
    public void PrepareData()
    {
        _dir = TestData.TempDir();
        var words = "the nation congress people states government year war peace law world work country great public time".Split(' ');
        var rng = new Random(5);
        string Sentence(int min, int max) => string.Join(' ', Enumerable.Range(0, rng.Next(min, max)).Select(_ => words[rng.Next(words.Length)]));
        var text = Path.Combine(_dir, "corpus.txt");
        using (var w = new StreamWriter(text))
        {
            for (int doc = 0; doc < 10; doc++)
            {
                for (int s = 0; s < 30; s++) w.Write(Sentence(5, 14) + ". ");
                w.WriteLine();
                w.WriteLine();
            }
        }
        _shards = Path.Combine(_dir, "shards");
        DataPreparer.Run(new PrepareDataOptions([text], _shards, 32, 1), Bert.Value);

        // SST-2 with its own dev file (header, as in ../shared/data); CoLA with a training file only.
        _glue = Path.Combine(_dir, "glue");
        Directory.CreateDirectory(Path.Combine(_glue, "sst2"));
        Directory.CreateDirectory(Path.Combine(_glue, "cola"));
        string Labelled(int i) => $"{(i % 2 == 0 ? "peace great" : "war law")} {Sentence(1, 5)}\t{(i % 2 == 0 ? 1 : 0)}";
        File.WriteAllLines(Path.Combine(_glue, "sst2", "train.tsv"), ["sentence\tlabel", .. Enumerable.Range(0, 48).Select(Labelled)]);
        File.WriteAllLines(Path.Combine(_glue, "sst2", "dev.tsv"), ["sentence\tlabel", .. Enumerable.Range(0, 16).Select(Labelled)]);
        File.WriteAllLines(Path.Combine(_glue, "cola", "train.tsv"), Enumerable.Range(0, 40).Select(Labelled));
    }

    [OneTimeTearDown]
    public void Clean()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private RtdVsMlmOptions Options(string name) => new()
    {
        Preset = "tiny",
        Discriminator = Micro,
        Generator = Micro with { HiddenSize = 16, NumAttentionHeads = 1, IntermediateSize = 32 },
        DataDir = _shards,
        GlueDir = _glue,
        OutDir = Path.Combine(_dir, name),
        Steps = 4, Batch = 4, Seq = 32, Lr = 1e-3f, Warmup = 1, LogEvery = 1, SaveEvery = 2, Seed = 11,
        Tasks = ["sst2", "cola"],
        Seeds = 2,
        FineTune = new FineTuneSettings { Epochs = 2, Lr = 1e-3f, Batch = 8, Seq = 24, LogEvery = 2 },
        DevFraction = 0.25,
    };

    private static RtdVsMlmRunner Runner(RtdVsMlmOptions o) => new(RtdVsMlmRunner.MakePlan(o, Bert.Value), Bert.Value, Device.Cpu, "cpu (test)");

    private static (ExperimentOutcome Outcome, List<ExperimentProgress> Events) Run(RtdVsMlmOptions o, Func<ExperimentProgress, bool>? stopWhen = null)
    {
        var events = new List<ExperimentProgress>();
        using var cancel = new CancellationTokenSource();
        var outcome = Runner(o).Run(e =>
        {
            events.Add(e);
            if (stopWhen?.Invoke(e) == true) cancel.Cancel();
        }, cancel.Token);
        return (outcome, events);
    }

    /// <summary>results.json's per-run numbers without wall times, which no two runs share.</summary>
    private static string Runs(string dir)
    {
        var runs = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "results.json")))!["runs"]!.AsArray();
        foreach (var r in runs) r!.AsObject().Remove("wall_s");
        return runs.ToJsonString();
    }

    private static byte[] Weights(string dir, string run, string half) => File.ReadAllBytes(Path.Combine(dir, run, "checkpoint", half, "model.safetensors"));

    [Test]
    public void AnInterruptedExperimentContinuesToTheResultsOfAnUninterruptedOne()
    {
        var straight = Options("straight");
        var (outcome, events) = Run(straight);
        Assert.That(outcome, Is.EqualTo(ExperimentOutcome.Completed));
        Assert.That(events.Where(e => e.Phase == ProgressPhase.Started).Select(e => e.Run.Name).ToList(), Has.Count.EqualTo(15), "2 pretraining, 1 untrained, 12 fine-tuning");
        Assert.That(events.Select(e => e.Count).Distinct(), Is.EqualTo(new[] { 15 }));
        Assert.That(events.Zip(events.Skip(1)).All(p => p.Second.Done >= p.First.Done - 1e-12), Is.True, "overall progress never goes back");
        Assert.That(events[^1].Done, Is.EqualTo(1).Within(1e-9));
        Assert.That(events.SkipWhile(e => e.Phase != ProgressPhase.Step).All(e => e.Eta is not null), Is.True, "an ETA from the first timed step on");
        foreach (var f in new[] { "results.md", "results.json", "results.png", "plan.json", "timings.json" })
            Assert.That(File.Exists(Path.Combine(straight.OutDir, f)), Is.True, f);

        // 1. Stopped during RTD pretraining, after its second step: a checkpoint at step 2, no results.
        var split = Options("split");
        int rtdSteps = 0;
        (outcome, _) = Run(split, e => e.Run.Name == "pretrain-rtd" && e.Phase == ProgressPhase.Step && ++rtdSteps == 2);
        Assert.That(outcome, Is.EqualTo(ExperimentOutcome.Interrupted));
        Assert.That(PretrainCheckpoint.ReadState(Path.Combine(split.OutDir, "pretrain-rtd", "checkpoint")).Step, Is.EqualTo(2));
        Assert.That(Directory.Exists(Path.Combine(split.OutDir, "pretrain-mlm")), Is.False);
        Assert.That(File.Exists(Path.Combine(split.OutDir, "results.md")), Is.False);

        // 2. Again: RTD resumes at step 2; stopped as the second fine-tuning run starts.
        (outcome, events) = Run(split, e => e.Run.Name == "finetune/mlm-sst2-seed1" && e.Phase == ProgressPhase.Started);
        Assert.That(outcome, Is.EqualTo(ExperimentOutcome.Interrupted));
        Assert.That(events[0].Run.Name, Is.EqualTo("pretrain-rtd"));
        Assert.That(events[0].Line, Is.EqualTo("resuming at step 2 of 4"));
        Assert.That(File.Exists(Path.Combine(split.OutDir, "finetune", "rtd-sst2-seed1", FineTuneRecord.FileName)), Is.True);
        Assert.That(Directory.Exists(Path.Combine(split.OutDir, "finetune", "mlm-sst2-seed1")), Is.True);
        Assert.That(File.Exists(Path.Combine(split.OutDir, "finetune", "mlm-sst2-seed1", FineTuneRecord.FileName)), Is.False);

        // 3. Again: the finished sub-runs are skipped, the interrupted fine-tuning run starts over, the rest runs.
        (outcome, events) = Run(split);
        Assert.That(outcome, Is.EqualTo(ExperimentOutcome.Completed));
        var firstPhase = events.GroupBy(e => e.Run.Name).ToDictionary(g => g.Key, g => g.First());
        foreach (var name in new[] { "pretrain-rtd", "pretrain-mlm", "scratch", "finetune/rtd-sst2-seed1" })
            Assert.That(firstPhase[name].Phase, Is.EqualTo(ProgressPhase.Skipped), name);
        Assert.That(firstPhase["finetune/mlm-sst2-seed1"].Line, Does.StartWith("starting over (interrupted earlier)"));
        Assert.That(firstPhase.Values.Count(e => e.Phase == ProgressPhase.Started), Is.EqualTo(11));

        foreach (var (run, half) in new[] { ("pretrain-rtd", "discriminator"), ("pretrain-rtd", "generator"), ("pretrain-mlm", "generator") })
            Assert.That(Weights(split.OutDir, run, half), Is.EqualTo(Weights(straight.OutDir, run, half)), $"{run} {half} after the resume");
        Assert.That(Runs(split.OutDir), Is.EqualTo(Runs(straight.OutDir)));

        // 4. Once more: nothing left to run; the same results are written again.
        (outcome, events) = Run(split);
        Assert.That(outcome, Is.EqualTo(ExperimentOutcome.Completed));
        Assert.That(events.Select(e => e.Phase).Distinct(), Is.EqualTo(new[] { ProgressPhase.Skipped }));
        Assert.That(events, Has.Count.EqualTo(15));
        Assert.That(Runs(split.OutDir), Is.EqualTo(Runs(straight.OutDir)));

        // What the results say about the runs: 12 fine-tuning runs, each scored on its last epoch.
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(split.OutDir, "results.json")))!;
        var runs = json["runs"]!.AsArray();
        Assert.That(runs, Has.Count.EqualTo(12));
        foreach (var r in runs)
        {
            var perEpoch = r!["per_epoch"]!.AsArray();
            Assert.That(perEpoch, Has.Count.EqualTo(2));
            var metric = r["metric"]!.GetValue<string>();
            Assert.That(metric, Is.EqualTo(r["task"]!.GetValue<string>() == "sst2" ? "accuracy" : "mcc"));
            Assert.That(r["score"]!.GetValue<double>(), Is.EqualTo(perEpoch[^1]![metric]!.GetValue<double>()));
        }
        var pretraining = json["pretraining"]!.AsArray();
        var plan = RtdVsMlmRunner.MakePlan(split, Bert.Value);
        Assert.That(pretraining.Select(p => p!["steps"]!.GetValue<long>()), Is.EqualTo(new[] { plan.Rtd.Steps, plan.Mlm.Steps }));
        Assert.That(pretraining[0]!["flops"]!.GetValue<double>(), Is.EqualTo(plan.RtdFlops));
        // CoLA's dev set: a quarter of its 40 rows, held out.
        Assert.That(runs.First(r => r!["task"]!.GetValue<string>() == "cola")!["dev_examples"]!.GetValue<int>(), Is.EqualTo(10));
    }

    [Test]
    public void TheNoPretrainingRowStartsFromTheWeightsRtdPretrainingStartsFrom()
    {
        var o = Options("scratch") with { Seeds = 1, Tasks = ["sst2"] };
        Assert.That(Run(o).Outcome, Is.EqualTo(ExperimentOutcome.Completed));
        var plan = RtdVsMlmRunner.MakePlan(o, Bert.Value);
        var special = new SpecialTokens(Bert.Value.PadId, Bert.Value.UnkId, Bert.Value.ClsId, Bert.Value.SepId, Bert.Value.MaskId);
        using var fresh = new PretrainRunner(plan.Rtd with { OutDir = Path.Combine(_dir, "fresh") }, plan.Discriminator, plan.Generator, Device.Cpu, special);
        using var scratch = ModelLoading.LoadDiscriminator(plan.EncoderDir("scratch"), Device.Cpu);
        using var trained = ModelLoading.LoadDiscriminator(plan.EncoderDir("rtd"), Device.Cpu);
        var initial = fresh.Model.Discriminator!.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor.ToFloatArray());
        Assert.That(scratch.NamedParameters().Select(p => p.Name), Is.EquivalentTo(initial.Keys));
        foreach (var (name, t) in scratch.NamedParameters())
            Assert.That(t.ToFloatArray(), Is.EqualTo(initial[name]), name);
        var qkv = "electra.encoder.layer.0.attention.self.qkv.weight";
        Assert.That(trained.NamedParameters().Single(p => p.Name == qkv).Tensor.ToFloatArray(), Is.Not.EqualTo(initial[qkv]), "pretraining moved the weights");
    }

    [Test]
    public void ACheckpointOfOtherSettingsIsRefusedByName()
    {
        var o = Options("other") with { Seeds = 1, Tasks = ["sst2"] };
        Assert.That(Run(o).Outcome, Is.EqualTo(ExperimentOutcome.Completed));
        var plan = RtdVsMlmRunner.MakePlan(o, Bert.Value);
        var checkpoint = Path.Combine(plan.Rtd.OutDir, "checkpoint");
        Assert.That(RtdVsMlmRunner.CheckpointStep(checkpoint, plan.Rtd), Is.EqualTo(4));
        Assert.That(RtdVsMlmRunner.CheckpointStep(Path.Combine(_dir, "nowhere"), plan.Rtd), Is.Null);
        var e = Assert.Throws<ArgumentException>(() => RtdVsMlmRunner.CheckpointStep(checkpoint, plan.Rtd with { Lr = 2e-3f, Seed = 3 }));
        Assert.That(e!.Message, Does.Contain("lr 0.001 (planned 0.002)").And.Contain("seed 11 (planned 3)"));

        // Another experiment into the same folder is refused before anything in it changes.
        var before = File.ReadAllBytes(Path.Combine(o.OutDir, "results.json"));
        var again = Assert.Throws<ArgumentException>(() => Runner(o with { Steps = 6 }).Run());
        Assert.That(again!.Message, Does.Contain("rtd.steps: 4 there, 6 now"));
        Assert.That(File.ReadAllBytes(Path.Combine(o.OutDir, "results.json")), Is.EqualTo(before));
    }
}
