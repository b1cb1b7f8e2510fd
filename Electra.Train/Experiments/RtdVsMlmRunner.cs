using System.Diagnostics;
using Electra.Model;
using Electra.Model.Checkpoints;
using Electra.Train.Data;
using Electra.Train.FineTuning;
using Electra.Train.Glue;
using Electra.Train.Pretraining;

namespace Electra.Train.Experiments;

/// <summary>How the experiment ended this time.</summary>
public enum ExperimentOutcome
{
    Completed,
    Interrupted,
    Failed,
}

/// <summary>
/// Runs a <see cref="RtdVsMlmPlan"/> sub-run by sub-run through the ordinary pretraining and fine-tuning runners, and
/// writes the results once all are done. What a sub-run's folder holds decides what happens to it, so the same call
/// again continues where the last one stopped:
/// <list type="bullet">
/// <item>pretraining: a checkpoint at the planned step is finished; one at an earlier step is resumed (exactly, as
/// <c>pretrain --resume</c> does); no checkpoint starts afresh;</item>
/// <item>the untrained weights: written once, then kept;</item>
/// <item>fine-tuning: result.json (written last) marks it finished; a folder without one was interrupted and starts
/// over, as fine-tuning runs are short and the runner has no resume.</item>
/// </list>
/// </summary>
public sealed class RtdVsMlmRunner
{
    private readonly WordPieceTokenizer _tokenizer;
    private readonly Device _device;
    private readonly SpecialTokens _special;
    private readonly IReadOnlyList<SubRun> _runs;
    private readonly Dictionary<string, (List<EncodedExample> Train, List<EncodedExample> Dev)> _encoded = new();
    private ExperimentTimings? _timings;
    private WorkEstimate? _work;
    private Action<ExperimentProgress>? _report;

    public RtdVsMlmRunner(RtdVsMlmPlan plan, WordPieceTokenizer tokenizer, Device device, string deviceNote)
    {
        Plan = plan;
        _tokenizer = tokenizer;
        _device = device;
        DeviceNote = deviceNote;
        _special = new SpecialTokens(tokenizer.PadId, tokenizer.UnkId, tokenizer.ClsId, tokenizer.SepId, tokenizer.MaskId);
        _runs = plan.SubRuns();
    }

    public RtdVsMlmPlan Plan { get; }
    public string DeviceNote { get; }
    public IReadOnlyList<SubRun> SubRuns => _runs;

    /// <summary>Lines worth telling the user once (data splits); null prints nothing.</summary>
    public Action<string>? Note { get; set; }

    /// <summary>Why the run stopped, when it returned <see cref="ExperimentOutcome.Failed"/>.</summary>
    public string? FailureMessage { get; private set; }

    public RtdVsMlmResults? Results { get; private set; }

    /// <summary>The plan (built with <see cref="RtdVsMlmPlan.Make"/>) for <paramref name="options"/>, with the configs resolved.</summary>
    public static RtdVsMlmPlan MakePlan(RtdVsMlmOptions options, WordPieceTokenizer tokenizer)
    {
        var disc = (options.Discriminator ?? ElectraConfig.Preset(options.Preset) with { VocabSize = tokenizer.VocabSize }) with { PadTokenId = tokenizer.PadId };
        disc.Validate("discriminator config");
        if (tokenizer.VocabSize > disc.VocabSize)
            throw new ArgumentException($"the vocabulary has {tokenizer.VocabSize} tokens but the model has vocab_size {disc.VocabSize}");
        var gen = (options.Generator ?? disc.Generator()) with { PadTokenId = tokenizer.PadId };
        var splitDir = Path.Combine(options.OutDir, "glue");
        var tasks = options.Tasks.Select(name => GlueDevSplit.Locate(GlueTask.Get(name), options.GlueDir, splitDir, options.DevFraction)).ToList();
        return RtdVsMlmPlan.Make(options, disc, gen, tasks);
    }

