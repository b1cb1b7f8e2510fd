using System.Text.Json;
using System.Text.Json.Nodes;

namespace Electra.Model.Checkpoints;

/// <summary>What a Hugging Face model directory's config.json says beyond the network's sizes.</summary>
/// <param name="Architecture">The first entry of <c>architectures</c>, or null when the config names none.</param>
/// <param name="Labels">id2label in id order (empty when the config has none).</param>
public sealed record HfModelInfo(string Dir, ElectraConfig Config, string ModelType, string? Architecture, IReadOnlyList<string> Labels,
    string? ProblemType, string? FinetuningTask)
{
    public bool IsBert => ModelType == "bert";
    public int NumLabels => Labels.Count;
}

/// <summary>
/// Reads and writes the config.json of HF model directories: which architecture a directory holds, and for a
/// sequence classifier its labels, problem type and task.
/// </summary>
public static class HfModelDir
{
    public const string SequenceClassification = "ElectraForSequenceClassification";

    /// <summary>Architectures whose weights hold an ELECTRA or BERT encoder we can load (their heads are skipped).</summary>
    public static readonly IReadOnlyList<string> Supported =
    [
        "ElectraForPreTraining", "ElectraForMaskedLM", "ElectraModel", SequenceClassification,
        "BertModel", "BertForPreTraining", "BertForMaskedLM",
    ];

    public static HfModelInfo Read(string dir)
    {
        var path = Path.Combine(dir, HfCheckpoint.ConfigFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{dir}: no {HfCheckpoint.ConfigFile} (not a Hugging Face model directory)", path);
        var json = File.ReadAllText(path);
        var config = ElectraConfig.Parse(json, path);
        var o = (JsonObject)JsonNode.Parse(json)!;
        string? Str(string key) => o[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

        var modelType = Str("model_type") ?? (config.Architectures.Any(a => a.StartsWith("Bert", StringComparison.Ordinal)) ? "bert" : "electra");
        var arch = config.Architectures.FirstOrDefault();
        if (arch is not null && !Supported.Contains(arch))
            throw new NotSupportedException($"{path}: architecture '{arch}' is not supported; supported: {string.Join(", ", Supported)}");
        if (arch is not null && arch.StartsWith("Bert", StringComparison.Ordinal) != (modelType == "bert"))
            throw new InvalidDataException($"{path}: architecture '{arch}' does not match model_type '{modelType}'");

        var labels = new List<string>();
        if (o["id2label"] is JsonObject id2label)
        {
            var byId = new SortedDictionary<int, string>();
            foreach (var (key, value) in id2label)
            {
                if (!int.TryParse(key, out var id) || id < 0 || value is not JsonValue v || !v.TryGetValue<string>(out var name))
                    throw new InvalidDataException($"{path}: id2label entry '{key}' must map a class id to a label name");
                byId[id] = name;
            }
            if (byId.Count > 0 && byId.Keys.Last() != byId.Count - 1)
                throw new InvalidDataException($"{path}: id2label ids must be 0…{byId.Count - 1}, found {string.Join(", ", byId.Keys)}");
            labels.AddRange(byId.Values);
        }
        if (o["num_labels"] is JsonValue nl && nl.TryGetValue<int>(out var numLabels))
        {
            if (labels.Count > 0 && numLabels != labels.Count)
                throw new InvalidDataException($"{path}: num_labels {numLabels} disagrees with id2label's {labels.Count} entries");
            if (labels.Count == 0) labels.AddRange(Enumerable.Range(0, numLabels).Select(i => $"LABEL_{i}"));
        }
        // The head computes softmax over its labels, or one score for regression; multi-label sigmoids it does not.
        var problemType = Str("problem_type");
        if (problemType is not (null or "single_label_classification" or "regression"))
            throw new InvalidDataException($"{path}: problem_type '{problemType}' is not supported (supported: single_label_classification, regression)");
        if (problemType == "regression" && labels.Count != 1)
            throw new InvalidDataException($"{path}: problem_type 'regression' needs num_labels 1, got {labels.Count}");
        if (problemType == "single_label_classification" && labels.Count < 2)
            throw new InvalidDataException($"{path}: problem_type 'single_label_classification' needs at least 2 labels, got {labels.Count}");
        return new HfModelInfo(dir, config, modelType, arch, labels, problemType, Str("finetuning_task"));
    }

    /// <summary>
    /// config.json of an <c>ElectraForSequenceClassification</c>: the encoder's fields plus architectures,
    /// num_labels, id2label/label2id, problem_type ("regression" for one output, else "single_label_classification")
    /// and finetuning_task, so HF's <c>from_pretrained</c> rebuilds the same head.
    /// </summary>
    public static string ClassifierConfigJson(ElectraConfig config, IReadOnlyList<string> labels, string? task)
    {
        if (labels.Count < 1) throw new ArgumentException("a classifier config needs at least one label");
        var o = (JsonObject)JsonNode.Parse((config with { Architectures = [SequenceClassification] }).ToJson())!;
        var id2label = new JsonObject();
        var label2id = new JsonObject();
        for (int i = 0; i < labels.Count; i++)
        {
            id2label[i.ToString(System.Globalization.CultureInfo.InvariantCulture)] = labels[i];
            label2id[labels[i]] = i;
        }
        o["num_labels"] = labels.Count;
        o["id2label"] = id2label;
        o["label2id"] = label2id;
        o["problem_type"] = labels.Count == 1 ? "regression" : "single_label_classification";
        if (task is not null) o["finetuning_task"] = task;
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }
}
