using Spectre.Console;

namespace Electra.Train.Pretraining;

/// <summary>
/// Draws a run's progress: a live bar with the latest numbers on a terminal, one line per logged step otherwise
/// (logs, CI), in the llm.c spirit — step, losses, accuracy, lr, tokens/s, ETA.
/// </summary>
public static class ProgressView
{
    public static RunOutcome Run(PretrainRunner runner, CancellationToken cancel)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
            return runner.Run(r => { if (r.Metrics is not null) Console.WriteLine(Line(r)); }, cancel);

        RunOutcome outcome = RunOutcome.Completed;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("starting", maxValue: runner.Settings.Steps);
                task.Value = runner.Step;
                outcome = runner.Run(r =>
                {
                    task.Value = r.Step + 1;
                    if (r.Metrics is not null)
                    {
                        task.Description = Markup.Escape(Line(r));
                        if (r.Step % (runner.Settings.LogEvery * 10) == 0) AnsiConsole.MarkupLine(Markup.Escape(Line(r)));
                    }
                }, cancel);
            });
        return outcome;
    }

    public static string Line(StepReport r)
    {
        var m = r.Metrics!;
        var disc = float.IsNaN(m.DiscAcc) ? "" : $" | disc {m.DiscLoss:F4} acc {m.DiscAcc:F3} auc {m.DiscAuc:F3}";
        return $"step {r.Step,6}/{r.TotalSteps} | loss {m.Loss:F4} | mlm {m.MlmLoss:F3}{disc} | gen acc {m.GenAcc:F3} | lr {r.Lr:E2} | {r.TokensPerSecond,8:N0} tok/s | ETA {Eta(r.Eta)}";
    }

    private static string Eta(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : $"{t.Minutes}m{t.Seconds:D2}s";
}
