using System.CommandLine;
using Electra.Train.Reporting;

namespace Electra.Train.Commands;

/// <summary><c>electra plot --metrics run/metrics.jsonl --out loss.png</c>: training curves as a PNG.</summary>
public static class PlotCommand
{
    public static Command Create()
    {
        var metrics = new Option<FileInfo[]>("--metrics")
        {
            Description = "metrics.jsonl written by pretrain or finetune (one JSON object per logged step); repeat it to compare runs on the same panels",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
        };
        var output = new Option<FileInfo>("--out")
        {
            Description = "PNG to write (default: the metrics file with a .png extension)",
        };
        var width = new Option<int>("--width")
        {
            Description = $"image width in pixels ({MetricsPlot.MinWidth}..{MetricsPlot.MaxWidth})", DefaultValueFactory = _ => 1000,
        };
        var panelHeight = new Option<int>("--panel-height")
        {
            Description = $"height of each stacked panel in pixels ({MetricsPlot.MinPanelHeight}..{MetricsPlot.MaxPanelHeight})", DefaultValueFactory = _ => 280,
        };
        var series = new Option<string?>("--series") { Description = "comma-separated keys to draw (default: every plottable key), e.g. loss,mlm_loss" };

        var command = new Command("plot", "Plot loss, accuracy/score and learning-rate curves from a metrics.jsonl as a PNG");
        command.Options.Add(metrics);
        command.Options.Add(output);
        command.Options.Add(width);
        command.Options.Add(panelHeight);
        command.Options.Add(series);
        command.SetAction(parseResult =>
        {
            var inputs = parseResult.GetValue(metrics)!;
            var outPath = parseResult.GetValue(output)?.FullName ?? Path.ChangeExtension(inputs[0].FullName, ".png");
            try
            {
                var keys = parseResult.GetValue(series)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var summary = MetricsPlot.Render(inputs.Select(f => f.FullName).ToList(), outPath, parseResult.GetValue(width), parseResult.GetValue(panelHeight), keys);
                foreach (var (panel, drawn) in summary.Panels)
                    Console.WriteLine($"{panel}: {string.Join(", ", drawn)}");
                Console.WriteLine($"wrote {outPath} ({summary.Records} records)");
                return 0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentException)
            {
                Console.Error.WriteLine($"electra plot: {e.Message}");
                return 1;
            }
        });
        return command;
    }
}
