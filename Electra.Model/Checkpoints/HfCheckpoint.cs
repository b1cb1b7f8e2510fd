using Electra.IO;
using Electra.Nn;

namespace Electra.Model.Checkpoints;

/// <summary>
/// One network as a Hugging Face model directory: <c>config.json</c> + <c>model.safetensors</c> under HF's
/// parameter names, so <c>from_pretrained(dir)</c> accepts it.
/// </summary>
public static class HfCheckpoint
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";

    public static void Save(string dir, Module module, ElectraConfig config)
    {
        Directory.CreateDirectory(dir);
        var tensors = HfNames.Export(module).ToList();
        try
        {
            SafetensorsWriter.Write(Path.Combine(dir, WeightsFile), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        }
        finally
        {
            // Split Q/K/V parts are temporary copies; the module's own parameters stay.
            var own = module.Parameters().ToHashSet(ReferenceEqualityComparer.Instance);
            foreach (var (_, t) in tensors) if (!own.Contains(t)) t.Dispose();
        }
        config.Save(Path.Combine(dir, ConfigFile));
    }

    /// <summary>The directory's model.safetensors; a PyTorch pickle in its place gets a conversion hint.</summary>
    public static string WeightsPath(string dir)
    {
        var path = Path.Combine(dir, WeightsFile);
        if (File.Exists(path)) return path;
        var bin = Path.Combine(dir, "pytorch_model.bin");
        if (File.Exists(bin))
            throw new NotSupportedException($"{bin}: PyTorch pickle checkpoints are not supported; convert it to safetensors first " +
                "(in Python: model = AutoModel.from_pretrained(dir); model.save_pretrained(dir, safe_serialization=True))");
        throw new FileNotFoundException($"{dir}: no {WeightsFile}", path);
    }

    /// <summary>
    /// Loads weights into <paramref name="module"/>, whose HF names are those of the file possibly without or with
    /// an extra leading <c>electra.</c>. Names in <paramref name="optionalPrefixes"/> may be present in the file
    /// without being used (e.g. a pretraining head when only the body is loaded).
    /// </summary>
    public static void Load(string dir, Module module, params string[] optionalPrefixes)
    {
        var path = WeightsPath(dir);
        using var file = SafetensorsFile.Open(path);
        string? Resolve(string name)
        {
            if (file.Contains(name)) return name;
            if (name.StartsWith("electra.", StringComparison.Ordinal) && file.Contains(name["electra.".Length..])) return name["electra.".Length..];
            if (file.Contains("electra." + name)) return "electra." + name;
            return null;
        }
        StateLoader.Load(module, file, Resolve, n => n == "generator_lm_head.weight" || optionalPrefixes.Any(p => n.StartsWith(p, StringComparison.Ordinal)));
    }
}
