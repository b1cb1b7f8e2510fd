using System.CommandLine;
using Electra.Model;
using Electra.Train.Data;
using Electra.Train.FineTuning;
using Electra.Train.Pretraining;
using Electra.Train.Reporting;
using Electra.Train.Runs;
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

    private sealed record Flags(
        string? Preset, string? Objective, long? Steps, int? Batch, int? Seq, float? Lr, long? Warmup, ulong? Seed, long? SaveEvery, int? LogEvery,
        float? Temperature, float? MaskProb, float? DiscWeight, string? Data, string? Out, string? Config, string? GeneratorConfig, string? Vocab,
        string Device, string? Resume, bool Overwrite, string? Precision, bool CudaGraph);

    public static Command Create()
    {
        var preset = new Option<string?>("--preset") { Description = "Model size: tiny, small, base or large (default: tiny)" };
        var config = new Option<string?>("--config") { Description = "Discriminator config.json (HF format); overrides the preset's model" };
        var generatorConfig = new Option<string?>("--generator-config") { Description = "Generator config.json; default: the discriminator's with 1/4 the hidden size" };
        var data = new Option<string?>("--data") { Description = $"Shard directory from `electra prepare-data` (default: {DefaultShards}, prepared from {DefaultCorpus} when missing)" };
        var vocab = new Option<string?>("--vocab") { Description = "vocab.txt used to prepare the data (default: the bundled bert-base-uncased vocabulary)" };
        var steps = new Option<long?>("--steps") { Description = "Total training steps (the schedule decays to 0 at the last); with --resume, a new total extends the run" };
        var batch = new Option<int?>("--batch") { Description = "Sequences per step, B" };
        var seq = new Option<int?>("--seq") { Description = "Tokens per sequence, T (at most the shards' length)" };
        var lr = new Option<float?>("--lr") { Description = "Peak learning rate, in (0, 1]" };
        var warmup = new Option<long?>("--warmup") { Description = "Linear warmup steps" };
        var temperature = new Option<float?>("--temperature") { Description = $"Sampling temperature of the generator's replacements (default {PretrainSettings.DefaultTemperature}, the paper's)" };
        var maskProb = new Option<float?>("--mask-prob") { Description = $"Share of tokens masked (default {PretrainSettings.DefaultMaskProb}, the paper's)" };
        var discWeight = new Option<float?>("--disc-weight") { Description = $"Weight of the discriminator's loss, λ (default {PretrainSettings.DefaultDiscWeight}, the paper's)" };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N", DefaultValueFactory = _ => "auto" };
        var seed = new Option<ulong?>("--seed") { Description = "Seed of initialisation, masking, sampling, dropout and data order" };
        var output = new Option<string?>("--out") { Description = "Run directory: metrics.jsonl and checkpoint/ (default: runs/pretrain-<preset>; with --resume, the checkpoint's own run directory)" };
        var saveEvery = new Option<long?>("--save-every") { Description = "Checkpoint every N steps (and at the end, and on Ctrl-C or SIGTERM)" };
        var logEvery = new Option<int?>("--log-every") { Description = "Log metrics every N steps" };
        var resume = new Option<string?>("--resume") { Description = "Continue exactly from a checkpoint (or its run directory); its settings hold, flags that disagree are refused" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the run in a non-empty --out (its metrics.jsonl and checkpoint/) instead of refusing" };
        var objective = new Option<string?>("--objective") { Description = "rtd (ELECTRA, default) or mlm (BERT-style baseline of the discriminator's size)" };
        var precision = new Option<string?>("--precision") { Description = PrecisionChoice.Description + "; a resumed run keeps its checkpoint's unless given" };
        var cudaGraph = CudaGraphOption.Create(
            "on: on CUDA, replay one captured CUDA graph for every step that logs nothing (the same numbers as eager steps; eager, with the reason, if capture fails); off: eager steps. Ignored on the CPU");

        var command = new Command("pretrain", "Pretrain an ELECTRA generator + discriminator (replaced-token detection)");
        foreach (var o in new Option[] { preset, config, generatorConfig, data, vocab, steps, batch, seq, lr, warmup, temperature, maskProb, discWeight,
                                         device, seed, output, saveEvery, logEvery, resume, overwrite, objective, precision, cudaGraph })
            command.Options.Add(o);
        command.SetAction(parse =>
        {
            try
            {
                var flags = new Flags(parse.GetValue(preset), parse.GetValue(objective), parse.GetValue(steps), parse.GetValue(batch), parse.GetValue(seq),
                    parse.GetValue(lr), parse.GetValue(warmup), parse.GetValue(seed), parse.GetValue(saveEvery), parse.GetValue(logEvery),
                    parse.GetValue(temperature), parse.GetValue(maskProb), parse.GetValue(discWeight), parse.GetValue(data), parse.GetValue(output),
                    parse.GetValue(config), parse.GetValue(generatorConfig), parse.GetValue(vocab), parse.GetValue(device)!, parse.GetValue(resume),
                    parse.GetValue(overwrite), parse.GetValue(precision), CudaGraphOption.Parse(parse.GetValue(cudaGraph)!));
                return Run(flags);
            }
            catch (Exception e) when (UserErrors.Is(e))
            {
                Console.Error.WriteLine($"electra pretrain: {e.Message}");
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

    /// <summary>The flags given on top of <paramref name="d"/>: a preset's defaults, or a resumed checkpoint's settings.</summary>
    private static PretrainSettings Apply(Flags f, PretrainSettings d) => d with
    {
        Preset = f.Preset ?? d.Preset,
        Objective = f.Objective is null ? d.Objective : ParseObjective(f.Objective),
        Steps = f.Steps ?? d.Steps,
        Batch = f.Batch ?? d.Batch,
        Seq = f.Seq ?? d.Seq,
        Lr = f.Lr ?? d.Lr,
        Warmup = f.Warmup ?? d.Warmup,
        Seed = f.Seed ?? d.Seed,
        SaveEvery = f.SaveEvery ?? d.SaveEvery,
        LogEvery = f.LogEvery ?? d.LogEvery,
        Temperature = f.Temperature ?? d.Temperature,
        MaskProb = f.MaskProb ?? d.MaskProb,
        DiscWeight = f.DiscWeight ?? d.DiscWeight,
        Precision = f.Precision is null ? d.Precision : PrecisionNames.Parse(f.Precision),
    };

    private static int Run(Flags f)
    {
        var tokenizer = WordPieceTokenizer.Load(f.Vocab);
        PretrainSettings settings;
        ElectraConfig disc;
        ElectraConfig? gen;
        if (f.Resume is not null)
        {
            var checkpoint = PretrainCheckpoint.Find(f.Resume);
            var state = PretrainCheckpoint.ReadState(checkpoint);
            var outDir = f.Out ?? PretrainCheckpoint.RunDirOf(checkpoint)
                ?? throw new ArgumentException($"--resume {checkpoint}: the checkpoint is not in a run directory (RUN/checkpoint); pass --out for the continued run");
            settings = Apply(f, state.Settings) with { DataDir = f.Data ?? state.Settings.DataDir, OutDir = outDir };
            settings.Validate();
            ResumeChecks.Settings(state, settings, checkpoint, []); // conflicting flags are refused even when there is nothing left to train
            if (settings.Steps == state.Step)
            {
                Console.WriteLine($"{checkpoint} is already at step {state.Step} of {settings.Steps}: nothing to train, nothing was written. " +
                                  $"Pass --steps N (more than {state.Step}) to extend the run.");
                return 0;
            }
            var (device, deviceNote) = DeviceChoice.Resolve(f.Device);
            var saved = PretrainCheckpoint.ReadConfigs(checkpoint, state.Settings.Objective);
            disc = f.Config is null ? saved.Discriminator : ElectraConfig.Load(f.Config) with { PadTokenId = tokenizer.PadId };
            gen = f.GeneratorConfig is null ? saved.Generator : ElectraConfig.Load(f.GeneratorConfig);
            return Train(settings, disc, gen, device, deviceNote, tokenizer, new PretrainStart { ResumeFrom = checkpoint, Overwrite = f.Overwrite, VocabHash = tokenizer.VocabHash, CudaGraph = f.CudaGraph });
        }

        var p = f.Preset ?? "tiny";
        var d = PretrainSettings.ForPreset(p);
        settings = Apply(f, d) with
        {
            Warmup = f.Warmup ?? Math.Min(d.Warmup, Math.Max(1, (f.Steps ?? d.Steps) / 10)),
            OutDir = f.Out ?? $"runs/pretrain-{p}",
        };
        settings.Validate();
        // Refuse a busy or non-empty run directory now, before preparing the default data (minutes) for nothing.
        RunDirectory.Check(settings.OutDir, f.Overwrite ? RunDirectoryUse.Overwrite : RunDirectoryUse.New, ResumeHint(settings.OutDir));
        var (cpuOrCuda, note) = DeviceChoice.Resolve(f.Device);
        settings = settings with { DataDir = f.Data ?? EnsureDefaultData(tokenizer) };
        disc = f.Config is null ? ElectraConfig.Preset(settings.Preset) : ElectraConfig.Load(f.Config);
        disc = disc with { VocabSize = f.Config is null ? tokenizer.VocabSize : disc.VocabSize, PadTokenId = tokenizer.PadId };
        gen = f.GeneratorConfig is null ? null : ElectraConfig.Load(f.GeneratorConfig);
        return Train(settings, disc, gen, cpuOrCuda, note, tokenizer, new PretrainStart { Overwrite = f.Overwrite, VocabHash = tokenizer.VocabHash, CudaGraph = f.CudaGraph });
    }

    private static string ResumeHint(string outDir)
    {
        var checkpoint = Path.Combine(outDir, PretrainCheckpoint.RunCheckpointName);
        return PretrainCheckpoint.Exists(checkpoint) ? $"--resume {Path.GetFullPath(checkpoint)} to continue it, " : "";
    }

    private static int Train(PretrainSettings settings, ElectraConfig disc, ElectraConfig? gen, Device device, string deviceNote,
        WordPieceTokenizer tokenizer, PretrainStart start)
    {
        var special = new SpecialTokens(tokenizer.PadId, tokenizer.UnkId, tokenizer.ClsId, tokenizer.SepId, tokenizer.MaskId);
        using var runner = new PretrainRunner(settings, disc, gen, device, special, start);
        settings = runner.Settings;
        foreach (var notice in runner.Notices) Console.WriteLine($"note: {notice}");
        var knobs = settings.Objective == Objective.Rtd
            ? $" · temperature {settings.Temperature} mask {settings.MaskProb} λ {settings.DiscWeight}"
            : $" · mask {settings.MaskProb}";
        StatusLine.Write(
            $"electra pretrain {settings.Objective.ToString().ToLowerInvariant()} · preset {settings.Preset} · {runner.Model.Discriminator?.ParameterCount() ?? runner.Model.Generator.ParameterCount():N0} discriminator parameters · device {deviceNote}", "bold");
        StatusLine.Write(
            $"data {settings.DataDir} · B={settings.Batch} T={settings.Seq} · lr {settings.Lr} warmup {settings.Warmup}{knobs} · steps {runner.Step}→{settings.Steps} · {runner.Precision.Name()}{(runner.GraphMode == "n/a" ? "" : $" · cuda graph {runner.GraphMode}")} · out {settings.OutDir}");

        RunOutcome outcome;
        using (var signals = new StopSignals())
        {
            outcome = ProgressView.Run(runner, signals.Token);
            if (runner.GraphMode != "n/a")
                StatusLine.Write($"cuda graph {runner.GraphMode}: {runner.ReplayedSteps} steps replayed from it, the others (logging, saving, the first) eager; " +
                                 $"peak device memory {runner.PeakDeviceBytes / (double)(1L << 30):F2} GiB");
            if (outcome == RunOutcome.Interrupted)
            {
                StatusLine.Write(
                    $"interrupted ({signals.Received}) at step {runner.Step}: checkpoint saved to {runner.CheckpointDir}; continue with --resume {runner.CheckpointDir}", "yellow");
                return signals.ExitCode;
            }
        }
        if (outcome == RunOutcome.Completed)
        {
            StatusLine.Write($"done: {settings.Steps} steps; checkpoint {runner.CheckpointDir}, metrics {runner.MetricsPath}", "green");
            return 0;
        }
        StatusLine.Write(DivergenceMessage(runner), "red");
        return 2;
    }

    /// <summary>What a diverged run says: where it diverged, and the checkpoint that is kept only if there is one.</summary>
    public static string DivergenceMessage(PretrainRunner runner)
    {
        var (step, value) = runner.DivergedAt ?? throw new InvalidOperationException("the run did not diverge");
        var kept = runner.LastGoodCheckpoint is { } last
            ? $"the last good checkpoint, {last} (step {PretrainCheckpoint.ReadState(last).Step}), is kept"
            : $"no checkpoint was saved before it (the first was due at step {Math.Min(runner.Settings.SaveEvery, runner.Settings.Steps)})";
        return $"stopped: the loss or gradient norm became {value} at step {step}; {kept}. Try a lower --lr or a longer --warmup.";
    }

    /// <summary>./data/shards (absolute), prepared from ./data/sotu on first use.</summary>
    private static string EnsureDefaultData(WordPieceTokenizer tokenizer)
    {
        var shards = Path.GetFullPath(DefaultShards);
        if (File.Exists(Path.Combine(shards, "manifest.json"))) return shards;
        if (!Directory.Exists(DefaultCorpus))
            throw new DirectoryNotFoundException(
                $"no training data: {DefaultShards} does not exist and neither does {DefaultCorpus}. Run `bash scripts/get-corpus.sh` to fetch the " +
                "public-domain State of the Union corpus, or pass --data DIR (made by `electra prepare-data`)");
        AnsiConsole.MarkupLineInterpolated($"preparing {DefaultShards} from {DefaultCorpus} (once)...");
        var (manifest, _) = DataPreparer.Run(new PrepareDataOptions([DefaultCorpus], DefaultShards), tokenizer, null, CancellationToken.None);
        AnsiConsole.MarkupLineInterpolated($"{manifest.Shards.Sum(s => s.Examples):N0} examples in {DefaultShards}");
        return shards;
    }
}
