using System.Diagnostics;
using Electra.Cuda;
using Electra.Model;
using Electra.Optim;
using Electra.Train.Data;
using Electra.Train.Reporting;
using Electra.Train.Runs;

namespace Electra.Train.Pretraining;

/// <summary>What the loop reports to whoever draws progress (console, tests).</summary>
public sealed record StepReport(long Step, long TotalSteps, PretrainMetrics? Metrics, float Lr, float GradNorm, double TokensPerSecond, TimeSpan Elapsed, TimeSpan Eta);

/// <summary>How a run ended.</summary>
public enum RunOutcome
{
    Completed,
    Interrupted,
    Diverged,
}

/// <summary>
/// The pretraining loop: batches from the shard sampler, the objective's loss, backward, global-norm clipping,
/// ELECTRA's schedule and AdamW (no bias correction), metrics.jsonl every LogEvery steps, checkpoints every SaveEvery
/// steps and at the end. Everything random is a function of (seed, step) and the data cursor is checkpointed, so a
/// resumed run continues exactly where the original would have been.
/// </summary>
public sealed class PretrainRunner : IDisposable
{
    private const string MetricsFile = "metrics.jsonl";
    private static readonly string[] Owned = [MetricsFile, PretrainCheckpoint.RunCheckpointName, PretrainCheckpoint.RunCheckpointName + ".old"];

    private readonly ShardDataset _data = null!;
    private readonly BatchSampler _sampler = null!;
    private readonly AdamW _optimizer = null!;
    private readonly MetricsWriter _log = null!;
    private readonly RunDirectory _run = null!;
    private readonly List<Tensor> _params = null!;
    private readonly List<string> _notices = [];
    private readonly string _dataFingerprint = "";
    private long _step;
    // Where the data stands after the last batch a step consumed: the sampler itself may be a batch ahead of it.
    private BatchCursor _consumed;
    // The next step's batch, drawn and masked on a worker while this step's device work is queued.
    private Task<(MaskedBatch Masked, BatchCursor After)>? _ahead;
    // On CUDA with --cuda-graph on: the backend to capture on (null once capture has failed), the captured step, and
    // how many steps it replayed.
    private CudaBackend? _captureOn;
    private CapturedTrainStep? _graph;
    private long _replayed;

    public PretrainRunner(PretrainSettings settings, ElectraConfig discriminator, ElectraConfig? generator, Device device,
        SpecialTokens special, string? resumeFrom = null)
        : this(settings, discriminator, generator, device, special, new PretrainStart { ResumeFrom = resumeFrom })
    {
    }

