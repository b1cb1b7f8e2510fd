using System.CommandLine;
using System.Runtime.InteropServices;
using Electra.Model;
using Electra.Train.Data;
using Electra.Train.Experiments;
using Electra.Train.FineTuning;
using Spectre.Console;

namespace Electra.Train.Commands;

/// <summary>
/// <c>electra experiment rtd-vs-mlm</c>: ELECTRA's comparison in one command — RTD pretraining, an MLM baseline of
/// the discriminator's size at equal training FLOPs, and fine-tuning of both (and of the untrained discriminator)
/// on GLUE tasks with several seeds, into results.md, results.json and results.png.
/// </summary>
public static class ExperimentCommand
{
    public static Command Create()
    {
        var command = new Command("experiment", "Experiments made of several pretraining and fine-tuning runs");
        command.Subcommands.Add(RtdVsMlm());
        return command;
    }

    private static Command RtdVsMlm()
    {
        var data = new Option<string>("--data") { Description = "Shard directory from `electra prepare-data`", Required = true };
        var glue = new Option<string>("--glue") { Description = "Folder with <task>/train.tsv and <task>/dev.tsv; a task without dev.tsv gets a held-out split (--dev-fraction)", Required = true };
        var preset = new Option<string>("--preset") { Description = "Model size: tiny, small, base or large", DefaultValueFactory = _ => "tiny" };
        var config = new Option<string?>("--config") { Description = "Discriminator config.json (HF format); overrides the preset's model" };
        var generatorConfig = new Option<string?>("--generator-config") { Description = "Generator config.json; default: the discriminator's with 1/4 the hidden size" };
        var steps = new Option<long?>("--steps") { Description = "RTD pretraining steps (default: the preset's); MLM gets the steps of equal training FLOPs" };
        var flops = new Option<double?>("--flops") { Description = "Pretraining budget in training FLOPs for each objective, e.g. 3e13 (instead of --steps)" };
        var seeds = new Option<int>("--seeds") { Description = "Fine-tuning seeds per model and task (1…K, the same for every model)", DefaultValueFactory = _ => 3 };
        var tasks = new Option<string>("--tasks") { Description = "Comma-separated GLUE tasks", DefaultValueFactory = _ => "sst2,cola" };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N", DefaultValueFactory = _ => "auto" };
        var output = new Option<string?>("--out") { Description = "Experiment folder: plan.json, one run folder per sub-run, results.* (default: runs/rtd-vs-mlm-<preset>)" };
        var batch = new Option<int?>("--batch") { Description = "Pretraining sequences per step, B" };
        var seq = new Option<int?>("--seq") { Description = "Pretraining tokens per sequence, T" };
        var lr = new Option<float?>("--lr") { Description = "Pretraining peak learning rate (both objectives)" };
        var warmup = new Option<long?>("--warmup") { Description = "Pretraining warmup steps (default: the preset's, at most a tenth of each run)" };
        var seed = new Option<ulong>("--seed") { Description = "Pretraining seed (initialisation, masking, data order)", DefaultValueFactory = _ => 1UL };
        var vocab = new Option<string?>("--vocab") { Description = "vocab.txt used to prepare the data (default: the bundled bert-base-uncased vocabulary)" };
        var ftEpochs = new Option<int>("--finetune-epochs") { Description = "Fine-tuning epochs", DefaultValueFactory = _ => 3 };
        var ftLr = new Option<float>("--finetune-lr") { Description = "Fine-tuning peak learning rate of the head", DefaultValueFactory = _ => 1e-4f };
        var ftBatch = new Option<int>("--finetune-batch") { Description = "Fine-tuning examples per step", DefaultValueFactory = _ => 32 };
        var ftSeq = new Option<int>("--finetune-seq") { Description = "Most tokens per fine-tuning example", DefaultValueFactory = _ => 128 };
        var layerDecay = new Option<float>("--layer-decay") { Description = "Fine-tuning layer-wise lr decay", DefaultValueFactory = _ => 0.8f };
        var trainLimit = new Option<int?>("--train-limit") { Description = "Fine-tune on the first N training rows of each task only" };
        var devFraction = new Option<double>("--dev-fraction") { Description = "Share of train.tsv held out as dev for a task without dev.tsv", DefaultValueFactory = _ => 0.1 };
        var logEvery = new Option<int?>("--log-every") { Description = "Pretraining: log (and print) every N steps (default: the preset's)" };
        var saveEvery = new Option<long?>("--save-every") { Description = "Pretraining: checkpoint every N steps (default: the preset's)" };

        var command = new Command("rtd-vs-mlm",
            "RTD vs MLM at equal pretraining FLOPs: pretrain both, fine-tune each (and an untrained discriminator) on GLUE tasks with K seeds; rerun to continue");
        foreach (var o in new Option[] { data, glue, preset, config, generatorConfig, steps, flops, seeds, tasks, device, output, batch, seq, lr, warmup, seed,
                     vocab, ftEpochs, ftLr, ftBatch, ftSeq, layerDecay, trainLimit, devFraction, logEvery, saveEvery })
            command.Options.Add(o);
        command.SetAction(parse =>
        {
            try
            {
                var p = parse.GetValue(preset)!;
                CheckFineTuneFlags(parse.GetValue(ftEpochs), parse.GetValue(ftLr), parse.GetValue(ftBatch), parse.GetValue(ftSeq));
                var options = new RtdVsMlmOptions
                {
                    Preset = p,
                    Discriminator = parse.GetValue(config) is { } c ? ElectraConfig.Load(c) : null,
                    Generator = parse.GetValue(generatorConfig) is { } g ? ElectraConfig.Load(g) : null,
                    DataDir = parse.GetValue(data)!,
                    GlueDir = parse.GetValue(glue)!,
                    OutDir = parse.GetValue(output) ?? $"runs/rtd-vs-mlm-{p.ToLowerInvariant()}",
                    Steps = parse.GetValue(steps),
                    Flops = parse.GetValue(flops),
                    Batch = parse.GetValue(batch),
                    Seq = parse.GetValue(seq),
                    Lr = parse.GetValue(lr),
                    Warmup = parse.GetValue(warmup),
                    Seed = parse.GetValue(seed),
                    LogEvery = parse.GetValue(logEvery),
                    SaveEvery = parse.GetValue(saveEvery),
                    Tasks = parse.GetValue(tasks)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                    Seeds = parse.GetValue(seeds),
                    FineTune = new FineTuneSettings
                    {
                        Epochs = parse.GetValue(ftEpochs),
                        Lr = parse.GetValue(ftLr),
                        Batch = parse.GetValue(ftBatch),
                        Seq = parse.GetValue(ftSeq),
                        LayerDecay = parse.GetValue(layerDecay),
                        LogEvery = 50,
                    },
                    TrainLimit = parse.GetValue(trainLimit),
                    DevFraction = parse.GetValue(devFraction),
                    Device = parse.GetValue(device)!,
                    VocabPath = parse.GetValue(vocab),
                };
                return Run(options);
            }
            catch (Exception e) when (UserErrors.Is(e))
            {
                Console.Error.WriteLine($"electra experiment rtd-vs-mlm: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    /// <summary>FineTuneSettings checks these too, but under finetune's flag names.</summary>
    private static void CheckFineTuneFlags(int epochs, float lr, int batch, int seq)
    {
        if (epochs < 1) throw new ArgumentException($"--finetune-epochs must be at least 1, got {epochs}");
        if (!(lr > 0f) || !float.IsFinite(lr)) throw new ArgumentException($"--finetune-lr must be positive, got {lr}");
        if (batch < 1) throw new ArgumentException($"--finetune-batch must be at least 1, got {batch}");
        if (seq < 4) throw new ArgumentException($"--finetune-seq must be at least 4 ([CLS] A [SEP] B [SEP]), got {seq}");
    }

    private static int Run(RtdVsMlmOptions options)
    {
        var tokenizer = WordPieceTokenizer.Load(options.VocabPath);
        var plan = RtdVsMlmRunner.MakePlan(options, tokenizer);
        var (device, deviceNote) = DeviceChoice.Resolve(options.Device);
        var runner = new RtdVsMlmRunner(plan, tokenizer, device, deviceNote) { Note = line => Console.WriteLine(line) };
        int fineTunes = runner.SubRuns.Count(r => r.Kind == SubRunKind.FineTune);
        AnsiConsole.MarkupLineInterpolated(
            $"[bold]electra experiment rtd-vs-mlm[/] · preset {plan.Rtd.Preset} · device {deviceNote} · out {plan.OutDir}");
        Console.WriteLine($"training FLOPs per step (matrix products, forward + backward): RTD {TrainingFlops.Format(plan.RtdStep.Training)} " +
            $"(generator {TrainingFlops.Format(3 * plan.RtdStep.GeneratorForward)}, discriminator {TrainingFlops.Format(3 * plan.RtdStep.DiscriminatorForward)}), " +
            $"MLM {TrainingFlops.Format(plan.MlmStep.Training)}");
        Console.WriteLine($"pretraining: RTD {plan.Rtd.Steps:N0} steps = {TrainingFlops.Format(plan.RtdFlops)} ({plan.RtdFlops:E4} FLOPs); " +
            $"MLM {plan.Mlm.Steps:N0} steps = {TrainingFlops.Format(plan.MlmFlops)} ({plan.MlmFlops:E4} FLOPs, {plan.MlmFlops / plan.RtdFlops:F4}× RTD's)");
        Console.WriteLine($"sub-runs: 2 pretraining, 1 untrained copy, {fineTunes} fine-tuning ({RtdVsMlmPlan.Sources.Length} models × " +
            $"{plan.Tasks.Count} tasks × {plan.Seeds.Count} seeds)");

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true; // finish the step, save, then stop
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        // Schedulers stop jobs with SIGTERM: save and stop the same way.
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            cancel.Cancel();
        });
        ExperimentOutcome outcome;
        try
        {
            outcome = runner.Run(r => Console.WriteLine(r.ToString()), cancel.Token);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        switch (outcome)
        {
            case ExperimentOutcome.Completed:
                Console.WriteLine();
                Console.Write(runner.Results!.ToMarkdown());
                AnsiConsole.MarkupLineInterpolated($"[green]done[/]: {Path.Combine(plan.OutDir, "results.md")}, results.json, results.png");
                return 0;
            case ExperimentOutcome.Interrupted:
                AnsiConsole.MarkupLineInterpolated($"[yellow]interrupted[/]: run the same command again to continue (finished sub-runs are kept, pretraining resumes from its checkpoint)");
                return 130;
            default:
                AnsiConsole.MarkupLineInterpolated($"[red]stopped: {runner.FailureMessage}[/]");
                return 2;
        }
    }
}
