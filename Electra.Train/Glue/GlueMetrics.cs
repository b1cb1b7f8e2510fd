namespace Electra.Train.Glue;

public sealed record GlueMetric(string Name, double Value);

/// <summary>
/// The metrics GLUE reports, computed in double precision. Conventions follow scikit-learn/SciPy, which the GLUE
/// baselines use: F1 and MCC are 0 when undefined (no positive predictions and labels; a constant column), and
/// Pearson/Spearman are NaN for a constant input (correlation is undefined there, and a 0 would look like a score).
/// </summary>
public static class GlueMetrics
{
    /// <summary>
    /// The task's metrics as GLUE defines them: accuracy (SST-2, RTE, QNLI, MNLI), F1 then accuracy (MRPC, QQP),
    /// Matthews correlation (CoLA). For STS-B use the overload that takes scores.
    /// </summary>
    public static IReadOnlyList<GlueMetric> Evaluate(GlueTask task, ReadOnlySpan<int> predicted, ReadOnlySpan<int> gold)
    {
        if (task.IsRegression) throw new ArgumentException($"{task.Name} is scored on real values; pass predicted and gold scores");
        return task.Name switch
        {
            "mrpc" or "qqp" => [new("f1", F1(predicted, gold)), new("accuracy", Accuracy(predicted, gold))],
            "cola" => [new("mcc", MatthewsCorrelation(predicted, gold))],
            _ => [new("accuracy", Accuracy(predicted, gold))],
        };
    }

    /// <summary>STS-B: Pearson then Spearman correlation of predicted against gold similarity scores.</summary>
    public static IReadOnlyList<GlueMetric> Evaluate(GlueTask task, ReadOnlySpan<float> predicted, ReadOnlySpan<float> gold)
    {
        if (!task.IsRegression) throw new ArgumentException($"{task.Name} is scored on class ids; pass predicted and gold labels");
        return [new("pearson", Pearson(predicted, gold)), new("spearman", Spearman(predicted, gold))];
    }

    /// <summary>One number per task for picking the best checkpoint: the mean of the task's metrics, as the GLUE score does.</summary>
    public static double MainScore(IReadOnlyList<GlueMetric> metrics) => metrics.Average(m => m.Value);

    public static double Accuracy(ReadOnlySpan<int> predicted, ReadOnlySpan<int> gold)
    {
        CheckLengths(predicted.Length, gold.Length);
        int correct = 0;
        for (int i = 0; i < gold.Length; i++) if (predicted[i] == gold[i]) correct++;
        return (double)correct / gold.Length;
    }

    /// <summary>F1 of the class <paramref name="positive"/> (GLUE: 1 = paraphrase / duplicate).</summary>
    public static double F1(ReadOnlySpan<int> predicted, ReadOnlySpan<int> gold, int positive = 1)
    {
        CheckLengths(predicted.Length, gold.Length);
        long tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < gold.Length; i++)
        {
            bool p = predicted[i] == positive, g = gold[i] == positive;
            if (p && g) tp++;
            else if (p) fp++;
            else if (g) fn++;
        }
        return tp == 0 ? 0 : 2.0 * tp / (2.0 * tp + fp + fn);
    }

    /// <summary>
    /// Matthews correlation coefficient, in its multi-class form (Gorodkin 2004), which reduces to
    /// (tp·tn − fp·fn)/√((tp+fp)(tp+fn)(tn+fp)(tn+fn)) for two classes.
    /// </summary>
    public static double MatthewsCorrelation(ReadOnlySpan<int> predicted, ReadOnlySpan<int> gold)
    {
        CheckLengths(predicted.Length, gold.Length);
        var predictedCount = new Dictionary<int, long>();
        var goldCount = new Dictionary<int, long>();
        long correct = 0;
        for (int i = 0; i < gold.Length; i++)
        {
            predictedCount[predicted[i]] = predictedCount.GetValueOrDefault(predicted[i]) + 1;
            goldCount[gold[i]] = goldCount.GetValueOrDefault(gold[i]) + 1;
            if (predicted[i] == gold[i]) correct++;
        }
        double s = gold.Length;
        double pt = 0, pp = 0, tt = 0;
        foreach (var (k, p) in predictedCount) { pt += (double)p * goldCount.GetValueOrDefault(k); pp += (double)p * p; }
        foreach (var t in goldCount.Values) tt += (double)t * t;
        double denominator = Math.Sqrt((s * s - pp) * (s * s - tt));
        return denominator == 0 ? 0 : (correct * s - pt) / denominator;
    }

    public static double Pearson(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        var dx = new double[x.Length];
        var dy = new double[y.Length];
        for (int i = 0; i < x.Length; i++) dx[i] = x[i];
        for (int i = 0; i < y.Length; i++) dy[i] = y[i];
        return Pearson(dx, dy);
    }

    public static double Pearson(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        CheckLengths(x.Length, y.Length);
        double mx = 0, my = 0;
        for (int i = 0; i < x.Length; i++) { mx += x[i]; my += y[i]; }
        mx /= x.Length;
        my /= y.Length;
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double a = x[i] - mx, b = y[i] - my;
            sxy += a * b;
            sxx += a * a;
            syy += b * b;
        }
        return sxx == 0 || syy == 0 ? double.NaN : sxy / Math.Sqrt(sxx * syy);
    }

    /// <summary>Pearson correlation of the ranks; tied values share the average of the ranks they span.</summary>
    public static double Spearman(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        CheckLengths(x.Length, y.Length);
        return Pearson(AverageRanks(x), AverageRanks(y));
    }

    /// <summary>1-based ranks; a run of equal values gets the mean of its positions (SciPy's rankdata "average").</summary>
    public static double[] AverageRanks(ReadOnlySpan<float> values)
    {
        var order = new int[values.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        var keys = values.ToArray();
        Array.Sort(order, (a, b) => keys[a].CompareTo(keys[b]) is var c && c != 0 ? c : a.CompareTo(b));
        var ranks = new double[values.Length];
        for (int start = 0; start < order.Length;)
        {
            int end = start + 1;
            while (end < order.Length && keys[order[end]] == keys[order[start]]) end++;
            double rank = (start + 1 + end) / 2.0; // mean of positions start+1 … end
            for (int k = start; k < end; k++) ranks[order[k]] = rank;
            start = end;
        }
        return ranks;
    }

    private static void CheckLengths(int predicted, int gold)
    {
        if (predicted != gold) throw new ArgumentException($"{predicted} predictions for {gold} gold labels");
        if (gold == 0) throw new ArgumentException("no examples to score");
    }
}