    /// <summary>
    /// Checks everything before it writes anything: the settings, the data (its vocabulary against
    /// <see cref="PretrainStart.VocabHash"/>), and for a resumed run that the settings, model configs and data are the
    /// checkpoint's. Then it takes the run directory (see <see cref="RunDirectory"/>): a new run refuses one that holds
    /// files unless <see cref="PretrainStart.Overwrite"/>; a resumed run continues in the checkpoint's own run
    /// directory or starts a new one at <see cref="PretrainSettings.OutDir"/>.
    /// </summary>
    public PretrainRunner(PretrainSettings settings, ElectraConfig discriminator, ElectraConfig? generator, Device device,
        SpecialTokens special, PretrainStart start)
    {
        settings.CheckRunnable();
        if (settings.DataDir is null) throw new ArgumentException("no training data directory given (--data)");
        // The precision is resolved once and stored in every checkpoint, so a resumed run computes as the original did.
        settings = settings with
        {
            DataDir = FullPath(settings.DataDir), OutDir = FullPath(settings.OutDir), Precision = PrecisionChoice.Resolve(settings.Precision, device),
        };
        Settings = settings;
        if (RunLock.LiveOwner(settings.OutDir) is { } owner) throw RunLock.Held(Path.Combine(settings.OutDir, RunLock.FileName), owner);

        TrainerState? resumed = null;
        if (start.ResumeFrom is not null)
        {
            ResumedFrom = PretrainCheckpoint.Find(start.ResumeFrom);
            resumed = PretrainCheckpoint.ReadState(ResumedFrom);
            ResumeChecks.Settings(resumed, settings, ResumedFrom, _notices);
            if (resumed.Settings.Precision is { } was && was != settings.Precision)
                _notices.Add($"--precision {settings.Precision!.Value.Name()}: the checkpoint trained in {was.Name()}; the run continues in {settings.Precision!.Value.Name()}");
            ResumeChecks.Configs(ResumedFrom, resumed.Settings.Objective, discriminator, generator);
            if (!Directory.Exists(settings.DataDir))
                throw new DirectoryNotFoundException(
                    $"--data {settings.DataDir}: not found; the checkpoint was trained on the shards with fingerprint {resumed.DataFingerprint ?? "(not recorded)"}: pass --data with them");
        }
        try
        {
            _data = ShardDataset.Open(settings.DataDir, start.VocabHash);
            if (_data.SeqLen < settings.Seq)
                throw new ArgumentException($"--seq {settings.Seq} is longer than the shards' sequence length {_data.SeqLen} ({settings.DataDir})");
            if (_data.VocabSize > discriminator.VocabSize)
                throw new ArgumentException($"the shards use a vocabulary of {_data.VocabSize} tokens but the model has vocab_size {discriminator.VocabSize}");
            if (settings.Seq > discriminator.MaxPositionEmbeddings)
                throw new ArgumentException($"--seq {settings.Seq} exceeds the model's max_position_embeddings {discriminator.MaxPositionEmbeddings}");
            if (_data.Count < settings.Batch)
                throw new ArgumentException($"{settings.DataDir} holds {_data.Count} examples, fewer than one batch of {settings.Batch}");
            if (_data.Tokenizer != BasicTokenizer.Version)
                _notices.Add($"{settings.DataDir} was tokenized by {(_data.Tokenizer is null ? "an earlier build, which dropped symbols such as $ and £" : _data.Tokenizer)}, " +
                             $"not this build's {BasicTokenizer.Version}: run `electra prepare-data` again for the current tokenization");
            _dataFingerprint = DataFingerprint.Of(settings.DataDir);
            if (resumed is not null) ResumeChecks.Data(resumed, settings.DataDir, _dataFingerprint, _data.VocabHash, _notices);

            // The cap on masked positions scales with the masking rate; the paper's rate keeps the default cap exactly.
            int? maxPredictions = settings.MaskProb == PretrainSettings.DefaultMaskProb ? null : Math.Max(1, (int)Math.Round(settings.MaskProb * settings.Seq));
            var options = new PretrainOptions
            {
                Objective = settings.Objective, Seed = settings.Seed, Special = special,
                Temperature = settings.Temperature, MaskProb = settings.MaskProb, DiscWeight = settings.DiscWeight, MaxPredictions = maxPredictions,
            };
            Model = new Pretrainer(discriminator, generator, options, device, initSeed: (int)(settings.Seed & 0x7FFFFFFF));
            if (Backends.For(device) is CudaBackend cuda)
            {
                // Every CUDA step has the same shapes, graph or not, so eager and replayed steps compute the same bits.
                Model.StaticShapes = true;
                _captureOn = start.CudaGraph ? cuda : null;
                GraphMode = start.CudaGraph ? "on" : "off";
            }
            _optimizer = new AdamW(AdamW.DefaultGroups(Model.NamedParameters(), settings.WeightDecay), eps: 1e-6f, biasCorrection: false);
            _params = _optimizer.Params.ToList();

            var cursor = default(BatchCursor);
            if (ResumedFrom is not null)
            {
                var state = PretrainCheckpoint.Load(ResumedFrom, Model, _optimizer);
                _step = state.Step;
                cursor = new BatchCursor(state.DataEpoch, state.DataPosition);
                if (cursor.Position > _data.Count)
                    throw new InvalidDataException($"{ResumedFrom}: data position {cursor.Position} is beyond the {_data.Count} examples of {settings.DataDir}");
            }
            _sampler = new BatchSampler(_data, settings.Batch, settings.Seed, cursor);
            _consumed = cursor;

            var sourceRun = ResumedFrom is null ? null : PretrainCheckpoint.RunDirOf(ResumedFrom);
            bool continuing = sourceRun is not null && SamePath(sourceRun, settings.OutDir);
            var use = continuing ? RunDirectoryUse.Continue : start.Overwrite ? RunDirectoryUse.Overwrite : RunDirectoryUse.New;
            var existing = Path.Combine(settings.OutDir, PretrainCheckpoint.RunCheckpointName);
            string hint = PretrainCheckpoint.Exists(existing) ? $"--resume {existing} to continue it, " : "";
            _run = RunDirectory.Claim(settings.OutDir, use, "pretrain", Owned, hint, _notices.Add);
            _run.RecoverSwap(PretrainCheckpoint.RunCheckpointName, _notices.Add);
            var metrics = Path.Combine(settings.OutDir, MetricsFile);
            if (!continuing && sourceRun is not null && File.Exists(Path.Combine(sourceRun, MetricsFile)))
            {
                // A run continued into a new directory keeps its history there, so one metrics.jsonl tells the whole run.
                File.Copy(Path.Combine(sourceRun, MetricsFile), metrics, overwrite: true);
                _notices.Add($"continuing {ResumedFrom} (step {_step}) in the new run directory {settings.OutDir}; its metrics before step {_step} were copied");
            }
            _log = new MetricsWriter(metrics, _step);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>What the runner decided or cleaned up while starting (a stale lock replaced, the schedule extended, ...).</summary>
    public IReadOnlyList<string> Notices => _notices;

    /// <summary>The checkpoint this run continued from (absolute); null for a new run.</summary>
    public string? ResumedFrom { get; }

    /// <summary>This run's checkpoint if one was saved, else the one it continued from, else null.</summary>
    public string? LastGoodCheckpoint => PretrainCheckpoint.Exists(CheckpointDir) ? CheckpointDir : ResumedFrom;

    private static string FullPath(string path) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));

