using Electra.Model;
using Electra.Model.Checkpoints;
using Electra.Train.Pretraining;

namespace Electra.Train;

/// <summary>Finds and loads the networks of a model directory: a pretraining checkpoint or an HF model directory.</summary>
public static class ModelLoading
{
    /// <summary>
    /// The HF directory holding the discriminator: DIR itself when it has a config.json, DIR/discriminator for a
    /// pretraining run's checkpoint, or DIR/checkpoint/discriminator for a run directory.
    /// </summary>
    public static string DiscriminatorDir(string dir)
    {
        foreach (var candidate in new[] { dir, Path.Combine(dir, PretrainCheckpoint.DiscriminatorDir), Path.Combine(dir, "checkpoint", PretrainCheckpoint.DiscriminatorDir) })
            if (File.Exists(Path.Combine(candidate, HfCheckpoint.ConfigFile))) return candidate;
        throw new DirectoryNotFoundException(
            $"{dir}: no model found (looked for config.json in it, in {PretrainCheckpoint.DiscriminatorDir}/ and in checkpoint/{PretrainCheckpoint.DiscriminatorDir}/)");
    }

    public static Discriminator LoadDiscriminator(string dir, Device device)
    {
        var hfDir = DiscriminatorDir(dir);
        var config = ElectraConfig.Load(Path.Combine(hfDir, HfCheckpoint.ConfigFile));
        var rng = new Random(0);
        var embeddings = new ElectraEmbeddings(config, rng, device);
        var model = new Discriminator(config, embeddings, rng, device);
        try
        {
            HfCheckpoint.Load(hfDir, model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.Eval();
        return model;
    }

    /// <summary>
    /// The encoder of any supported HF directory — an ELECTRA discriminator or generator, a bare ElectraModel, a
    /// fine-tuned classifier or a BERT body — in eval mode, with what its config.json says.
    /// </summary>
    public static (ElectraModel Body, HfModelInfo Info) LoadEncoder(string dir, Device device)
    {
        var info = HfModelDir.Read(DiscriminatorDir(dir));
        var body = new ElectraModel(info.Config, new ElectraEmbeddings(info.Config, new Random(0), device), new Random(0), device);
        try
        {
            HfBody.Load(info.Dir, body);
        }
        catch
        {
            body.Dispose();
            throw;
        }
        body.Eval();
        return (body, info);
    }

    /// <summary>
    /// A classifier for fine-tuning: the encoder from <paramref name="dir"/> (see <see cref="LoadEncoder"/>) and a new
    /// head with <paramref name="numLabels"/> outputs, initialised N(0, initializer_range) from <paramref name="seed"/>.
    /// </summary>
    public static (SequenceClassifier Model, HfModelInfo Info) ClassifierFromEncoder(string dir, int numLabels, Device device, int seed)
    {
        var info = HfModelDir.Read(DiscriminatorDir(dir));
        var config = info.Config with { Architectures = [HfModelDir.SequenceClassification] };
        var model = new SequenceClassifier(config, numLabels, new Random(seed), device);
        try
        {
            HfBody.Load(info.Dir, model.Electra);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return (model, info);
    }

    /// <summary>A fine-tuned classifier: DIR itself, or DIR/best as electra finetune writes it.</summary>
    public static (SequenceClassifier Model, HfModelInfo Info) LoadClassifier(string dir, Device device)
    {
        var best = Path.Combine(dir, "best");
        if (!File.Exists(Path.Combine(dir, HfCheckpoint.ConfigFile)) && File.Exists(Path.Combine(best, HfCheckpoint.ConfigFile))) dir = best;
        if (!File.Exists(Path.Combine(dir, HfCheckpoint.ConfigFile)))
            throw new DirectoryNotFoundException($"{dir}: no fine-tuned model found (looked for config.json in it and in best/)");
        return ClassifierCheckpoint.Load(dir, device);
    }
}
