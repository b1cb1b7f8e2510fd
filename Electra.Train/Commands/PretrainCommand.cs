using System.CommandLine;
using Electra.Model;
using Electra.Train.Data;
using Electra.Train.Pretraining;
using Spectre.Console;

namespace Electra.Train.Commands;

/// <summary>
/// <c>electra pretrain</c>: ELECTRA replaced-token-detection pretraining (or the MLM baseline). With no arguments it
/// trains the tiny preset on ./data/shards, preparing them from ./data/sotu (scripts/get-corpus.sh) if needed.
/// </summary>
public static class PretrainCommand
{
    public const string DefaultShards = "data/shards";
    public const string DefaultCorpus = "data/sotu";

    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "Model size: tiny, small, base or large", DefaultValueFactory = _ => "tiny" };
        var config = new Option<string?>("--config") { Description = "Discriminator config.json (HF format); overrides the preset's model" };
        var generatorConfig = new Option<string?>("--generator-config") { Description = "Generator config.json; default: the discriminator's with 1/4 the hidden size" };
        var data = new Option<string?>("--data") { Description = $"Shard directory from `electra prepare-data` (default: {DefaultShards}, prepared from {DefaultCorpus} when missing)" };
        var vocab = new Option<string?>("--vocab") { Description = "vocab.txt used to prepare the data (default: the bundled bert-base-uncased vocabulary)" };
        var steps = new Option<long?>("--steps") { Description = "Total training steps (the schedule decays to 0 at the last)" };
        var batch = new Option<int?>("--batch") { Description = "Sequences per step, B" };
        var seq = new Option<int?>("--seq") { Description = "Tokens per sequence, T (at most the shards' length)" };
        var lr = new Option<float?>("--lr") { Description = "Peak learning rate" };
        var warmup = new Option<long?>("--warmup") { Description = "Linear warmup steps" };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N", DefaultValueFactory = _ => "auto" };
        var seed = new Option<ulong?>("--seed") { Description = "Seed of initialisation, masking, sampling, dropout and data order" };
        var output = new Option<string?>("--out") { Description = "Run directory: metrics.jsonl and checkpoint/ (default: runs/pretrain-<preset>)" };
        var saveEvery = new Option<long?>("--save-every") { Description = "Checkpoint every N steps (and at the end, and on Ctrl-C)" };
        var logEvery = new Option<int?>("--log-every") { Description = "Log metrics every N steps" };
        var resume = new Option<string?>("--resume") { Description = "Continue exactly from a checkpoint directory (its settings win)" };
        var objective = new Option<string>("--objective") { Description = "rtd (ELECTRA) or mlm (BERT-style baseline of the discriminator's size)", DefaultValueFactory = _ => "rtd" };
        var precision = new Option<string?>("--precision") { Description = PrecisionChoice.Description + "; a resumed run keeps its checkpoint's unless given" };

        var command = new Command("pretrain", "Pretrain an ELECTRA generator + discriminator (replaced-token detection)");
        foreach (var o in new Option[] { preset, config, generatorConfig, data, vocab, steps, batch, seq, lr, warmup, device, seed, output, saveEvery, logEvery, resume, objective, precision })
            command.Options.Add(o);
        command.SetAction(parse =>
        {
            try
            {
                PretrainSettings settings;
                if (parse.GetValue(resume) is { } resumeDir)
                {
                    settings = PretrainCheckpoint.ReadState(resumeDir).Settings;
                    // A resumed run may be extended; everything else is the original's.
                    if (parse.GetValue(steps) is long more) settings = settings with { Steps = more };
                    if (parse.GetValue(precision) is string p) settings = settings with { Precision = PrecisionNames.Parse(p) };
                }
                else
                {
                    var p = parse.GetValue(preset)!;
                    var d = PretrainSettings.ForPreset(p);
                    settings = d with
                    {
                        Objective = ParseObjective(parse.GetValue(objective)!),
                        Steps = parse.GetValue(steps) ?? d.Steps,
                        Batch = parse.GetValue(batch) ?? d.Batch,
                        Seq = parse.GetValue(seq) ?? d.Seq,
                        Lr = parse.GetValue(lr) ?? d.Lr,
                        Warmup = parse.GetValue(warmup) ?? Math.Min(d.Warmup, Math.Max(1, (parse.GetValue(steps) ?? d.Steps) / 10)),
                        Seed = parse.GetValue(seed) ?? d.Seed,
                        SaveEvery = parse.GetValue(saveEvery) ?? d.SaveEvery,
                        LogEvery = parse.GetValue(logEvery) ?? d.LogEvery,
                        OutDir = parse.GetValue(output) ?? $"runs/pretrain-{p}",
                        DataDir = parse.GetValue(data),
                        Precision = parse.GetValue(precision) is string q ? PrecisionNames.Parse(q) : null,
                    };
                }
                Validate(settings);
                return Run(settings, parse.GetValue(config), parse.GetValue(generatorConfig), parse.GetValue(vocab), parse.GetValue(device)!, parse.GetValue(resume));
            }
            catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException or NotSupportedException
                                      or Electra.Model.Checkpoints.CheckpointMismatchException or Electra.IO.SafetensorsException)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]pretrain: {e.Message}[/]");
                return 1;
            }
        });
        return command;
    }

    private static Objective ParseObjective(string s) => s.ToLowerInvariant() switch
    {
        "rtd" or "electra" => Objective.Rtd,
        "mlm" => Objective.Mlm,
        _ => throw new ArgumentException($"--objective '{s}': expected rtd or mlm"),
    };

    private static void Validate(PretrainSettings s)
    {
        if (s.Steps < 1) throw new ArgumentException($"--steps must be at least 1, got {s.Steps}");
        if (s.Batch < 1) throw new ArgumentException($"--batch must be at least 1, got {s.Batch}");
        if (s.Seq < 8) throw new ArgumentException($"--seq must be at least 8, got {s.Seq}");
        if (!(s.Lr > 0)) throw new ArgumentException($"--lr must be positive, got {s.Lr}");
        if (s.Warmup < 0) throw new ArgumentException($"--warmup must not be negative, got {s.Warmup}");
        if (s.SaveEvery < 1 || s.LogEvery < 1) throw new ArgumentException("--save-every and --log-every must be at least 1");
    }

    private static int Run(PretrainSettings settings, string? configPath, string? generatorPath, string? vocabPath, string deviceName, string? resume)
    {
        var tokenizer = WordPieceTokenizer.Load(vocabPath);
        settings = settings with { DataDir = settings.DataDir ?? EnsureDefaultData(tokenizer) };
        var disc = configPath is null ? ElectraConfig.Preset(settings.Preset) : ElectraConfig.Load(configPath);
        disc = disc with { VocabSize = configPath is null ? tokenizer.VocabSize : disc.VocabSize, PadTokenId = tokenizer.PadId };
        var gen = generatorPath is null ? null : ElectraConfig.Load(generatorPath);
        var special = new SpecialTokens(tokenizer.PadId, tokenizer.UnkId, tokenizer.ClsId, tokenizer.SepId, tokenizer.MaskId);
        var (device, deviceNote) = DeviceChoice.Resolve(deviceName);

        using var runner = new PretrainRunner(settings, disc, gen, device, special, resume);
        AnsiConsole.MarkupLineInterpolated(
            $"[bold]electra pretrain[/] {settings.Objective.ToString().ToLowerInvariant()} · preset {settings.Preset} · {runner.Model.Discriminator?.ParameterCount() ?? runner.Model.Generator.ParameterCount():N0} discriminator parameters · device {deviceNote}");
        AnsiConsole.MarkupLineInterpolated(
            $"data {settings.DataDir} · B={settings.Batch} T={settings.Seq} · lr {settings.Lr} warmup {settings.Warmup} · steps {runner.Step}→{settings.Steps} · {runner.Precision.Name()} · out {settings.OutDir}");

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true; // finish the step, save, then stop
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        RunOutcome outcome;
        try
        {
            outcome = ProgressView.Run(runner, cancel.Token);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        switch (outcome)
        {
            case RunOutcome.Completed:
                AnsiConsole.MarkupLineInterpolated($"[green]done[/]: {settings.Steps} steps; checkpoint {runner.CheckpointDir}, metrics {runner.MetricsPath}");
                return 0;
            case RunOutcome.Interrupted:
                AnsiConsole.MarkupLineInterpolated($"[yellow]interrupted at step {runner.Step}[/]: checkpoint saved to {runner.CheckpointDir}; continue with --resume {runner.CheckpointDir}");
                return 130;
            default:
                var (step, value) = runner.DivergedAt!.Value;
                AnsiConsole.MarkupLineInterpolated(
                    $"[red]stopped: the loss or gradient norm became {value} at step {step}[/]; the last good checkpoint in {runner.CheckpointDir} is kept. Try a lower --lr or a longer --warmup.");
                return 2;
        }
    }

    /// <summary>./data/shards, prepared from ./data/sotu on first use.</summary>
    private static string EnsureDefaultData(WordPieceTokenizer tokenizer)
    {
        if (File.Exists(Path.Combine(DefaultShards, "manifest.json"))) return DefaultShards;
        if (!Directory.Exists(DefaultCorpus))
            throw new DirectoryNotFoundException(
                $"no training data: {DefaultShards} does not exist and neither does {DefaultCorpus}. Run `bash scripts/get-corpus.sh` to fetch the " +
                "public-domain State of the Union corpus, or pass --data DIR (made by `electra prepare-data`)");
        AnsiConsole.MarkupLineInterpolated($"preparing {DefaultShards} from {DefaultCorpus} (once)...");
        var (manifest, _) = DataPreparer.Run(new PrepareDataOptions([DefaultCorpus], DefaultShards), tokenizer, null, CancellationToken.None);
        AnsiConsole.MarkupLineInterpolated($"{manifest.Shards.Sum(s => s.Examples):N0} examples in {DefaultShards}");
        return DefaultShards;
    }
}
