using System.CommandLine;
using Electra.Train.Data;
using Electra.Train.FineTuning;
using Electra.Train.Glue;
using Electra.Train.Reporting;
using Electra.Train.Runs;
using Spectre.Console;

namespace Electra.Train.Commands;

/// <summary>
/// <c>electra finetune</c>: a pretrained encoder (pretraining checkpoint, HF ELECTRA or BERT directory) plus a new
/// classification head, trained on a GLUE task; the best-on-dev model is saved as an HF
/// ElectraForSequenceClassification directory in OUT/best.
/// </summary>
public static class FinetuneCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Pretraining run/checkpoint or HF model directory (ELECTRA or BERT)", Required = true };
        var task = new Option<string>("--task") { Description = $"GLUE task: {string.Join(", ", GlueTask.All.Select(t => t.Name))}", Required = true };
        var data = new Option<string>("--data") { Description = "Folder with the task's train.tsv and dev.tsv (dev_matched.tsv for MNLI)", Required = true };
        var output = new Option<string>("--out") { Description = "Run directory: metrics.jsonl, best.json and best/ (the best-on-dev model)", Required = true };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training set", DefaultValueFactory = _ => 3 };
        var lr = new Option<float>("--lr") { Description = "Peak learning rate of the head (lower layers get less, see --layer-decay)", DefaultValueFactory = _ => 1e-4f };
        var layerDecay = new Option<float>("--layer-decay") { Description = "Layer-wise lr decay: layer l of L gets lr·d^(L−l), the embeddings lr·d^(L+1)", DefaultValueFactory = _ => 0.8f };
        var batch = new Option<int>("--batch") { Description = "Examples per step", DefaultValueFactory = _ => 32 };
        var seq = new Option<int>("--seq") { Description = "Most tokens per example ([CLS] A [SEP] B [SEP]; the longer segment is cut)", DefaultValueFactory = _ => 128 };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N", DefaultValueFactory = _ => "auto" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the head's initialisation, data order and dropout", DefaultValueFactory = _ => 1UL };
        var warmup = new Option<float>("--warmup") { Description = "Fraction of the steps spent warming up", DefaultValueFactory = _ => 0.1f };
        var weightDecay = new Option<float>("--weight-decay") { Description = "Decoupled weight decay (not on LayerNorm or biases)", DefaultValueFactory = _ => 0.01f };
        var vocab = new Option<string?>("--vocab") { Description = "vocab.txt (default: the bundled bert-base-uncased vocabulary)" };
        var trainLimit = new Option<int?>("--train-limit") { Description = "Use only the first N training examples (quick runs)" };
        var logEvery = new Option<int>("--log-every") { Description = "Log the loss every N steps", DefaultValueFactory = _ => 10 };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the run in a non-empty --out (its metrics.jsonl, best/ and best.json) instead of refusing" };
        var precision = new Option<string?>("--precision") { Description = PrecisionChoice.Description };

        var command = new Command("finetune", "Fine-tune a pretrained encoder on a GLUE task (best-on-dev model saved for HF)");
        foreach (var o in new Option[] { model, task, data, output, epochs, lr, layerDecay, batch, seq, device, seed, warmup, weightDecay, vocab, trainLimit, logEvery, overwrite, precision })
            command.Options.Add(o);
        command.SetAction(parse =>
        {
            try
            {
                var settings = new FineTuneSettings
                {
                    Epochs = parse.GetValue(epochs),
                    Lr = parse.GetValue(lr),
                    LayerDecay = parse.GetValue(layerDecay),
                    Batch = parse.GetValue(batch),
                    Seq = parse.GetValue(seq),
                    Seed = parse.GetValue(seed),
                    WarmupFraction = parse.GetValue(warmup),
                    WeightDecay = parse.GetValue(weightDecay),
                    LogEvery = parse.GetValue(logEvery),
                    OutDir = parse.GetValue(output),
                    Overwrite = parse.GetValue(overwrite),
                    Precision = parse.GetValue(precision) is string p ? PrecisionNames.Parse(p) : null,
                }.Validate();
                if (parse.GetValue(trainLimit) is int n && n < 1) throw new ArgumentException($"--train-limit must be at least 1, got {n}");
                return Run(settings, GlueTask.Get(parse.GetValue(task)!), parse.GetValue(model)!, parse.GetValue(data)!, parse.GetValue(vocab),
                    parse.GetValue(device)!, parse.GetValue(trainLimit));
            }
            catch (Exception e) when (UserErrors.Is(e))
            {
                Console.Error.WriteLine($"electra finetune: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    private static int Run(FineTuneSettings settings, GlueTask task, string modelDir, string dataDir, string? vocabPath, string deviceName, int? trainLimit)
    {
        // Everything that can refuse the run cheaply comes before reading, encoding and loading.
        var (device, deviceNote) = DeviceChoice.Resolve(deviceName);
        RunDirectory.Check(settings.OutDir!, settings.Overwrite ? RunDirectoryUse.Overwrite : RunDirectoryUse.New);
        var tokenizer = WordPieceTokenizer.Load(vocabPath);
        var trainSet = GlueReader.ReadSplit(task, dataDir, dev: false);
        var devSet = GlueReader.ReadSplit(task, dataDir, dev: true);
        VocabularyCheck.Require(modelDir, tokenizer);
        var trainExamples = trainLimit is int n ? trainSet.Examples.Take(n) : trainSet.Examples;
        var train = PairEncoder.EncodeAll(tokenizer, trainExamples, settings.Seq);
        var dev = PairEncoder.EncodeAll(tokenizer, devSet.Examples, settings.Seq);

        var (classifier, info) = ModelLoading.ClassifierFromEncoder(modelDir, task.NumLabels, device, (int)(settings.Seed & 0x7FFFFFFF));
        using var _ = classifier;
        if (tokenizer.VocabSize > info.Config.VocabSize)
            throw new ArgumentException($"the vocabulary has {tokenizer.VocabSize} tokens but the model ({info.Dir}) has vocab_size {info.Config.VocabSize}; pass the model's --vocab");
        using var runner = new FineTuneRunner(classifier, task, train, dev, tokenizer.PadId, settings);
        foreach (var notice in runner.Notices) Console.WriteLine($"note: {notice}");
        AnsiConsole.MarkupLineInterpolated(
            $"[bold]electra finetune[/] {task.Name} · encoder {info.Dir} ({info.Architecture ?? info.ModelType}, {info.Config.NumHiddenLayers} layers, H={info.Config.HiddenSize}) · {classifier.ParameterCount():N0} parameters · device {deviceNote}");
        AnsiConsole.MarkupLineInterpolated(
            $"train {train.Count:N0} · dev {dev.Count:N0} · epochs {settings.Epochs} ({runner.TotalSteps} steps, warmup {runner.WarmupSteps}) · B={settings.Batch} T≤{settings.Seq} · lr {settings.Lr} layer decay {settings.LayerDecay} · {runner.Precision.Name()} · out {settings.OutDir}");

        using var signals = new StopSignals();
        try
        {
            var result = FineTuneProgress.Run(runner, signals.Token);
            var metrics = string.Join(", ", result.Best.Metrics.Select(m => $"{m.Name} {m.Value:F4}"));
            AnsiConsole.MarkupLineInterpolated($"[green]done[/]: best dev {metrics} (epoch {result.BestEpoch}); model {runner.BestDir}, metrics {Path.Combine(settings.OutDir!, "metrics.jsonl")}");
            return 0;
        }
        catch (OperationCanceledException)
        {
            var best = Directory.Exists(runner.BestDir)
                ? $"the best model so far is in {runner.BestDir}"
                : "no epoch finished, so no model was saved";
            StatusLine.Write($"interrupted ({signals.Received}): {best}", "yellow");
            return signals.ExitCode;
        }
        catch (InvalidOperationException e) when (e.Message.StartsWith("fine-tuning diverged", StringComparison.Ordinal))
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{e.Message}[/]");
            return 2;
        }
    }
}