    private static bool SamePath(string a, string b) => string.Equals(FullPath(a), FullPath(b), StringComparison.Ordinal);

    public PretrainSettings Settings { get; }

    /// <summary>"on", "off", "n/a" on the CPU, or why capture failed (the run then continues eagerly).</summary>
    public string GraphMode { get; private set; } = "n/a";

    /// <summary>Steps this runner replayed from its CUDA graph (the others ran eagerly: logging and saving steps, the first).</summary>
    public long ReplayedSteps => _replayed;

    /// <summary>The most device memory in use at once so far (the graph's reserved memory included); null on the CPU.</summary>
    public long? PeakDeviceBytes => Backends.For(Model.Device) is CudaBackend cuda ? cuda.Allocator.PeakInUse : null;
    public Precision Precision => Settings.Precision!.Value;
    public Pretrainer Model { get; } = null!;
    public long Step => _step;
    public string MetricsPath => _log.Path;
    public string CheckpointDir => Path.Combine(Settings.OutDir, PretrainCheckpoint.RunCheckpointName);

    /// <summary>Trains until <paramref name="stopAt"/> (default: the configured total) or until cancelled.</summary>
    public RunOutcome Run(Action<StepReport>? report = null, CancellationToken cancel = default, long? stopAt = null)
    {
        long total = Settings.Steps, end = Math.Min(stopAt ?? total, total);
        var clock = Stopwatch.StartNew();
        long startStep = _step;
        long tokensPerStep = (long)Settings.Batch * Settings.Seq;
        while (_step < end)
        {
            if (cancel.IsCancellationRequested)
            {
                Save();
                return RunOutcome.Interrupted;
            }
            long step = _step;
            bool last = step + 1 == end;
            bool logNow = step % Settings.LogEvery == 0 || last || (step + 1) % Settings.SaveEvery == 0;
            var (masked, after) = Prepared(step);
            if (!last) _ahead = Task.Run(() => Prepare(step + 1));
            float lr = LrSchedule.Electra(Settings.Lr, step, Settings.Warmup, total);
            PretrainMetrics? metrics = null;
            float gradNorm = float.NaN;
            // A step that logs nothing is replayed from the graph, captured at the first such step after an eager
            // one (which compiled the kernels and made the optimizer's state); logging steps read metrics back, so
            // they run eagerly, on the same shapes and so to the same bits.
            if (!logNow && _graph is null && _captureOn is not null && step > startStep)
            {
                _graph = CapturedTrainStep.TryCapture(Model, _optimizer, _captureOn, masked, Precision,
                    s => LrSchedule.Electra(Settings.Lr, s, Settings.Warmup, total), Settings.ClipNorm, out var reason);
                if (_graph is null)
                {
                    GraphMode = $"eager (capture failed: {reason})";
                    _captureOn = null;
                }
            }
            if (!logNow && _graph is not null)
            {
                _graph.Run(masked);
                _replayed++;
            }
            else
            {
                (metrics, gradNorm) = EagerStep(masked, step, lr, logNow);
                if (metrics is not null && !float.IsFinite(metrics.Loss)) return Diverged(step, metrics.Loss);
            }
            _step = step + 1;
            _consumed = after;

            double seconds = clock.Elapsed.TotalSeconds;
            double tokensPerSecond = (_step - startStep) * tokensPerStep / Math.Max(seconds, 1e-9);
            if (metrics is not null)
            {
                if (!float.IsFinite(gradNorm)) return Diverged(step, gradNorm);
                _log.Write(Row(step, metrics, lr, gradNorm, tokensPerSecond));
            }
            var eta = TimeSpan.FromSeconds((end - _step) * seconds / Math.Max(1, _step - startStep));
            report?.Invoke(new StepReport(step, total, metrics, lr, gradNorm, tokensPerSecond, clock.Elapsed, eta));
            if (_step % Settings.SaveEvery == 0 || _step == end)
            {
                // The loss was finite before this update; the update itself may still have overflowed.
                var norm = ParameterNorm();
                if (!float.IsFinite(norm)) return Diverged(step, norm);
                Save();
            }
        }
        return RunOutcome.Completed;
    }

