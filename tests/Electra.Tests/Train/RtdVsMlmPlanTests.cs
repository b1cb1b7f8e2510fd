using System.Text.Json.Nodes;
using Electra.Model;
using Electra.Train.Experiments;
using Electra.Train.Glue;

namespace Electra.Tests.Train;

/// <summary>The experiment's plan: which steps the MLM baseline gets, the sub-runs, and plan.json guarding the folder.</summary>
public class RtdVsMlmPlanTests
{
    private string _dir = "";
    private List<GlueTaskData> _tasks = [];

    [SetUp]
    public void MakeData()
    {
        _dir = TestData.TempDir();
        Directory.CreateDirectory(Path.Combine(_dir, "shards"));
        File.WriteAllText(Path.Combine(_dir, "shards", "manifest.json"), "{}");
        foreach (var task in new[] { "sst2", "cola" })
        {
            Directory.CreateDirectory(Path.Combine(_dir, "glue", task));
            File.WriteAllText(Path.Combine(_dir, "glue", task, "train.tsv"), "a fine film\t1\na dull film\t0\n");
        }
        File.WriteAllText(Path.Combine(_dir, "glue", "sst2", "dev.tsv"), "a good film\t1\n");
        _tasks = [.. new[] { GlueTask.Sst2, GlueTask.Cola }.Select(t => GlueDevSplit.Locate(t, Path.Combine(_dir, "glue"), Path.Combine(_dir, "out", "glue"), 0.5))];
    }

    [TearDown]
    public void Clean() => Directory.Delete(_dir, recursive: true);

    private RtdVsMlmOptions Options(long? steps = null, double? flops = null) => new()
    {
        Preset = "tiny", DataDir = Path.Combine(_dir, "shards"), GlueDir = Path.Combine(_dir, "glue"), OutDir = Path.Combine(_dir, "out"), Steps = steps, Flops = flops,
    };

    private static ElectraConfig Tiny => ElectraConfig.Tiny;

    private RtdVsMlmPlan Plan(RtdVsMlmOptions o) => RtdVsMlmPlan.Make(o, Tiny, Tiny.Generator(), _tasks);

    [TestCase(600L, 646L)]
    [TestCase(1000L, 1077L)]
    [TestCase(1500L, 1616L)]
    public void MlmGetsTheStepsOfEqualTrainingFlops(long rtdSteps, long mlmSteps)
    {
        // Tiny at B=32, T=128 (608 masked rows), counted independently of the code:
        // discriminator 3,960,471,552 + generator 2,730,156,032 forward → RTD 20,071,882,752 per training step;
        // MLM (H=128 masked LM) 18,631,532,544. MLM gets round(N · 1.07731) steps.
        var plan = Plan(Options(steps: rtdSteps));
        Assert.That(plan.RtdStep.Training, Is.EqualTo(20_071_882_752d));
        Assert.That(plan.MlmStep.Training, Is.EqualTo(18_631_532_544d));
        Assert.That((plan.Rtd.Steps, plan.Mlm.Steps), Is.EqualTo((rtdSteps, mlmSteps)));
        Assert.That(plan.MlmFlops / plan.RtdFlops, Is.EqualTo(1).Within(0.5 * plan.MlmStep.Training / plan.RtdFlops), "within half an MLM step");
        Assert.That((plan.Rtd.Objective, plan.Mlm.Objective), Is.EqualTo((Objective.Rtd, Objective.Mlm)));
        Assert.That(plan.Mlm.Batch == plan.Rtd.Batch && plan.Mlm.Seq == plan.Rtd.Seq && plan.Mlm.Lr == plan.Rtd.Lr && plan.Mlm.Seed == plan.Rtd.Seed, Is.True);
    }

    [Test]
    public void AFlopsBudgetGivesEachObjectiveItsNearestStepCount()
    {
        var plan = Plan(Options(flops: 3e13));
        Assert.That((plan.Rtd.Steps, plan.Mlm.Steps), Is.EqualTo((1495L, 1610L)));   // 3e13 / 20.07e9 = 1494.6; / 18.63e9 = 1610.2
    }

    [Test]
    public void WarmupIsTheTinyPresetsButAtMostATenthOfEachRun()
    {
        var shortPlan = Plan(Options(steps: 200));
        Assert.That((shortPlan.Rtd.Warmup, shortPlan.Mlm.Warmup), Is.EqualTo((20L, 21L)));     // MLM: 215 steps
        var longPlan = Plan(Options(steps: 1500));
        Assert.That((longPlan.Rtd.Warmup, longPlan.Mlm.Warmup), Is.EqualTo((60L, 60L)));
        var given = Plan(Options(steps: 200) with { Warmup = 7 });
        Assert.That((given.Rtd.Warmup, given.Mlm.Warmup), Is.EqualTo((7L, 7L)));
    }

    [Test]
    public void BadBudgetsAreRefusedByName()
    {
        Assert.That(() => Plan(Options(steps: 10, flops: 1e12)), Throws.ArgumentException.With.Message.Contains("--steps or --flops, not both"));
        Assert.That(() => Plan(Options(flops: -1)), Throws.ArgumentException.With.Message.Contains("--flops must be a positive number"));
        Assert.That(() => Plan(Options(steps: 0)), Throws.ArgumentException.With.Message.Contains("--steps must be at least 1"));
        Assert.That(() => Plan(Options(steps: 10) with { Seeds = 0 }), Throws.ArgumentException.With.Message.Contains("--seeds must be at least 1"));
    }

