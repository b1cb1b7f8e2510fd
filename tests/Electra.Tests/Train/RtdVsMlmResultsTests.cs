using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Electra.Train.Experiments;
using Electra.Train.Glue;
using Electra.Train.Reporting;

namespace Electra.Tests.Train;

/// <summary>results.md, results.json and results.png from hand-made run records, and the progress estimate.</summary>
public class RtdVsMlmResultsTests
{
    private string _dir = "";

    [SetUp]
    public void CreateDir() => _dir = TestData.TempDir();

    [TearDown]
    public void DeleteDir() => Directory.Delete(_dir, recursive: true);

    private static FineTuneRecord Record(string source, string task, ulong seed, double last, double first = 0.5) =>
        new(source, task, seed, [[new GlueMetric(task == "cola" ? "mcc" : "accuracy", first)], [new GlueMetric(task == "cola" ? "mcc" : "accuracy", last)]],
            Steps: 20, TrainExamples: 300, DevExamples: 100, WallSeconds: 12);

    private static IReadOnlyList<MetricsRecord> Curve(string objective) => Enumerable.Range(0, 5).Select(i => new MetricsRecord(i * 10,
        objective == "rtd"
            ? new Dictionary<string, double> { ["mlm_loss"] = 10 - i, ["disc_loss"] = 0.7 - 0.05 * i, ["disc_auc"] = 0.5 + 0.05 * i }
            : new Dictionary<string, double> { ["mlm_loss"] = 10 - 1.2 * i })).ToList();

    /// <summary>Scores chosen so the means and sample standard deviations come out round.</summary>
    private static RtdVsMlmResults Results(int seeds = 3)
    {
        var scores = new Dictionary<(string, string), double[]>
        {
            [("rtd", "sst2")] = [0.70, 0.72, 0.74],      // mean 0.720, sd 0.020
            [("mlm", "sst2")] = [0.60, 0.65, 0.70],      // mean 0.650, sd 0.050
            [("scratch", "sst2")] = [0.55, 0.55, 0.55],  // mean 0.550, sd 0.000
            [("rtd", "cola")] = [0.10, 0.20, 0.30],      // mean 0.200, sd 0.100
            [("mlm", "cola")] = [0.00, 0.10, 0.20],      // mean 0.100, sd 0.100
            [("scratch", "cola")] = [0.0, 0.0, 0.0],
        };
        var runs = scores.SelectMany(kv => kv.Value.Take(seeds).Select((v, i) => Record(kv.Key.Item1, kv.Key.Item2, (ulong)i + 1, v))).ToList();
        return new RtdVsMlmResults("tiny", "cpu (test)", "B=32 T=128", "2 epochs",
            [new TaskInfo("sst2", "accuracy", "sst2/dev.tsv"), new TaskInfo("cola", "mcc", "10% of cola/train.tsv")],
            Enumerable.Range(1, seeds).Select(s => (ulong)s).ToList(),
            [new PretrainRecord("rtd", 1500, 2.0e10, 600, Curve("rtd")), new PretrainRecord("mlm", 1616, 1.86e10, 540, Curve("mlm"))],
            runs);
    }

    [Test]
    public void TheTableHasOneRowPerModelAndOneColumnPerTask()
    {
        var md = Results().ToMarkdown().Split('\n');
        Assert.That(md, Does.Contain("| model | pretraining steps | training FLOPs | pretraining wall | sst2 dev accuracy | cola dev mcc | fine-tuning wall |"));
        // Fine-tuning wall: 6 runs of 12 s per model.
        Assert.That(md, Does.Contain("| ELECTRA (RTD) | 1,500 | 30.0 TFLOP | 10m00s | 0.720 ± 0.020 | 0.200 ± 0.100 | 1m12s |"));
        Assert.That(md, Does.Contain("| MLM baseline | 1,616 | 30.1 TFLOP | 9m00s | 0.650 ± 0.050 | 0.100 ± 0.100 | 1m12s |"));
        Assert.That(md, Does.Contain("| no pretraining | 0 | 0 | — | 0.550 ± 0.000 | 0.000 ± 0.000 | 1m12s |"));
        Assert.That(md, Does.Contain("| sst2 | MLM baseline | 0.600 | 0.650 | 0.700 | 2 (0.600), 2 (0.650), 2 (0.700) |"));
        Assert.That(md, Does.Contain("- cola dev set: 10% of cola/train.tsv"));
    }

