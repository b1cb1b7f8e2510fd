using System.Diagnostics;
using System.Text.Json.Nodes;
using Electra.Model;
using Electra.Model.Checkpoints;
using Electra.Optim;
using Electra.Train.Glue;
using Electra.Train.Reporting;
using Electra.Train.Runs;

namespace Electra.Train.FineTuning;

/// <summary>What the loop tells whoever draws progress: a training step, or an epoch's dev evaluation.</summary>
public sealed record FineTuneReport(long Step, long TotalSteps, int Epoch, float Loss, float Lr, double ExamplesPerSecond, TimeSpan Elapsed,
    Evaluation? Dev = null, bool NewBest = false);

/// <summary>How a run went: the best dev evaluation and the epoch (1-based) that reached it.</summary>
public sealed record FineTuneResult(int BestEpoch, Evaluation Best, IReadOnlyList<Evaluation> PerEpoch, long Steps);

/// <summary>
/// Fine-tunes a <see cref="SequenceClassifier"/> on a GLUE task: shuffled batches each epoch, cross-entropy (or MSE
/// for STS-B), global-norm clipping, AdamW with bias correction and layer-wise decayed rates, ELECTRA's warmup +
/// linear decay over all steps, a dev evaluation after every epoch, and the best-on-dev model saved as an HF
/// ElectraForSequenceClassification directory.
/// </summary>
public sealed class FineTuneRunner : IDisposable
{
    private readonly GlueTask _task;
    private readonly IReadOnlyList<EncodedExample> _train, _dev;
    private readonly int _padId;
    private readonly AdamW _optimizer;
    private readonly List<Tensor> _params;
    private readonly MetricsWriter? _log;
    private readonly RunDirectory? _run;
    private readonly RandomStream _dropout;
    private readonly List<string> _notices = [];

    private const string BestName = "best", BestJson = "best.json", MetricsFile = "metrics.jsonl";
    private static readonly string[] Owned = [MetricsFile, BestName, BestName + ".old", BestJson];

    public FineTuneRunner(SequenceClassifier model, GlueTask task, IReadOnlyList<EncodedExample> train, IReadOnlyList<EncodedExample> dev,
        int padId, FineTuneSettings settings)
    {
        Settings = settings.Validate();
        if (model.NumLabels != task.NumLabels)
            throw new ArgumentException($"the classifier has {model.NumLabels} outputs but {task.Name} needs {task.NumLabels}");
        if (train.Count == 0) throw new ArgumentException($"{task.Name}: no training examples");
        if (dev.Count == 0) throw new ArgumentException($"{task.Name}: no dev examples");
        int longest = train.Concat(dev).Max(e => e.Ids.Length);
        if (longest > model.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"an example has {longest} tokens but the model has max_position_embeddings {model.Config.MaxPositionEmbeddings}; lower --seq");
        Model = model;
        Precision = PrecisionChoice.Resolve(settings.Precision, model.Electra.Embeddings.WordEmbeddings.Weight.Device);
        _task = task;
        _train = train;
        _dev = dev;
        _padId = padId;
        _optimizer = new AdamW(LayerwiseLr.Groups(model.NamedParameters(), model.Config.NumHiddenLayers, settings.LayerDecay, settings.WeightDecay),
            eps: 1e-6f, biasCorrection: true);
        _params = _optimizer.Params.ToList();
        _dropout = new RandomStream(settings.Seed);
        StepsPerEpoch = (train.Count + settings.Batch - 1) / settings.Batch;
        TotalSteps = (long)StepsPerEpoch * settings.Epochs;
        WarmupSteps = (long)Math.Round(settings.WarmupFraction * TotalSteps);
        if (settings.OutDir is not null)
        {
            // Last, after every check: a refused run leaves the directory as it was.
            try
            {
                _run = RunDirectory.Claim(settings.OutDir, settings.Overwrite ? RunDirectoryUse.Overwrite : RunDirectoryUse.New, "finetune", Owned,
                    notice: _notices.Add);
                _run.RecoverSwap(BestName, _notices.Add);
                _log = new MetricsWriter(Path.Combine(settings.OutDir, MetricsFile), 0);
            }
            catch
            {
                _run?.Dispose();
                _optimizer.Dispose();
                throw;
            }
        }
    }

    /// <summary>What the runner replaced or cleaned up in its run directory while starting.</summary>
    public IReadOnlyList<string> Notices => _notices;

    public SequenceClassifier Model { get; }
    public FineTuneSettings Settings { get; }
    public Precision Precision { get; }
    public int StepsPerEpoch { get; }
    public long TotalSteps { get; }
    public long WarmupSteps { get; }
    public string? BestDir => Settings.OutDir is null ? null : Path.Combine(Settings.OutDir, BestName);

