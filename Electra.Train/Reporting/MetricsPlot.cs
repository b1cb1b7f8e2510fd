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

    public static PlotSummary Render(string metricsPath, string outPath, int width = 1000, int panelHeight = 280)
    {
        // Beyond these the image is gigabytes of pixels and the renderer fails deep inside with no useful message.
        if (width is < MinWidth or > MaxWidth)
            throw new ArgumentException($"--width {width}: expected {MinWidth}..{MaxWidth} pixels");
        if (panelHeight is < MinPanelHeight or > MaxPanelHeight)
            throw new ArgumentException($"--panel-height {panelHeight}: expected {MinPanelHeight}..{MaxPanelHeight} pixels");
        if (Directory.Exists(outPath)) throw new IOException($"--out {outPath} is a folder; expected the path of a .png file");
        var records = MetricsLog.Read(metricsPath);

        var keys = records.SelectMany(r => r.Values.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
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
            foreach (var key in panels[p].Series)
            {
                var points = records.Where(r => r.Values.ContainsKey(key)).ToList();
                var scatter = plot.Add.Scatter(points.Select(r => r.Step).ToArray(), points.Select(r => r.Values[key]).ToArray());
                scatter.LegendText = key;
                scatter.MarkerSize = points.Count <= 50 ? 4 : 0; // markers only where they help: sparse dev evaluations
            }
            plot.YLabel(panels[p].Panel);
            plot.Axes.Left.LockSize(90); // equal left margins keep the panels' step axes aligned
            plot.ShowLegend(Alignment.UpperRight);
            plots.Add(plot);
        }
        plots[^1].XLabel("step");
        plots[0].Title(Path.GetFileName(metricsPath));
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
}