    [Test]
    public void JsonHoldsEveryRunAndTheSummaries()
    {
        Results().WriteAll(_dir);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "results.json")))!;
        var runs = json["runs"]!.AsArray();
        Assert.That(runs, Has.Count.EqualTo(18));
        var one = runs.Single(r => r!["objective"]!.GetValue<string>() == "mlm" && r["task"]!.GetValue<string>() == "cola" && r["seed"]!.GetValue<int>() == 3)!;
        Assert.That(one["metric"]!.GetValue<string>(), Is.EqualTo("mcc"));
        Assert.That(one["score"]!.GetValue<double>(), Is.EqualTo(0.2));
        Assert.That(one["pretraining_flops"]!.GetValue<double>(), Is.EqualTo(1616 * 1.86e10));
        Assert.That(one["per_epoch"]!.AsArray().Select(e => e!["mcc"]!.GetValue<double>()), Is.EqualTo(new[] { 0.5, 0.2 }));
        Assert.That(one["best_epoch"]!.GetValue<int>(), Is.EqualTo(1), "epoch 1 (0.5) beat the last (0.2); the score is still the last");

        var summary = json["summary"]!.AsArray();
        Assert.That(summary, Has.Count.EqualTo(6));
        var rtdSst2 = summary.Single(s => s!["objective"]!.GetValue<string>() == "rtd" && s["task"]!.GetValue<string>() == "sst2")!;
        Assert.That(rtdSst2["mean"]!.GetValue<double>(), Is.EqualTo(0.72).Within(1e-12));
        Assert.That(rtdSst2["sd"]!.GetValue<double>(), Is.EqualTo(0.02).Within(1e-12));
        Assert.That((rtdSst2["seeds"]!.GetValue<int>(), rtdSst2["min"]!.GetValue<double>(), rtdSst2["max"]!.GetValue<double>()), Is.EqualTo((3, 0.70, 0.74)));
        Assert.That(summary.Single(s => s!["objective"]!.GetValue<string>() == "scratch" && s["task"]!.GetValue<string>() == "sst2")!["pretraining_flops"]!.GetValue<double>(), Is.Zero);
        Assert.That(json["pretraining"]!.AsArray().Select(p => p!["steps"]!.GetValue<long>()), Is.EqualTo(new[] { 1500L, 1616L }));
        Assert.That(json["pretraining"]![0]!["last_logged"]!["disc_auc"]!.GetValue<double>(), Is.EqualTo(0.7).Within(1e-12));

        // The picture: a PNG of 1000 × 900 (three 300-pixel panels).
        var png = File.ReadAllBytes(Path.Combine(_dir, "results.png"));
        Assert.That(png.Take(8), Is.EqualTo(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }));
        Assert.That((BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20))), Is.EqualTo((1000, 900)));
        Assert.That(File.ReadAllText(Path.Combine(_dir, "results.md")), Is.EqualTo(Results().ToMarkdown()));
    }

    [Test]
    public void OneSeedHasNoSpread()
    {
        var results = Results(seeds: 1);
        Assert.That(results.ToMarkdown(), Does.Contain("| ELECTRA (RTD) | 1,500 | 30.0 TFLOP | 10m00s | 0.700 | 0.100 | 0m24s |"));
        var summary = results.ToJson()["summary"]!.AsArray();
        Assert.That(summary.All(s => s!["sd"] is null), Is.True, "a standard deviation of one seed is undefined, not 0");
    }

    [Test]
    public void AFineTuningRecordRoundTripsAndABrokenOneIsNamed()
    {
        var record = Record("rtd", "sst2", 2, 0.8, first: 0.6);
        Directory.CreateDirectory(Path.Combine(_dir, "run"));
        record.Save(Path.Combine(_dir, "run"));
        var back = FineTuneRecord.Load(Path.Combine(_dir, "run"));
        Assert.That((back.Source, back.Task, back.Seed, back.FinalScore, back.BestEpoch, back.Steps, back.WallSeconds), Is.EqualTo(("rtd", "sst2", 2UL, 0.8, 2, 20L, 12.0)));
        File.WriteAllText(Path.Combine(_dir, "run", FineTuneRecord.FileName), """{"source": "rtd", "per_epoch": []}""");
        Assert.That(() => FineTuneRecord.Load(Path.Combine(_dir, "run")), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("result.json"));
    }

    [Test]
    public void TheEstimateUsesEachKindsMeasuredRate()
    {
        // Pretraining 100 + 300 FLOPs, fine-tuning 50: 50 FLOPs of the first done in 10 s → 5 FLOP/s for all.
        var work = new WorkEstimate([(100, true), (300, true), (50, false)]);
        Assert.That(work.Eta, Is.Null, "nothing timed yet");
        work.Progress(0, 0, 50, 10);
        Assert.That(work.Fraction, Is.EqualTo(50.0 / 450));
        Assert.That(work.Eta!.Value.TotalSeconds, Is.EqualTo((50 + 300 + 50) / 5.0).Within(1e-9));
        // The first sub-run ends (100 in 20 s); the fine-tuning run then goes at 1 FLOP/s: its own rate from now on.
        work.Progress(0, 0, 100, 20);
        work.EndCurrent();
        work.MarkDone(1, 300);
        work.Progress(2, 0, 10, 10);
        Assert.That(work.Eta!.Value.TotalSeconds, Is.EqualTo(40).Within(1e-9));
        Assert.That(work.Fraction, Is.EqualTo(410.0 / 450));
    }
}
