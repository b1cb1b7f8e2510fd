using Spectre.Console;

namespace Electra.Train.FineTuning;

/// <summary>
/// Draws a fine-tuning run: a live bar with the latest loss on a terminal, one line per logged step otherwise, and
/// one line per epoch with the dev metrics (★ marks a new best, which is what gets saved).
/// </summary>
public static class FineTuneProgress
{
    public static FineTuneResult Run(FineTuneRunner runner, CancellationToken cancel)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
            return runner.Run(r => Console.WriteLine(r.Dev is null ? Line(r) : EpochLine(r)), cancel);

        FineTuneResult? result = null;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("starting", maxValue: runner.TotalSteps);
                result = runner.Run(r =>
                {
                    task.Value = r.Step;
                    if (r.Dev is null) task.Description = Markup.Escape(Line(r));
                    else AnsiConsole.MarkupLine(Markup.Escape(EpochLine(r)));
                }, cancel);
            });
        return result!;
    }

    public static string Line(FineTuneReport r) =>
        $"step {r.Step,6}/{r.TotalSteps} | epoch {r.Epoch} | loss {r.Loss:F4} | lr {r.Lr:E2} | {r.ExamplesPerSecond,7:N1} ex/s";

    public static string EpochLine(FineTuneReport r)
    {
        var metrics = string.Join(" ", r.Dev!.Metrics.Select(m => $"{m.Name} {m.Value:F4}"));
        return $"epoch {r.Epoch} dev | {metrics}{(r.NewBest ? " ★ saved" : "")} | {r.Elapsed:hh\\:mm\\:ss}";
    }
}