    [Test]
    public void SubRunsPretrainFirstThenFineTuneSeedBySeed()
    {
        var plan = Plan(Options(steps: 10) with { Seeds = 2 });
        var runs = plan.SubRuns();
        Assert.That(runs.Take(3).Select(r => r.Name), Is.EqualTo(new[] { "pretrain-rtd", "pretrain-mlm", "scratch" }));
        Assert.That(runs.Skip(3).Select(r => r.Name), Is.EqualTo(new[]
        {
            "finetune/rtd-sst2-seed1", "finetune/mlm-sst2-seed1", "finetune/scratch-sst2-seed1",
            "finetune/rtd-cola-seed1", "finetune/mlm-cola-seed1", "finetune/scratch-cola-seed1",
            "finetune/rtd-sst2-seed2", "finetune/mlm-sst2-seed2", "finetune/scratch-sst2-seed2",
            "finetune/rtd-cola-seed2", "finetune/mlm-cola-seed2", "finetune/scratch-cola-seed2",
        }));
        Assert.That(runs.All(r => r.Dir.StartsWith(plan.OutDir, StringComparison.Ordinal)), Is.True);
        Assert.That(plan.EncoderDir("mlm"), Does.EndWith(Path.Combine("pretrain-mlm", "checkpoint", "generator")), "the MLM run's one network");
        Assert.That(plan.EncoderDir("rtd"), Does.EndWith(Path.Combine("pretrain-rtd", "checkpoint", "discriminator")));
    }

    [Test]
    public void PlanJsonRefusesAnotherExperimentInTheSameFolder()
    {
        Plan(Options(steps: 600)).WriteOrCheck();
        var written = File.ReadAllText(Path.Combine(_dir, "out", RtdVsMlmPlan.FileName));
        Plan(Options(steps: 600)).WriteOrCheck();                                 // the same experiment: accepted

        var e = Assert.Throws<ArgumentException>(() => Plan(Options(steps: 800)).WriteOrCheck());
        Assert.That(e!.Message, Does.Contain("rtd.steps: 600 there, 800 now").And.Contain("use another --out"));
        e = Assert.Throws<ArgumentException>(() => Plan(Options(steps: 600) with { Seeds = 2 }).WriteOrCheck());
        Assert.That(e!.Message, Does.Contain("seeds"));

        // A changed GLUE file is another experiment too.
        File.AppendAllText(Path.Combine(_dir, "glue", "sst2", "dev.tsv"), "a bad film\t0\n");
        e = Assert.Throws<ArgumentException>(() => Plan(Options(steps: 600)).WriteOrCheck());
        Assert.That(e!.Message, Does.Contain("tasks[0].dev_sha256"));
        Assert.That(File.ReadAllText(Path.Combine(_dir, "out", RtdVsMlmPlan.FileName)), Is.EqualTo(written));
    }

    [Test]
    public void AFolderThatIsNotAnExperimentIsRefused()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "out"));
        File.WriteAllText(Path.Combine(_dir, "out", "notes.txt"), "mine");
        var e = Assert.Throws<ArgumentException>(() => Plan(Options(steps: 10)).WriteOrCheck());
        Assert.That(e!.Message, Does.Contain("not empty and holds no plan.json"));
        Assert.That(Directory.GetFiles(Path.Combine(_dir, "out")).Select(Path.GetFileName), Is.EqualTo(new[] { "notes.txt" }));
    }

    [Test]
    public void TheCommandRefusesBadArgumentsInOneLineAndWritesNothing()
    {
        string[] Args(params string[] more) =>
            ["experiment", "rtd-vs-mlm", "--data", Path.Combine(_dir, "shards"), "--glue", Path.Combine(_dir, "glue"), "--out", Path.Combine(_dir, "out"), "--device", "cpu", .. more];
        var (code, _, error) = FineTuneTests.Cli(Args("--steps", "10", "--flops", "1e12"));
        Assert.That((code, error.Trim()), Is.EqualTo((1, "electra experiment rtd-vs-mlm: give --steps or --flops, not both")));
        (code, _, error) = FineTuneTests.Cli(Args("--tasks", "sst2,squad"));
        Assert.That((code, error), Is.EqualTo((1, "electra experiment rtd-vs-mlm: unknown GLUE task 'squad'; expected one of sst2, cola, mrpc, rte, qnli, qqp, mnli, stsb\n")));
        (code, _, error) = FineTuneTests.Cli(Args("--tasks", "rte"));
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain("rte: ").And.Contain("train.tsv not found"));
        (code, _, error) = FineTuneTests.Cli(Args("--finetune-epochs", "0"));
        Assert.That((code, error.Trim()), Is.EqualTo((1, "electra experiment rtd-vs-mlm: --finetune-epochs must be at least 1, got 0")));
        Assert.That(Directory.Exists(Path.Combine(_dir, "out")), Is.False);
    }

    [Test]
    public void FirstDifferenceNamesThePath()
    {
        var a = JsonNode.Parse("""{"x": 1, "y": {"z": [1, 2]}}""");
        Assert.That(RtdVsMlmPlan.FirstDifference(a, JsonNode.Parse("""{"x": 1, "y": {"z": [1, 2]}}"""), ""), Is.Null);
        Assert.That(RtdVsMlmPlan.FirstDifference(a, JsonNode.Parse("""{"x": 1, "y": {"z": [1, 3]}}"""), ""), Is.EqualTo("y.z[1]: 2 there, 3 now"));
        Assert.That(RtdVsMlmPlan.FirstDifference(a, JsonNode.Parse("""{"x": 1, "y": {"z": [1]}}"""), ""), Is.EqualTo("y.z: [1,2] there, [1] now"));
        Assert.That(RtdVsMlmPlan.FirstDifference(a, JsonNode.Parse("""{"y": {"z": [1, 2]}}"""), ""), Is.EqualTo("x: 1 there, absent now"));
    }
}
