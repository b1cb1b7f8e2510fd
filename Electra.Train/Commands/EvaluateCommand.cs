using System.CommandLine;
using System.Text.Json.Nodes;
using Electra.Train.Data;
using Electra.Train.FineTuning;
using Electra.Train.Glue;
using Spectre.Console;

namespace Electra.Train.Commands;

/// <summary><c>electra evaluate</c>: a fine-tuned classifier's GLUE metrics on one labelled TSV file.</summary>
public static class EvaluateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Fine-tuned ElectraForSequenceClassification directory (or a finetune run, using its best/)", Required = true };
        var task = new Option<string?>("--task") { Description = "GLUE task (default: the model's finetuning_task)" };
        var data = new Option<string>("--data") { Description = "Labelled TSV file in the task's GLUE layout, e.g. dev.tsv", Required = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table" };
        var vocab = new Option<string?>("--vocab") { Description = "vocab.txt (default: the bundled bert-base-uncased vocabulary)" };
        var seq = new Option<int>("--seq") { Description = "Most tokens per example", DefaultValueFactory = _ => 128 };
        var batch = new Option<int>("--batch") { Description = "Examples per forward pass", DefaultValueFactory = _ => 64 };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N", DefaultValueFactory = _ => "auto" };
        var precision = new Option<string?>("--precision") { Description = PrecisionChoice.Description };
        var command = new Command("evaluate", "GLUE metrics of a fine-tuned model on a labelled TSV file");
        foreach (var o in new Option[] { model, task, data, json, vocab, seq, batch, device, precision }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            try
            {
                if (parse.GetValue(seq) < 4) throw new ArgumentException($"--seq must be at least 4, got {parse.GetValue(seq)}");
                if (parse.GetValue(batch) < 1) throw new ArgumentException($"--batch must be at least 1, got {parse.GetValue(batch)}");
                var tokenizer = WordPieceTokenizer.Load(parse.GetValue(vocab));
                var (dev, _) = DeviceChoice.Resolve(parse.GetValue(device)!);
                var (classifier, info) = ModelLoading.LoadClassifier(parse.GetValue(model)!, dev);
                using var _ = classifier;
                var taskName = parse.GetValue(task) ?? info.FinetuningTask
                    ?? throw new ArgumentException($"{info.Dir}: the model does not name its task (finetuning_task); pass --task");
                var glueTask = GlueTask.Get(taskName);
                // Tasks with the same number of labels load each other's models without complaint; the numbers would
                // then measure the wrong thing, so say so (on stderr: --json output stays one object).
                if (info.FinetuningTask is { } trainedOn && parse.GetValue(task) is not null
                    && trainedOn.Trim().ToLowerInvariant().Replace("-", "") != glueTask.Name)
                    Console.Error.WriteLine(
                        $"electra evaluate: warning: --task {glueTask.Name}, but {info.Dir} was fine-tuned on {trainedOn} (finetuning_task in its config.json)");
                if (glueTask.NumLabels != classifier.NumLabels)
                    throw new ArgumentException($"{info.Dir} has {classifier.NumLabels} outputs but {glueTask.Name} needs {glueTask.NumLabels}; was it fine-tuned on {info.FinetuningTask ?? "another task"}?");
                var dataset = GlueReader.Read(glueTask, parse.GetValue(data)!);
                int seqLen = Math.Min(parse.GetValue(seq), classifier.Config.MaxPositionEmbeddings);
                var examples = PairEncoder.EncodeAll(tokenizer, dataset.Examples, seqLen);
                Evaluation result;
                using (Autocast.For(PrecisionChoice.Resolve(parse.GetValue(precision), dev)))
                    result = Predictor.Evaluate(classifier, glueTask, examples, parse.GetValue(batch), tokenizer.PadId);
                if (parse.GetValue(json)) Console.WriteLine(ToJson(glueTask, dataset.Path, examples.Count, result).ToJsonString());
                else
                {
                    var table = new Table().AddColumn("task").AddColumn("examples");
                    foreach (var m in result.Metrics) table.AddColumn(m.Name);
                    table.AddRow([glueTask.Name, examples.Count.ToString("N0"), .. result.Metrics.Select(m => m.Value.ToString("F4"))]);
                    AnsiConsole.MarkupLineInterpolated($"{dataset.Path} · model {info.Dir}");
                    AnsiConsole.Write(table);
                }
                return 0;
            }
            catch (Exception e) when (UserErrors.Is(e))
            {
                Console.Error.WriteLine($"electra evaluate: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    public static JsonObject ToJson(GlueTask task, string path, int count, Evaluation result)
    {
        var metrics = new JsonObject();
        foreach (var m in result.Metrics) metrics[m.Name] = double.IsFinite(m.Value) ? Math.Round(m.Value, 6) : null;
        return new JsonObject { ["task"] = task.Name, ["data"] = path, ["examples"] = count, ["metrics"] = metrics };
    }
}
