using System.Diagnostics;
using Electra.Model;
using Electra.Optim;
using Electra.Train.Data;
using Electra.Train.Reporting;

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
    private readonly ShardDataset _data;
    private readonly BatchSampler _sampler;
    private readonly AdamW _optimizer;
    private readonly MetricsWriter _log;
    private readonly List<Tensor> _params;
    private long _step;

    public PretrainRunner(PretrainSettings settings, ElectraConfig discriminator, ElectraConfig? generator, Device device,
        SpecialTokens special, string? resumeFrom = null)
    {
        // Resolved once and stored in every checkpoint, so a resumed run computes as the original did.
        settings = settings with { Precision = PrecisionChoice.Resolve(settings.Precision, device) };
        Settings = settings;
        if (settings.DataDir is null) throw new ArgumentException("no training data directory given (--data)");
        _data = ShardDataset.Open(settings.DataDir);
        if (_data.SeqLen < settings.Seq)
            throw new ArgumentException($"--seq {settings.Seq} is longer than the shards' sequence length {_data.SeqLen} ({settings.DataDir})");
        if (_data.VocabSize > discriminator.VocabSize)
            throw new ArgumentException($"the shards use a vocabulary of {_data.VocabSize} tokens but the model has vocab_size {discriminator.VocabSize}");
        if (settings.Seq > discriminator.MaxPositionEmbeddings)
            throw new ArgumentException($"--seq {settings.Seq} exceeds the model's max_position_embeddings {discriminator.MaxPositionEmbeddings}");
        if (_data.Count < settings.Batch)
            throw new ArgumentException($"{settings.DataDir} holds {_data.Count} examples, fewer than one batch of {settings.Batch}");

        Model = new Pretrainer(discriminator, generator, new PretrainOptions { Objective = settings.Objective, Seed = settings.Seed, Special = special },
            device, initSeed: (int)(settings.Seed & 0x7FFFFFFF));
        _optimizer = new AdamW(AdamW.DefaultGroups(Model.NamedParameters(), settings.WeightDecay), eps: 1e-6f, biasCorrection: false);
        _params = _optimizer.Params.ToList();

        var cursor = default(BatchCursor);
        if (resumeFrom is not null)
        {
            var state = PretrainCheckpoint.Load(resumeFrom, Model, _optimizer);
            _step = state.Step;
            cursor = new BatchCursor(state.DataEpoch, state.DataPosition);
        }
        _sampler = new BatchSampler(_data, settings.Batch, settings.Seed, cursor);
        _log = new MetricsWriter(Path.Combine(settings.OutDir, "metrics.jsonl"), _step);
    }

    public PretrainSettings Settings { get; }
    public Precision Precision => Settings.Precision!.Value;
    public Pretrainer Model { get; }
    public long Step => _step;
    public string MetricsPath => _log.Path;
    public string CheckpointDir => Path.Combine(Settings.OutDir, "checkpoint");

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
            var batch = _sampler.Next();
            var tokens = new TokenBatch(Slice(batch.InputIds), Slice(batch.TokenTypeIds), Slice(batch.AttentionMask), batch.B, Settings.Seq);
            float lr = LrSchedule.Electra(Settings.Lr, step, Settings.Warmup, total);
            PretrainMetrics? metrics;
            float gradNorm = float.NaN;
            using (new TensorScope())
            using (Autocast.For(Precision))
            {
                var (loss, m) = Model.Forward(tokens, step, logNow);
                metrics = m;
                if (metrics is not null && !float.IsFinite(metrics.Loss))
                    return Diverged(step, metrics.Loss);
                loss.Backward();
                var norm = GradClip.ClipGlobalNorm(_params, Settings.ClipNorm);
                if (logNow) gradNorm = norm.Item();
                _optimizer.Step(lr);
                Model.ZeroGrad();
            }
            _step = step + 1;

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
            DataEpoch = _sampler.Cursor.Epoch,
            DataPosition = _sampler.Cursor.Position,
            Settings = Settings,
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
        _log.Dispose();
        _optimizer.Dispose();
        Model.Dispose();
        _data.Dispose();
    }
}
