using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Electra.Model;
using Electra.Train.FineTuning;
using Electra.Train.Glue;
using Electra.Train.Pretraining;

namespace Electra.Train.Experiments;

/// <summary>What a sub-run does: pretrain, write the untrained starting weights, or fine-tune one model.</summary>
public enum SubRunKind
{
    Pretrain,
    Init,
    FineTune,
}

/// <summary>
/// One step of the experiment, an ordinary run directory under the experiment's folder. <see cref="Source"/> names
/// the encoder: "rtd", "mlm", or "scratch" (the discriminator as RTD pretraining initialised it, never trained).
/// </summary>
public sealed record SubRun(string Name, SubRunKind Kind, string Dir, string Source, GlueTaskData? Task = null, ulong Seed = 0);

/// <summary>
/// The whole experiment, fixed before anything runs: both pretraining runs (RTD for N steps, MLM for the steps of
/// equal training FLOPs), the fine-tuning settings, tasks and seeds, and the sub-runs in the order they run. Its JSON
/// form (plan.json) records everything that decides the results, so a rerun with other arguments into the same
/// folder is refused rather than mixed with the old runs.
/// </summary>
public sealed record RtdVsMlmPlan(
    string OutDir,
    ElectraConfig Discriminator,
    ElectraConfig Generator,
    PretrainSettings Rtd,
    PretrainSettings Mlm,
    StepFlops RtdStep,
    StepFlops MlmStep,
    IReadOnlyList<GlueTaskData> Tasks,
    IReadOnlyList<ulong> Seeds,
    FineTuneSettings FineTune,
    int? TrainLimit)
{
    public const string FileName = "plan.json";
    public static readonly string[] Sources = ["rtd", "mlm", "scratch"];

    public double RtdFlops => Rtd.Steps * RtdStep.Training;
    public double MlmFlops => Mlm.Steps * MlmStep.Training;

    /// <summary>
    /// The MLM baseline's steps: the number whose training FLOPs come nearest to <paramref name="budget"/> (at least one).
    /// </summary>
    public static long StepsFor(double budget, double flopsPerStep)
    {
        if (!(budget > 0) || !double.IsFinite(budget)) throw new ArgumentException($"--flops must be a positive number, got {budget}");
        return Math.Max(1, (long)Math.Round(budget / flopsPerStep, MidpointRounding.AwayFromZero));
    }

    public static RtdVsMlmPlan Make(RtdVsMlmOptions o, ElectraConfig discriminator, ElectraConfig generator, IReadOnlyList<GlueTaskData> tasks)
    {
        if (o.Steps is not null && o.Flops is not null) throw new ArgumentException("give --steps or --flops, not both");
        if (o.Seeds < 1) throw new ArgumentException($"--seeds must be at least 1, got {o.Seeds}");
        if (tasks.Count == 0) throw new ArgumentException("--tasks names no task");
        if (tasks.Select(t => t.Task.Name).Distinct().Count() != tasks.Count) throw new ArgumentException("--tasks names a task twice");
        var preset = PretrainSettings.ForPreset(o.Preset);
        int batch = o.Batch ?? preset.Batch, seq = o.Seq ?? preset.Seq;
        if (batch < 1) throw new ArgumentException($"--batch must be at least 1, got {batch}");
        if (seq < 8) throw new ArgumentException($"--seq must be at least 8, got {seq}");
        var rtdStep = TrainingFlops.PretrainStep(Objective.Rtd, discriminator, generator, batch, seq);
        var mlmStep = TrainingFlops.PretrainStep(Objective.Mlm, discriminator, null, batch, seq);

        long rtdSteps = o.Flops is double f ? StepsFor(f, rtdStep.Training) : o.Steps ?? preset.Steps;
        if (rtdSteps < 1) throw new ArgumentException($"--steps must be at least 1, got {rtdSteps}");
        long mlmSteps = StepsFor(o.Flops ?? rtdSteps * rtdStep.Training, mlmStep.Training);

        string outDir = Path.GetFullPath(o.OutDir);
        PretrainSettings Settings(Objective objective, long steps, string name) => preset with
        {
            Objective = objective,
            Steps = steps,
            Batch = batch,
            Seq = seq,
            Lr = o.Lr ?? preset.Lr,
            // As `electra pretrain` does: the preset's warmup, but never more than a tenth of a short run.
            Warmup = o.Warmup ?? Math.Min(preset.Warmup, Math.Max(1, steps / 10)),
            Seed = o.Seed,
            LogEvery = o.LogEvery ?? preset.LogEvery,
            SaveEvery = o.SaveEvery ?? preset.SaveEvery,
            DataDir = Path.GetFullPath(o.DataDir),
            OutDir = Path.Combine(outDir, name),
        };
        var rtd = Settings(Objective.Rtd, rtdSteps, "pretrain-rtd");
        var mlm = Settings(Objective.Mlm, mlmSteps, "pretrain-mlm");
        if (!(rtd.Lr > 0) || !float.IsFinite(rtd.Lr)) throw new ArgumentException($"--lr must be positive, got {rtd.Lr}");
        if (rtd.Warmup < 0) throw new ArgumentException($"--warmup must not be negative, got {rtd.Warmup}");
        if (rtd.LogEvery < 1 || rtd.SaveEvery < 1) throw new ArgumentException("--log-every and --save-every must be at least 1");
        if (o.TrainLimit is < 1) throw new ArgumentException($"--train-limit must be at least 1, got {o.TrainLimit}");
        var seeds = Enumerable.Range(1, o.Seeds).Select(s => (ulong)s).ToList();
        return new RtdVsMlmPlan(outDir, discriminator, generator, rtd, mlm, rtdStep, mlmStep, tasks, seeds, o.FineTune.Validate(), o.TrainLimit);
    }

    /// <summary>
    /// Pretraining first (RTD, MLM, the untrained weights), then fine-tuning seed by seed, so that an experiment
    /// stopped half-way has every model's first seeds rather than all of one model's.
    /// </summary>
    public IReadOnlyList<SubRun> SubRuns()
    {
        var runs = new List<SubRun>
        {
            new("pretrain-rtd", SubRunKind.Pretrain, Rtd.OutDir, "rtd"),
            new("pretrain-mlm", SubRunKind.Pretrain, Mlm.OutDir, "mlm"),
            new("scratch", SubRunKind.Init, Path.Combine(OutDir, "scratch"), "scratch"),
        };
        foreach (var seed in Seeds)
            foreach (var task in Tasks)
                foreach (var source in Sources)
                {
                    var name = $"{source}-{task.Task.Name}-seed{seed}";
                    runs.Add(new SubRun("finetune/" + name, SubRunKind.FineTune, Path.Combine(OutDir, "finetune", name), source, task, seed));
                }
        return runs;
    }

    /// <summary>The HF directory holding the encoder that <paramref name="source"/> names.</summary>
    public string EncoderDir(string source) => source switch
    {
        "rtd" => Path.Combine(Rtd.OutDir, "checkpoint", PretrainCheckpoint.DiscriminatorDir),
        "mlm" => Path.Combine(Mlm.OutDir, "checkpoint", PretrainCheckpoint.GeneratorDir),   // the MLM run's one network
        "scratch" => Path.Combine(OutDir, "scratch", PretrainCheckpoint.DiscriminatorDir),
        _ => throw new ArgumentException($"unknown model source '{source}'"),
    };

    public double PretrainFlops(string source) => source switch { "rtd" => RtdFlops, "mlm" => MlmFlops, _ => 0 };

    public long PretrainSteps(string source) => source switch { "rtd" => Rtd.Steps, "mlm" => Mlm.Steps, _ => 0 };

    // ---- plan.json ----------------------------------------------------------------------------------------------

    /// <summary>Everything that decides the results, with fingerprints of the data files read.</summary>
    public JsonObject ToJson()
    {
        static JsonObject Pretrain(PretrainSettings s, StepFlops step) => new()
        {
            ["steps"] = s.Steps,
            ["warmup"] = s.Warmup,
            ["flops_per_step"] = step.Training,
            ["flops"] = s.Steps * step.Training,
        };
        var tasks = new JsonArray();
        foreach (var t in Tasks)
        {
            tasks.Add(new JsonObject
            {
                ["task"] = t.Task.Name,
                ["train"] = t.SourceTrain,
                ["train_sha256"] = Sha256(t.SourceTrain),
                ["dev"] = t.SourceDev,
                ["dev_sha256"] = t.SourceDev is null ? null : Sha256(t.SourceDev),
                ["dev_held_out_of_train"] = t.IsSplit ? t.DevFraction : null,
            });
        }
        return new JsonObject
        {
            ["experiment"] = "rtd-vs-mlm",
            ["format"] = 1,
            ["preset"] = Rtd.Preset,
            ["discriminator"] = JsonNode.Parse(Discriminator.ToJson()),
            ["generator"] = JsonNode.Parse(Generator.ToJson()),
            ["data"] = Rtd.DataDir,
            ["data_manifest_sha256"] = Sha256(Path.Combine(Rtd.DataDir!, Data.ShardManifest.FileName)),
            ["batch"] = Rtd.Batch,
            ["seq"] = Rtd.Seq,
            ["lr"] = Rtd.Lr,
            ["seed"] = Rtd.Seed,
            ["rtd"] = Pretrain(Rtd, RtdStep),
            ["mlm"] = Pretrain(Mlm, MlmStep),
            ["tasks"] = tasks,
            ["seeds"] = new JsonArray(Seeds.Select(s => (JsonNode)s).ToArray()),
            ["finetune"] = new JsonObject
            {
                ["epochs"] = FineTune.Epochs,
                ["lr"] = FineTune.Lr,
                ["layer_decay"] = FineTune.LayerDecay,
                ["batch"] = FineTune.Batch,
                ["seq"] = FineTune.Seq,
                ["warmup_fraction"] = FineTune.WarmupFraction,
                ["weight_decay"] = FineTune.WeightDecay,
                ["clip_norm"] = FineTune.ClipNorm,
                ["train_limit"] = TrainLimit,
            },
        };
    }

    /// <summary>
    /// Writes plan.json into a new experiment folder, or checks that the one there describes this same experiment;
    /// a difference is an error naming the first field that differs.
    /// </summary>
    public void WriteOrCheck()
    {
        var path = Path.Combine(OutDir, FileName);
        var mine = JsonNode.Parse(ToJson().ToJsonString())!;      // numbers as they read back from the file
        if (File.Exists(path))
        {
            JsonNode? theirs;
            try { theirs = JsonNode.Parse(File.ReadAllText(path)); }
            catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message}); delete the folder to start over"); }
            var difference = FirstDifference(theirs, mine, "");
            if (difference is not null)
                throw new ArgumentException(
                    $"{OutDir} holds another experiment ({difference}); use another --out, or delete {OutDir} to start over");
            return;
        }
        if (Directory.Exists(OutDir) && Directory.EnumerateFileSystemEntries(OutDir).Any())
            throw new ArgumentException($"{OutDir} is not empty and holds no {FileName}: not an experiment folder; use another --out");
        Directory.CreateDirectory(OutDir);
        File.WriteAllText(path + ".tmp", mine.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>"rtd.steps: 600 there, 800 now", or null when the two are the same.</summary>
    public static string? FirstDifference(JsonNode? there, JsonNode? now, string at)
    {
        string Name(string key) => at.Length == 0 ? key : $"{at}.{key}";
        switch (there, now)
        {
            case (JsonObject a, JsonObject b):
                foreach (var key in a.Select(p => p.Key).Union(b.Select(p => p.Key)))
                    if (FirstDifference(a[key], b[key], Name(key)) is { } d) return d;
                return null;
            case (JsonArray a, JsonArray b) when a.Count == b.Count:
                for (int i = 0; i < a.Count; i++)
                    if (FirstDifference(a[i], b[i], $"{at}[{i}]") is { } d) return d;
                return null;
            default:
                return JsonNode.DeepEquals(there, now) ? null : $"{(at.Length == 0 ? "plan" : at)}: {Show(there)} there, {Show(now)} now";
        }
        static string Show(JsonNode? n) => n?.ToJsonString() ?? "absent";
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"RTD {Rtd.Steps} steps × {TrainingFlops.Format(RtdStep.Training)} = {TrainingFlops.Format(RtdFlops)}; MLM {Mlm.Steps} steps × {TrainingFlops.Format(MlmStep.Training)} = {TrainingFlops.Format(MlmFlops)}");
}
