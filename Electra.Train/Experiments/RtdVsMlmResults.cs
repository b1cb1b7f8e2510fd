using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Electra.Train.Reporting;

namespace Electra.Train.Experiments;

/// <summary>One pretraining run of the comparison: its length, its counted compute, its wall time and its logged curve.</summary>
public sealed record PretrainRecord(string Objective, long Steps, double FlopsPerStep, double? WallSeconds, IReadOnlyList<MetricsRecord> Curve)
{
    public double Flops => Steps * FlopsPerStep;
}

/// <summary>A task as the results describe it: its reported metric and where its dev set came from.</summary>
public sealed record TaskInfo(string Name, string Metric, string Dev);

/// <summary>Mean and sample standard deviation (n − 1; NaN for one seed) of one model's final dev scores on one task.</summary>
public sealed record ScoreSummary(string Source, string Task, int N, double Mean, double Sd, double Min, double Max);

/// <summary>
/// Everything the experiment reports, gathered from its sub-run folders: results.md (the table), results.json (every
/// run's numbers) and results.png (<see cref="RtdVsMlmPlot"/>).
/// </summary>
public sealed record RtdVsMlmResults(
    string Preset,
    string Device,
    string PretrainSettings,
    string FineTuneSettings,
    IReadOnlyList<TaskInfo> Tasks,
    IReadOnlyList<ulong> Seeds,
    IReadOnlyList<PretrainRecord> Pretraining,
    IReadOnlyList<FineTuneRecord> Runs,
    double? InitWallSeconds = null)
{
    public static readonly IReadOnlyDictionary<string, string> Labels = new Dictionary<string, string>
    {
        ["rtd"] = "ELECTRA (RTD)",
        ["mlm"] = "MLM baseline",
        ["scratch"] = "no pretraining",
    };

    public IEnumerable<string> Sources => RtdVsMlmPlan.Sources.Where(s => Runs.Any(r => r.Source == s));

    public static RtdVsMlmResults Collect(RtdVsMlmPlan plan, ExperimentTimings timings, string device)
    {
        var runs = plan.SubRuns();
        var pretraining = runs.Where(r => r.Kind == SubRunKind.Pretrain).Select(r => new PretrainRecord(
            r.Source, plan.PretrainSteps(r.Source), r.Source == "rtd" ? plan.RtdStep.Training : plan.MlmStep.Training, timings[r.Name],
            MetricsLog.Read(Path.Combine(r.Dir, "metrics.jsonl")))).ToList();
        var finetunes = runs.Where(r => r.Kind == SubRunKind.FineTune).Select(r => FineTuneRecord.Load(r.Dir)).ToList();
        var tasks = plan.Tasks.Select(t => new TaskInfo(
            t.Task.Name,
            string.Join("+", finetunes.First(r => r.Task == t.Task.Name).Final.Select(m => m.Name)),
            (t.IsSplit ? $"{t.DevFraction * 100:0.##}% of {t.SourceTrain} held out (smallest FNV-1a 64 hashes of the row text)" : t.SourceDev!)
                + DevBaseline(t))).ToList();
        var p = plan.Rtd;
        var f = plan.FineTune;
        return new RtdVsMlmResults(
            p.Preset, device,
            FormattableString.Invariant(
                $"B={p.Batch} T={p.Seq}, peak lr {p.Lr}, warmup RTD {plan.Rtd.Warmup} / MLM {plan.Mlm.Warmup} steps, seed {p.Seed}, data {p.DataDir}"),
            FormattableString.Invariant($"{f.Epochs} epochs, lr {f.Lr}, layer decay {f.LayerDecay}, batch {f.Batch}, T≤{f.Seq}, warmup {f.WarmupFraction * 100:0.##}% of the steps")
                + (plan.TrainLimit is int n ? $", first {n:N0} training rows" : ", all training rows"),
            tasks, plan.Seeds, pretraining, finetunes, timings["scratch"]);
    }

    /// <summary>" (855 rows, 69% of them label 1)": what always answering the commonest label would score in accuracy.</summary>
    private static string DevBaseline(Glue.GlueTaskData t)
    {
        var dev = Glue.GlueReader.ReadSplit(t.Task, t.Dir, dev: true).Examples;
        if (t.Task.IsRegression || dev.Count == 0) return $" ({dev.Count:N0} rows)";
        var commonest = dev.GroupBy(e => e.Label).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First();
        return $" ({dev.Count:N0} rows, {100.0 * commonest.Count() / dev.Count:0.0}% of them label {t.Task.Labels[commonest.Key]})";
    }

    public IReadOnlyList<ScoreSummary> Summaries() => Runs
        .GroupBy(r => (r.Source, r.Task))
        .Select(g =>
        {
            var scores = g.Select(r => r.FinalScore).ToList();
            double mean = scores.Average();
            double sd = scores.Count > 1 ? Math.Sqrt(scores.Sum(s => (s - mean) * (s - mean)) / (scores.Count - 1)) : double.NaN;
            return new ScoreSummary(g.Key.Source, g.Key.Task, scores.Count, mean, sd, scores.Min(), scores.Max());
        })
        .OrderBy(s => Array.IndexOf(RtdVsMlmPlan.Sources, s.Source)).ThenBy(s => Tasks.ToList().FindIndex(t => t.Name == s.Task))
        .ToList();

    public void WriteAll(string dir)
    {
        File.WriteAllText(Path.Combine(dir, "results.md"), ToMarkdown());
        File.WriteAllText(Path.Combine(dir, "results.json"), ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        RtdVsMlmPlot.Render(this, Path.Combine(dir, "results.png"));
    }

    // ---- results.md ---------------------------------------------------------------------------------------------

    public string ToMarkdown()
    {
        var summaries = Summaries();
        var md = new StringBuilder();
        md.AppendLine("# RTD vs MLM at equal pretraining compute");
        md.AppendLine();
        md.AppendLine($"Preset {Preset} on {Device}. Pretraining: {PretrainSettings}. Fine-tuning: {FineTuneSettings}.");
        md.AppendLine();
        md.Append("| model | pretraining steps | training FLOPs | pretraining wall |");
        foreach (var t in Tasks) md.Append($" {t.Name} dev {t.Metric} |");
        md.AppendLine(" fine-tuning wall |");
        md.Append("|---|---:|---:|---:|");
        foreach (var _ in Tasks) md.Append("---:|");
        md.AppendLine("---:|");
        foreach (var source in Sources)
        {
            var pre = Pretraining.FirstOrDefault(p => p.Objective == source);
            md.Append($"| {Labels[source]} | {pre?.Steps.ToString("N0", CultureInfo.InvariantCulture) ?? "0"} | {(pre is null ? "0" : TrainingFlops.Format(pre.Flops))} | {(pre is null ? "—" : Wall(pre.WallSeconds))} |");
            foreach (var t in Tasks)
            {
                var s = summaries.FirstOrDefault(x => x.Source == source && x.Task == t.Name);
                md.Append($" {(s is null ? "—" : MeanSd(s))} |");
            }
            md.AppendLine($" {Wall(Runs.Where(r => r.Source == source).Sum(r => r.WallSeconds))} |");
        }
        md.AppendLine();
        md.AppendLine($"Each score: the dev metric after the last fine-tuning epoch (no epoch chosen on dev), mean ± sample standard " +
            $"deviation over fine-tuning seeds {string.Join(", ", Seeds)} — the same seeds for every model. Training FLOPs: the matrix " +
            "products of forward + backward counted from the shapes, the RTD generator's included; the MLM baseline trains a " +
            "discriminator-sized masked LM for the steps whose FLOPs come nearest RTD's. \"No pretraining\" fine-tunes the " +
            "discriminator exactly as RTD pretraining initialised it.");
        md.AppendLine();
        foreach (var t in Tasks) md.AppendLine($"- {t.Name} dev set: {t.Dev}");
        md.AppendLine();
        md.AppendLine("## Every run");
        md.AppendLine();
        md.Append("| task | model |");
        foreach (var seed in Seeds) md.Append($" seed {seed} |");
        md.AppendLine(" best epoch per seed |");
        md.Append("|---|---|");
        foreach (var _ in Seeds) md.Append("---:|");
        md.AppendLine("---|");
        foreach (var t in Tasks)
            foreach (var source in Sources)
            {
                var runs = Seeds.Select(seed => Runs.FirstOrDefault(r => r.Source == source && r.Task == t.Name && r.Seed == seed)).ToList();
                md.Append($"| {t.Name} | {Labels[source]} |");
                foreach (var r in runs) md.Append($" {(r is null ? "—" : Score(r.FinalScore))} |");
                md.AppendLine($" {string.Join(", ", runs.Select(r => r is null ? "—" : $"{r.BestEpoch} ({Score(r.BestScore)})"))} |");
            }
        return md.ToString();
    }

    public static string Score(double v) => double.IsNaN(v) ? "n/a" : v.ToString("F3", CultureInfo.InvariantCulture);

    public static string MeanSd(ScoreSummary s) => s.N > 1 ? $"{Score(s.Mean)} ± {Score(s.Sd)}" : Score(s.Mean);

    /// <summary>"n/a" for a run whose time was not recorded (it was found finished, its timings.json lost).</summary>
    private static string Wall(double? seconds) => seconds is double s ? ExperimentProgress.Format(TimeSpan.FromSeconds(s)) : "n/a";

    // ---- results.json -------------------------------------------------------------------------------------------

    public JsonObject ToJson()
    {
        static JsonNode? Num(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;
        var pretraining = new JsonArray();
        foreach (var p in Pretraining)
        {
            var last = p.Curve.Count > 0 ? p.Curve[^1] : null;
            var final = new JsonObject();
            if (last is not null) foreach (var (k, v) in last.Values) final[k] = Num(v);
            pretraining.Add(new JsonObject
            {
                ["objective"] = p.Objective,
                ["steps"] = p.Steps,
                ["flops_per_step"] = p.FlopsPerStep,
                ["flops"] = p.Flops,
                ["wall_s"] = p.WallSeconds is double w ? Math.Round(w, 1) : null,
                ["last_logged"] = final,
            });
        }
        var runs = new JsonArray();
        foreach (var r in Runs)
        {
            var pre = Pretraining.FirstOrDefault(p => p.Objective == r.Source);
            var o = new JsonObject
            {
                ["objective"] = r.Source,
                ["task"] = r.Task,
                ["seed"] = r.Seed,
                ["pretraining_flops"] = pre?.Flops ?? 0,
                ["metric"] = string.Join("+", r.Final.Select(m => m.Name)),
                ["score"] = Num(r.FinalScore),
                ["best_epoch"] = r.BestEpoch,
                ["best_score"] = Num(r.BestScore),
            };
            foreach (var (k, v) in r.ToJson().Where(p => p.Key is "steps" or "train_examples" or "dev_examples" or "wall_s" or "per_epoch").ToList())
                o[k] = v?.DeepClone();
            runs.Add(o);
        }
        var summary = new JsonArray();
        foreach (var s in Summaries())
        {
            summary.Add(new JsonObject
            {
                ["objective"] = s.Source,
                ["task"] = s.Task,
                ["metric"] = Tasks.First(t => t.Name == s.Task).Metric,
                ["seeds"] = s.N,
                ["mean"] = Num(s.Mean),
                ["sd"] = Num(s.Sd),
                ["min"] = Num(s.Min),
                ["max"] = Num(s.Max),
                ["pretraining_flops"] = Pretraining.FirstOrDefault(p => p.Objective == s.Source)?.Flops ?? 0,
            });
        }
        return new JsonObject
        {
            ["experiment"] = "rtd-vs-mlm",
            ["preset"] = Preset,
            ["device"] = Device,
            ["pretraining_settings"] = PretrainSettings,
            ["finetuning_settings"] = FineTuneSettings,
            ["score"] = "dev metric after the last fine-tuning epoch",
            ["tasks"] = new JsonArray(Tasks.Select(t => (JsonNode)new JsonObject { ["task"] = t.Name, ["metric"] = t.Metric, ["dev"] = t.Dev }).ToArray()),
            ["seeds"] = new JsonArray(Seeds.Select(s => (JsonNode)s).ToArray()),
            ["pretraining"] = pretraining,
            ["init_wall_s"] = InitWallSeconds is double iw ? Math.Round(iw, 1) : null,
            ["summary"] = summary,
            ["runs"] = runs,
        };
    }
}