    public ExperimentOutcome Run(Action<ExperimentProgress>? report = null, CancellationToken cancel = default)
    {
        _report = report;
        Plan.WriteOrCheck();
        foreach (var task in Plan.Tasks)
            if (GlueDevSplit.Write(task) is { } note) Note?.Invoke(note);
        _timings = new ExperimentTimings(Plan.OutDir);
        foreach (var task in Plan.Tasks) Encode(task);
        _work = new WorkEstimate(_runs.Select(r => (Estimate(r), r.Kind != SubRunKind.FineTune)).ToList());

        for (int i = 0; i < _runs.Count; i++)
        {
            if (cancel.IsCancellationRequested) return ExperimentOutcome.Interrupted;
            var outcome = _runs[i].Kind switch
            {
                SubRunKind.Pretrain => Pretrain(i, cancel),
                SubRunKind.Init => WriteInitialWeights(i),
                _ => FineTune(i, cancel),
            };
            _work.EndCurrent();
            if (outcome != ExperimentOutcome.Completed) return outcome;
        }
        Results = RtdVsMlmResults.Collect(Plan, _timings, DeviceNote);
        Results.WriteAll(Plan.OutDir);
        return ExperimentOutcome.Completed;
    }

    private void Report(int index, ProgressPhase phase, string line) =>
        _report?.Invoke(new ExperimentProgress(index + 1, _runs.Count, _runs[index], phase, line, _work!.Fraction, _work.Eta));

    // ---- pretraining --------------------------------------------------------------------------------------------

    private ExperimentOutcome Pretrain(int index, CancellationToken cancel)
    {
        var run = _runs[index];
        var settings = run.Source == "rtd" ? Plan.Rtd : Plan.Mlm;
        double perStep = (run.Source == "rtd" ? Plan.RtdStep : Plan.MlmStep).Training;
        var checkpoint = Path.Combine(run.Dir, "checkpoint");
        long? step = CheckpointStep(checkpoint, settings);
        if (step == settings.Steps)
        {
            _work!.MarkDone(index, step.Value * perStep);
            Report(index, ProgressPhase.Skipped, $"finished earlier ({settings.Steps} steps)");
            return ExperimentOutcome.Completed;
        }
        if (step is null && Directory.Exists(run.Dir))
        {
            // Stopped before its first checkpoint: nothing to continue from, so the folder's partial log goes.
            Directory.Delete(run.Dir, recursive: true);
            _timings!.Remove(run.Name);
        }

        using var runner = new PretrainRunner(settings, Plan.Discriminator, run.Source == "rtd" ? Plan.Generator : null, _device, _special,
            step is null ? null : checkpoint);
        long startStep = runner.Step;
        double timeBefore = _timings![run.Name] ?? 0;
        Report(index, ProgressPhase.Started, startStep > 0
            ? $"resuming at step {startStep} of {settings.Steps}"
            : $"{settings.Objective.ToString().ToUpperInvariant()} pretraining, {settings.Steps} steps × {TrainingFlops.Format(perStep)}");
        var clock = Stopwatch.StartNew();
        var outcome = runner.Run(r =>
        {
            _work!.Progress(index, startStep * perStep, (r.Step + 1 - startStep) * perStep, r.Elapsed.TotalSeconds);
            if (r.Metrics is null) return;
            _timings.Set(run.Name, timeBefore + clock.Elapsed.TotalSeconds);
            Report(index, ProgressPhase.Step, ProgressView.Line(r));
        }, cancel);
        _timings.Set(run.Name, timeBefore + clock.Elapsed.TotalSeconds);
        switch (outcome)
        {
            case RunOutcome.Completed:
                Report(index, ProgressPhase.Finished, $"done in {ExperimentProgress.Format(clock.Elapsed)}; checkpoint {runner.CheckpointDir}");
                return ExperimentOutcome.Completed;
            case RunOutcome.Interrupted:
                Report(index, ProgressPhase.Finished, $"interrupted at step {runner.Step}; checkpoint saved");
                return ExperimentOutcome.Interrupted;
            default:
                var (at, value) = runner.DivergedAt!.Value;
                FailureMessage = $"{run.Name}: the loss or gradient norm became {value} at step {at}; its last good checkpoint is in {runner.CheckpointDir}. " +
                    "Try a lower --lr or a longer --warmup (in a new --out).";
                return ExperimentOutcome.Failed;
        }
    }

