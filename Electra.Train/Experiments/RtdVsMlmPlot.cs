using ScottPlot;

namespace Electra.Train.Experiments;

/// <summary>
/// results.png, three stacked panels: the masked-LM loss of both objectives and the RTD discriminator's loss and
/// AUC, each against training FLOPs (so equal compute lines up), then the dev scores as bars (mean over seeds,
/// error bar ± one standard deviation) with every seed's score as a dot.
/// </summary>
public static class RtdVsMlmPlot
{
    private static readonly IPalette Palette = new ScottPlot.Palettes.Category10();

    private static Color ColorOf(string source) => Palette.GetColor(Array.IndexOf(RtdVsMlmPlan.Sources, source));

    public static void Render(RtdVsMlmResults results, string path, int width = 1000, int panelHeight = 300)
    {
        var multiplot = new Multiplot();
        double maxFlops = results.Pretraining.Select(p => p.Flops).DefaultIfEmpty(1).Max();
        int exponent = maxFlops >= 1000 ? 3 * (int)Math.Floor(Math.Log10(maxFlops) / 3) : 0;
        double scale = Math.Pow(10, exponent);
        string unit = exponent switch { 9 => "GFLOP", 12 => "TFLOP", 15 => "PFLOP", 18 => "EFLOP", 0 => "FLOP", _ => $"1e{exponent} FLOP" };

        var loss = multiplot.GetPlot(0);
        foreach (var p in results.Pretraining)
            Curve(loss, p, "mlm_loss", p.Objective == "rtd" ? "RTD generator" : "MLM baseline", ColorOf(p.Objective), scale);
        loss.YLabel("masked-LM loss");
        loss.Title("Pretraining against training FLOPs (forward + backward, generator included)");

        var disc = multiplot.AddPlot();
        foreach (var p in results.Pretraining.Where(p => p.Objective == "rtd"))
        {
            Curve(disc, p, "disc_loss", "RTD discriminator loss", ColorOf("rtd"), scale);
            Curve(disc, p, "disc_auc", "RTD discriminator AUC (0.5: chance)", Palette.GetColor(3), scale);
        }
        disc.YLabel("discriminator");
        disc.XLabel($"training {unit}");
        foreach (var plot in new[] { loss, disc })
        {
            plot.Axes.AutoScale();
            plot.Axes.SetLimitsX(0, maxFlops / scale * 1.02);   // the same compute axis in both panels
            plot.Axes.Left.LockSize(90);
            plot.ShowLegend(Alignment.UpperRight);
        }

        var bars = multiplot.AddPlot();
        DevBars(bars, results);
        bars.Axes.Left.LockSize(90);

        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        multiplot.SavePng(path, width, panelHeight * 3);
    }

    private static void Curve(Plot plot, PretrainRecord p, string key, string label, Color color, double scale)
    {
        var points = p.Curve.Where(r => r.Values.ContainsKey(key)).ToList();
        if (points.Count == 0) return;
        // A logged step s is the loss of step s, after s updates: s + 1 steps' compute has been spent by its end.
        var line = plot.Add.Scatter(points.Select(r => (r.Step + 1) * p.FlopsPerStep / scale).ToArray(), points.Select(r => r.Values[key]).ToArray());
        line.LegendText = label;
        line.Color = color;
        line.MarkerSize = 0;
    }

    private static void DevBars(Plot plot, RtdVsMlmResults results)
    {
        var sources = results.Sources.ToList();
        var summaries = results.Summaries();
        var ticks = new List<(double Position, string Label)>();
        for (int t = 0; t < results.Tasks.Count; t++)
        {
            var task = results.Tasks[t];
            double group = t * (sources.Count + 1);
            for (int s = 0; s < sources.Count; s++)
            {
                double x = group + s;
                var summary = summaries.FirstOrDefault(m => m.Source == sources[s] && m.Task == task.Name);
                if (summary is null) continue;
                var color = ColorOf(sources[s]);
                plot.Add.Bars(new[] { new Bar
                {
                    Position = x,
                    Value = double.IsFinite(summary.Mean) ? summary.Mean : 0,
                    Error = double.IsFinite(summary.Sd) ? summary.Sd : 0,
                    FillColor = color.WithAlpha(0.55),
                } });
                var seeds = results.Runs.Where(r => r.Source == sources[s] && r.Task == task.Name && double.IsFinite(r.FinalScore)).ToList();
                var dots = plot.Add.Markers(seeds.Select(_ => x).ToArray(), seeds.Select(r => r.FinalScore).ToArray());
                dots.Color = color.Darken(0.4);
                dots.MarkerSize = 6;
            }
            ticks.Add((group + (sources.Count - 1) / 2.0, $"{task.Name} ({task.Metric})"));
        }
        plot.Axes.Bottom.SetTicks(ticks.Select(t => t.Position).ToArray(), ticks.Select(t => t.Label).ToArray());
        foreach (var source in sources)
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = RtdVsMlmResults.Labels[source], FillColor = ColorOf(source).WithAlpha(0.55) });
        plot.ShowLegend(Alignment.UpperRight);
        plot.YLabel("dev score, last epoch");
        plot.Title($"Fine-tuning: mean ± sd over seeds {string.Join(", ", results.Seeds)} (dots: each seed)");
    }
}
