using Electra.Autograd;
using Electra.Model;
using Electra.Train.Glue;

namespace Electra.Train.FineTuning;

/// <summary>A classifier's outputs on a dataset and the task's metrics for them.</summary>
public sealed record Evaluation(IReadOnlyList<GlueMetric> Metrics, double MainScore, int[] PredictedLabels, float[] PredictedScores);

/// <summary>Runs a classifier over examples in eval mode (no dropout, no graph) and scores it as GLUE does.</summary>
public static class Predictor
{
    /// <summary>
    /// Logits [N, labels] flattened row-major, in the examples' order. Examples are batched in order of length so
    /// each batch pads to little more than its own longest sentence.
    /// </summary>
    public static float[] Logits(SequenceClassifier model, IReadOnlyList<EncodedExample> examples, int batchSize, int padId)
    {
        if (examples.Count == 0) throw new ArgumentException("no examples to evaluate");
        bool wasTraining = model.Training;
        model.Eval();
        try
        {
            int labels = model.NumLabels;
            var device = model.Electra.Embeddings.WordEmbeddings.Weight.Device;
            var order = Enumerable.Range(0, examples.Count).OrderBy(i => examples[i].Ids.Length).ToArray();
            var result = new float[examples.Count * labels];
            using var noGrad = GradMode.NoGrad();
            for (int start = 0; start < order.Length; start += batchSize)
            {
                var rows = order.AsSpan(start, Math.Min(batchSize, order.Length - start)).ToArray();
                using var scope = new TensorScope();
                using var batch = new FineTuneBatch(rows.Select(i => examples[i]).ToList(), padId, regression: false, device);
                var logits = model.Forward(batch.Ids, batch.TypeIds, batch.Mask).ToFloatArray();   // [b, labels]
                for (int r = 0; r < rows.Length; r++)
                    Array.Copy(logits, r * labels, result, rows[r] * labels, labels);
            }
            return result;
        }
        finally
        {
            model.Train(wasTraining);
        }
    }

    public static Evaluation Evaluate(SequenceClassifier model, GlueTask task, IReadOnlyList<EncodedExample> examples, int batchSize, int padId)
    {
        if (model.NumLabels != task.NumLabels)
            throw new ArgumentException($"the model has {model.NumLabels} outputs but {task.Name} needs {task.NumLabels}");
        var logits = Logits(model, examples, batchSize, padId);
        IReadOnlyList<GlueMetric> metrics;
        int[] labels = [];
        float[] scores = [];
        if (task.IsRegression)
        {
            scores = logits;
            metrics = GlueMetrics.Evaluate(task, scores, examples.Select(e => e.Score).ToArray());
        }
        else
        {
            int k = task.NumLabels;
            labels = new int[examples.Count];
            for (int i = 0; i < labels.Length; i++)
            {
                int best = 0;
                for (int c = 1; c < k; c++) if (logits[i * k + c] > logits[i * k + best]) best = c;
                labels[i] = best;
            }
            metrics = GlueMetrics.Evaluate(task, labels, examples.Select(e => e.Label).ToArray());
        }
        return new Evaluation(metrics, GlueMetrics.MainScore(metrics), labels, scores);
    }
}