    /// <summary>
    /// The step of the run's checkpoint, or null when it has none. A checkpoint of other settings (a hand-copied
    /// folder, say) is refused by name rather than continued.
    /// </summary>
    public static long? CheckpointStep(string checkpoint, PretrainSettings planned)
    {
        try
        {
            PretrainCheckpoint.Locate(checkpoint);     // the checkpoint, or the complete old one of an interrupted swap
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        var state = PretrainCheckpoint.ReadState(checkpoint);
        var s = state.Settings;
        var differences = new List<string>();
        void Check<T>(string name, T there, T here)
        {
            if (!EqualityComparer<T>.Default.Equals(there, here)) differences.Add($"{name} {there} (planned {here})");
        }
        Check("objective", s.Objective, planned.Objective);
        Check("steps", s.Steps, planned.Steps);
        Check("batch", s.Batch, planned.Batch);
        Check("seq", s.Seq, planned.Seq);
        Check("lr", s.Lr, planned.Lr);
        Check("warmup", s.Warmup, planned.Warmup);
        Check("seed", s.Seed, planned.Seed);
        if (differences.Count > 0)
            throw new ArgumentException($"{checkpoint} was trained with other settings: {string.Join(", ", differences)}; delete it to start that run over");
        if (state.Step > planned.Steps)
            throw new InvalidDataException($"{checkpoint} is at step {state.Step}, past the planned {planned.Steps}");
        return state.Step;
    }

    // ---- the untrained weights ----------------------------------------------------------------------------------

    /// <summary>
    /// The discriminator exactly as RTD pretraining starts it (same configs, seed and construction as
    /// <see cref="PretrainRunner"/>), saved untrained: fine-tuning it is the "no pretraining" row.
    /// </summary>
    private ExperimentOutcome WriteInitialWeights(int index)
    {
        var run = _runs[index];
        var dir = Plan.EncoderDir("scratch");
        if (File.Exists(Path.Combine(dir, HfCheckpoint.ConfigFile)) && File.Exists(Path.Combine(dir, HfCheckpoint.WeightsFile)))
        {
            Report(index, ProgressPhase.Skipped, "untrained weights written earlier");
            return ExperimentOutcome.Completed;
        }
        Report(index, ProgressPhase.Started, "the discriminator as RTD pretraining initialises it, untrained");
        var clock = Stopwatch.StartNew();
        var staging = run.Dir + ".tmp";
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        if (Directory.Exists(run.Dir)) Directory.Delete(run.Dir, recursive: true);
        using (var model = InitialModel(Plan, _special, _device))
            HfCheckpoint.Save(Path.Combine(staging, PretrainCheckpoint.DiscriminatorDir), model.Discriminator!, model.DiscriminatorConfig);
        Directory.Move(staging, run.Dir);
        _timings!.Set(run.Name, clock.Elapsed.TotalSeconds);
        Report(index, ProgressPhase.Finished, $"written to {dir}");
        return ExperimentOutcome.Completed;
    }

    /// <summary>RTD's model before its first step, built as <see cref="PretrainRunner"/> builds it.</summary>
    public static Pretrainer InitialModel(RtdVsMlmPlan plan, SpecialTokens special, Device device) =>
        new(plan.Discriminator, plan.Generator, new PretrainOptions { Objective = Objective.Rtd, Seed = plan.Rtd.Seed, Special = special },
            device, initSeed: (int)(plan.Rtd.Seed & 0x7FFFFFFF));

    // ---- fine-tuning --------------------------------------------------------------------------------------------

    private void Encode(GlueTaskData task)
    {
        var train = GlueReader.ReadSplit(task.Task, task.Dir, dev: false).Examples;
        var dev = GlueReader.ReadSplit(task.Task, task.Dir, dev: true).Examples;
        var limited = Plan.TrainLimit is int n ? train.Take(n) : train;
        _encoded[task.Task.Name] = (PairEncoder.EncodeAll(_tokenizer, limited, Plan.FineTune.Seq), PairEncoder.EncodeAll(_tokenizer, dev, Plan.FineTune.Seq));
    }

    private ExperimentOutcome FineTune(int index, CancellationToken cancel)
    {
        var run = _runs[index];
        var task = run.Task!.Task;
        if (File.Exists(Path.Combine(run.Dir, FineTuneRecord.FileName)))
        {
            var done = FineTuneRecord.Load(run.Dir);
            _work!.MarkDone(index, Estimate(run));
            Report(index, ProgressPhase.Skipped, $"finished earlier: dev {Metrics(done.Final)}");
            return ExperimentOutcome.Completed;
        }
        bool restart = Directory.Exists(run.Dir);
        if (restart) Directory.Delete(run.Dir, recursive: true);

        var (train, dev) = _encoded[task.Name];
        var (classifier, _) = ModelLoading.ClassifierFromEncoder(Plan.EncoderDir(run.Source), task.NumLabels, _device, (int)(run.Seed & 0x7FFFFFFF));
        using var _ = classifier;
        using var runner = new FineTuneRunner(classifier, task, train, dev, _tokenizer.PadId, Plan.FineTune with { Seed = run.Seed, OutDir = run.Dir });
        double total = Estimate(run);
        Report(index, ProgressPhase.Started, $"{(restart ? "starting over (interrupted earlier): " : "")}{RtdVsMlmResults.Labels[run.Source]} on {task.Name}, " +
            $"seed {run.Seed}: {train.Count:N0} train, {dev.Count:N0} dev, {runner.TotalSteps} steps");
        var clock = Stopwatch.StartNew();
        FineTuneResult result;
        try
        {
            result = runner.Run(r =>
            {
                _work!.Progress(index, 0, total * r.Step / runner.TotalSteps, r.Elapsed.TotalSeconds);
                Report(index, ProgressPhase.Step, r.Dev is null ? FineTuneProgress.Line(r) : FineTuneProgress.EpochLine(r));
            }, cancel);
        }
        catch (OperationCanceledException)
        {
            Report(index, ProgressPhase.Finished, "interrupted; this fine-tuning run starts over next time");
            return ExperimentOutcome.Interrupted;
        }
        catch (InvalidOperationException e) when (e.Message.StartsWith("fine-tuning diverged", StringComparison.Ordinal))
        {
            FailureMessage = $"{run.Name}: {e.Message}; rerun with a lower --finetune-lr in a new --out";
            return ExperimentOutcome.Failed;
        }
        var record = new FineTuneRecord(run.Source, task.Name, run.Seed, result.PerEpoch.Select(e => e.Metrics).ToList(), result.Steps,
            train.Count, dev.Count, clock.Elapsed.TotalSeconds);
        record.Save(run.Dir);
        Report(index, ProgressPhase.Finished, $"dev {Metrics(record.Final)} after epoch {record.PerEpoch.Count} in {ExperimentProgress.Format(clock.Elapsed)}");
        return ExperimentOutcome.Completed;
    }

    private static string Metrics(IReadOnlyList<GlueMetric> metrics) => string.Join(", ", metrics.Select(m => $"{m.Name} {RtdVsMlmResults.Score(m.Value)}"));

    /// <summary>
    /// A sub-run's work in FLOPs: pretraining as counted; fine-tuning estimated from the encoded lengths (training
    /// forward + backward on every example each epoch, one dev pass per epoch; padding left out).
    /// </summary>
    private double Estimate(SubRun run)
    {
        switch (run.Kind)
        {
            case SubRunKind.Pretrain:
                return Plan.PretrainFlops(run.Source);
            case SubRunKind.Init:
                return 0;
            default:
                var (train, dev) = _encoded[run.Task!.Task.Name];
                int labels = run.Task.Task.NumLabels;
                double Pass(List<EncodedExample> examples) => examples.Sum(e => TrainingFlops.ClassifierForward(Plan.Discriminator, e.Ids.Length, labels));
                return Plan.FineTune.Epochs * (3 * Pass(train) + Pass(dev));
        }
    }
}