    public FineTuneResult Run(Action<FineTuneReport>? report = null, CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        var perEpoch = new List<Evaluation>();
        Evaluation? best = null;
        int bestEpoch = 0;
        long step = 0;
        double lossSum = 0;
        int lossCount = 0;
        Model.Train();
        Model.UseRandom(_dropout);
        for (int epoch = 1; epoch <= Settings.Epochs; epoch++)
        {
            var order = Shuffled(epoch);
            for (int start = 0; start < order.Length; start += Settings.Batch)
            {
                cancel.ThrowIfCancellationRequested();
                var rows = order.AsSpan(start, Math.Min(Settings.Batch, order.Length - start)).ToArray();
                float lr = LrSchedule.Electra(Settings.Lr, step, WarmupSteps, TotalSteps);
                float loss = TrainStep(rows, step, lr);
                if (!float.IsFinite(loss))
                    throw new InvalidOperationException($"fine-tuning diverged at step {step}: loss {loss} (try a lower --lr)");
                lossSum += loss;
                lossCount++;
                step++;
                bool logNow = step % Settings.LogEvery == 0 || step == TotalSteps;
                if (logNow)
                {
                    float mean = (float)(lossSum / lossCount);
                    lossSum = 0;
                    lossCount = 0;
                    _log?.Write(new Dictionary<string, double> { ["step"] = step, ["epoch"] = epoch, ["loss"] = mean, ["lr"] = lr });
                    report?.Invoke(new FineTuneReport(step, TotalSteps, epoch, mean, lr, Rate(step), clock.Elapsed));
                }
            }

            Evaluation dev;
            using (Autocast.For(Precision)) dev = Predictor.Evaluate(Model, _task, _dev, Settings.EvalBatch, _padId);
            perEpoch.Add(dev);
            bool newBest = best is null || Better(dev.MainScore, best.MainScore);
            if (newBest)
            {
                best = dev;
                bestEpoch = epoch;
                SaveBest(epoch, dev);
            }
            var row = new Dictionary<string, double> { ["step"] = step, ["epoch"] = epoch };
            foreach (var m in dev.Metrics) row["dev_" + m.Name] = m.Value;
            row["dev_score"] = dev.MainScore;
            _log?.Write(row);
            report?.Invoke(new FineTuneReport(step, TotalSteps, epoch, float.NaN, 0f, Rate(step), clock.Elapsed, dev, newBest));
        }
        return new FineTuneResult(bestEpoch, best!, perEpoch, step);

        double Rate(long s) => Math.Min(s * Settings.Batch, (long)_train.Count * Settings.Epochs) / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
    }

    /// <summary>A NaN score (a correlation of constant predictions) never beats a number.</summary>
    private static bool Better(double score, double best) => !double.IsNaN(score) && (double.IsNaN(best) || score > best);

    private int[] Shuffled(int epoch)
    {
        var order = Enumerable.Range(0, _train.Count).ToArray();
        new Random(unchecked((int)(Settings.Seed * 1_000_003UL + (ulong)epoch))).Shuffle(order);   // same order every run
        return order;
    }

    private float TrainStep(int[] rows, long step, float lr)
    {
        using var scope = new TensorScope();
        using var amp = Autocast.For(Precision);
        _dropout.SeekStep(step);
        var device = Model.Electra.Embeddings.WordEmbeddings.Weight.Device;
        using var batch = new FineTuneBatch(rows.Select(i => _train[i]).ToList(), _padId, _task.IsRegression, device);
        var logits = Model.Forward(batch.Ids, batch.TypeIds, batch.Mask);                  // [B, labels]
        var loss = _task.IsRegression
            ? Ops.MeanSquaredError(logits, batch.Scores!)
            : Ops.SoftmaxCrossEntropy(logits, batch.Labels!, validRows: batch.B).loss;
        float value = loss.Item();
        if (!float.IsFinite(value)) return value;
        loss.Backward();
        GradClip.ClipGlobalNorm(_params, Settings.ClipNorm);
        _optimizer.Step(lr);
        Model.ZeroGrad();
        return value;
    }

    private void SaveBest(int epoch, Evaluation dev)
    {
        if (BestDir is null) return;
        var labels = _task.IsRegression ? ["score"] : _task.Labels;
        ClassifierCheckpoint.Save(BestDir, Model, labels, _task.Name);
        var metrics = new JsonObject();
        foreach (var m in dev.Metrics) metrics[m.Name] = double.IsFinite(m.Value) ? Math.Round(m.Value, 6) : null;
        var summary = new JsonObject
        {
            ["task"] = _task.Name,
            ["epoch"] = epoch,
            ["dev_examples"] = _dev.Count,
            ["train_examples"] = _train.Count,
            ["metrics"] = metrics,
        };
        var path = Path.Combine(Settings.OutDir!, BestJson);
        File.WriteAllText(path + ".tmp", summary.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
        File.Move(path + ".tmp", path, overwrite: true);
    }

    public void Dispose()
    {
        _log?.Dispose();
        _optimizer.Dispose();
        _run?.Dispose();
    }
}
