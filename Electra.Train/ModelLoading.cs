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
}
