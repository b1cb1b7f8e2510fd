namespace Electra.Model.Checkpoints;

/// <summary>
/// A fine-tuned <see cref="SequenceClassifier"/> as an HF <c>ElectraForSequenceClassification</c> directory:
/// <c>electra.*</c> and <c>classifier.*</c> tensors in model.safetensors, labels and problem type in config.json.
/// </summary>
public static class ClassifierCheckpoint
{
    /// <summary>Writes beside <paramref name="dir"/> and renames into place, so a crash never leaves half a model.</summary>
    public static void Save(string dir, SequenceClassifier model, IReadOnlyList<string> labels, string? task)
    {
        if (labels.Count != model.NumLabels)
            throw new ArgumentException($"{labels.Count} label names for a classifier with {model.NumLabels} outputs");
        DirectorySwap.Write(dir, staging =>
        {
            HfCheckpoint.Save(staging, model, model.Config);
            File.WriteAllText(Path.Combine(staging, HfCheckpoint.ConfigFile), HfModelDir.ClassifierConfigJson(model.Config, labels, task));
        });
    }

    /// <summary>Loads a classifier saved by <see cref="Save"/> or by HF's <c>save_pretrained</c>.</summary>
    public static (SequenceClassifier Model, HfModelInfo Info) Load(string dir, Device device)
    {
        var info = HfModelDir.Read(dir);
        if (info.Architecture != HfModelDir.SequenceClassification)
            throw new NotSupportedException(
                $"{dir} holds {(info.Architecture is null ? "a model without an architecture" : "an " + info.Architecture)}, not a fine-tuned {HfModelDir.SequenceClassification} (run electra finetune first)");
        if (info.NumLabels < 1) throw new InvalidDataException($"{dir}/{HfCheckpoint.ConfigFile}: a sequence classifier needs id2label (or num_labels)");
        var model = new SequenceClassifier(info.Config, info.NumLabels, new Random(0), device);
        try
        {
            HfCheckpoint.Load(dir, model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.Eval();
        return (model, info);
    }
}
