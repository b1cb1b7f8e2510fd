using ScottPlot;

namespace Electra.Train.Reporting;

/// <summary>The panels drawn, top to bottom, each with the series (log keys) it shows.</summary>
public sealed record PlotSummary(IReadOnlyList<(string Panel, IReadOnlyList<string> Series)> Panels, int Records);

/// <summary>
/// Draws a metrics log as stacked panels sharing the step axis: losses, accuracies and other scores, learning
/// rate. A panel appears only when the log has a key for it, so the same command serves pretraining
/// (loss, mlm_loss, disc_loss, disc_acc, lr) and fine-tuning (loss, dev_accuracy, dev_f1, lr) runs.
/// </summary>
public static class MetricsPlot
{
    private static readonly string[] ScoreNames = ["accuracy", "acc", "auc", "f1", "mcc", "pearson", "spearman"];

    /// <summary>Which panel a key belongs to, or null for keys that are not plotted (timings, counters).</summary>
    public static string? PanelOf(string key)
    {
        var k = key.ToLowerInvariant();
        if (k.Contains("loss")) return "loss";
        if (k is "lr" or "learning_rate" || k.EndsWith("_lr", StringComparison.Ordinal)) return "learning rate";
        var bare = k;
        foreach (var prefix in new[] { "dev_", "eval_", "train_", "disc_", "gen_" })
            if (bare.StartsWith(prefix, StringComparison.Ordinal)) bare = bare[prefix.Length..];
        if (ScoreNames.Contains(bare) || k.Contains("acc")) return "accuracy / score";
        return null;
    }

    public const int MinWidth = 200, MaxWidth = 10_000, MinPanelHeight = 100, MaxPanelHeight = 4_000;

    public static PlotSummary Render(string metricsPath, string outPath, int width = 1000, int panelHeight = 280) =>
        Render([metricsPath], outPath, width, panelHeight);

    /// <summary>
    /// Several runs on the same panels (bf16 against fp32, one seed against another): with more than one log, each
    /// series is labelled with its run: the directory holding a metrics.jsonl, or the name of any other file.
    /// <paramref name="series"/>, when given, names the keys to draw.
    /// </summary>
    public static PlotSummary Render(IReadOnlyList<string> metricsPaths, string outPath, int width = 1000, int panelHeight = 280,
        IReadOnlyCollection<string>? series = null)
    {
        // Beyond these the image is gigabytes of pixels and the renderer fails deep inside with no useful message.
        if (width is < MinWidth or > MaxWidth)
            throw new ArgumentException($"--width {width}: expected {MinWidth}..{MaxWidth} pixels");
        if (panelHeight is < MinPanelHeight or > MaxPanelHeight)
            throw new ArgumentException($"--panel-height {panelHeight}: expected {MinPanelHeight}..{MaxPanelHeight} pixels");
        if (Directory.Exists(outPath)) throw new IOException($"--out {outPath} is a folder; expected the path of a .png file");
        if (metricsPaths.Count == 0) throw new ArgumentException("no metrics file to plot");
        var runs = metricsPaths.Select(path => (Label: RunLabel(path, metricsPaths.Count), Records: MetricsLog.Read(path))).ToList();
        var records = runs.SelectMany(r => r.Records).ToList();
        string metricsPath = string.Join(", ", metricsPaths);

        var keys = records.SelectMany(r => r.Values.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        if (series is { Count: > 0 })
        {
            var missing = series.Where(k => !keys.Contains(k)).ToList();
            if (missing.Count > 0)
                throw new FormatException($"{metricsPath}: no key {string.Join(", ", missing)} to plot (have {string.Join(", ", keys)})");
            keys = keys.Where(series.Contains).ToList();
        }
        var panels = new[] { "loss", "accuracy / score", "learning rate" }
            .Select(panel => (Panel: panel, Series: (IReadOnlyList<string>)keys.Where(k => PanelOf(k) == panel).ToList()))
            .Where(p => p.Series.Count > 0)
            .ToList();
        if (panels.Count == 0)
            throw new FormatException($"{metricsPath}: nothing to plot; no loss, accuracy/score or lr keys among [{string.Join(", ", keys)}]");

        var multiplot = new Multiplot();
        var plots = new List<Plot>();
        for (int p = 0; p < panels.Count; p++)
        {
            var plot = p == 0 ? multiplot.GetPlot(0) : multiplot.AddPlot();
            foreach (var (label, run) in runs)
                foreach (var key in panels[p].Series)
                {
                    var points = run.Where(r => r.Values.ContainsKey(key)).ToList();
                    if (points.Count == 0) continue;
                    var scatter = plot.Add.Scatter(points.Select(r => r.Step).ToArray(), points.Select(r => r.Values[key]).ToArray());
                    scatter.LegendText = label + key;
                    scatter.MarkerSize = points.Count <= 50 ? 4 : 0; // markers only where they help: sparse dev evaluations
                }
            plot.YLabel(panels[p].Panel);
            plot.Axes.Left.LockSize(90); // equal left margins keep the panels' step axes aligned
            plot.ShowLegend(Alignment.UpperRight);
            plots.Add(plot);
        }
        plots[^1].XLabel("step");
        plots[0].Title(runs.Count == 1 ? Path.GetFileName(metricsPaths[0]) : string.Join(" vs ", runs.Select(r => r.Label.TrimEnd(' ', ':'))));
        multiplot.SharedAxes.ShareX(plots);

        var dir = Path.GetDirectoryName(Path.GetFullPath(outPath));
        try
        {
            if (dir is not null) Directory.CreateDirectory(dir);
            multiplot.SavePng(outPath, width, panelHeight * panels.Count);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write {outPath}: {e.Message}", e);
        }
        return new PlotSummary(panels, records.Count);
    }

    /// <summary>A run's name: its directory's for a run's own metrics.jsonl, else the file's (logs gathered in one folder).</summary>
    private static string RunLabel(string metricsPath, int runs)
    {
        if (runs == 1) return "";
        var full = Path.GetFullPath(metricsPath);
        var stem = Path.GetFileNameWithoutExtension(full);
        return (stem == "metrics" ? Path.GetFileName(Path.GetDirectoryName(full)) ?? stem : stem) + ": ";
    }
}