    /// <summary>
    /// One step queued launch by launch; with <paramref name="logNow"/> it reads back the metrics and the gradient
    /// norm. A loss that is not finite returns before the update, which then never happens.
    /// </summary>
    private (PretrainMetrics? Metrics, float GradNorm) EagerStep(MaskedBatch masked, long step, float lr, bool logNow)
    {
        using var scope = new TensorScope();
        using var autocast = Autocast.For(Precision);
        var inputs = Model.Upload(masked);
        Model.PhaseEnded?.Invoke(PretrainPhases.MaskingUpload);
        var (loss, metrics) = Model.Forward(inputs, step, logNow);
        if (metrics is not null && !float.IsFinite(metrics.Loss)) return (metrics, float.NaN);
        loss.Backward();
        var norm = GradClip.ClipGlobalNorm(_params, Settings.ClipNorm);
        float gradNorm = logNow ? norm.Item() : float.NaN;
        _optimizer.Step(lr);
        Model.ZeroGrad();
        return (metrics, gradNorm);
    }

    /// <summary>Step <paramref name="step"/>'s batch, masked (the worker's if there is one) and the data cursor after it.</summary>
    private (MaskedBatch Masked, BatchCursor After) Prepared(long step)
    {
        var ahead = _ahead;
        _ahead = null;
        if (ahead is null) return Prepare(step);
        var (masked, after) = ahead.GetAwaiter().GetResult();
        // The worker's batch is the next one whatever step it was masked for.
        return (masked.Step == step ? masked : Model.Mask(masked.Batch, step), after);
    }

    /// <summary>
    /// Draws the next batch and masks it for <paramref name="step"/>. Masking is a function of the batch and the step
    /// alone, so doing it on a worker changes no number; the sampler is only ever used by one thread at a time.
    /// </summary>
    private (MaskedBatch Masked, BatchCursor After) Prepare(long step)
    {
        var batch = _sampler.Next();
        var tokens = new TokenBatch(Slice(batch.InputIds), Slice(batch.TokenTypeIds), Slice(batch.AttentionMask), batch.B, Settings.Seq);
        return (Model.Mask(tokens, step), batch.Next);

        int[] Slice(int[] a) => a.Length == Settings.Batch * Settings.Seq ? a : Crop(a);
    }

    /// <summary>Batches come at the shards' length; a shorter --seq keeps each row's first T tokens.</summary>
    private int[] Crop(int[] full)
    {
        int t = _data.SeqLen, b = full.Length / t;
        var cropped = new int[b * Settings.Seq];
        for (int i = 0; i < b; i++) Array.Copy(full, i * t, cropped, i * Settings.Seq, Settings.Seq);
        return cropped;
    }

    private float ParameterNorm()
    {
        using var scope = new TensorScope();
        var norm = Tensor.Empty([], DType.F32, _params[0].Device);
        _params[0].Backend.GlobalNorm(_params, norm);
        return norm.Item();
    }

    private RunOutcome Diverged(long step, float value)
    {
        DivergedAt = (step, value);
        return RunOutcome.Diverged;
    }

    /// <summary>The step and value at which the loss or gradient norm stopped being finite.</summary>
    public (long Step, float Value)? DivergedAt { get; private set; }

    public void Save()
    {
        var state = new TrainerState
        {
            Step = _step,
            OptimizerSteps = _optimizer.StepCount,
            DataEpoch = _consumed.Epoch,
            DataPosition = _consumed.Position,
            Settings = Settings,
            VocabHash = _data.VocabHash,
            DataFingerprint = _dataFingerprint,
        };
        PretrainCheckpoint.Save(CheckpointDir, Model, _optimizer, state);
    }

    private static Dictionary<string, double> Row(long step, PretrainMetrics m, float lr, float gradNorm, double tokensPerSecond) => new()
    {
        ["step"] = step,
        ["loss"] = m.Loss,
        ["mlm_loss"] = m.MlmLoss,
        ["disc_loss"] = m.DiscLoss,
        ["disc_acc"] = m.DiscAcc,
        ["disc_acc_replaced"] = m.DiscAccReplaced,
        ["disc_acc_original"] = m.DiscAccOriginal,
        ["disc_auc"] = m.DiscAuc,
        ["replaced_frac"] = m.ReplacedFrac,
        ["gen_acc"] = m.GenAcc,
        ["lr"] = lr,
        ["grad_norm"] = gradNorm,
        ["tokens_per_s"] = tokensPerSecond,
    };

    public void Dispose()
    {
        // A batch being drawn still reads the shards: let it finish (its failure, if any, no longer matters).
        try { _ahead?.Wait(); } catch (AggregateException) { }
        _graph?.Dispose();
        _log?.Dispose();
        _optimizer?.Dispose();
        Model?.Dispose();
        _data?.Dispose();
        _run?.Dispose();
    }
}
