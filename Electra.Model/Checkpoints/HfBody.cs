using Electra.IO;

namespace Electra.Model.Checkpoints;

/// <summary>
/// Loads the encoder (HF <c>ElectraModel</c>: embeddings, embeddings_project, encoder.layer.N) out of any supported
/// checkpoint, whatever head it was saved with. The body's names may sit under <c>electra.</c> (ELECTRA models with
/// a head), <c>bert.</c> (BERT models with a head) or nowhere (bare ElectraModel / BertModel). Heads — ELECTRA's
/// pretraining and classifier heads, BERT's pooler and <c>cls.</c> heads — are skipped; anything else inside the
/// body that the model lacks is an error, as is a missing or mis-shaped tensor.
/// </summary>
public static class HfBody
{
    private static readonly string[] HeadPrefixes =
        ["discriminator_predictions.", "generator_predictions.", "generator_lm_head.", "classifier.", "pooler.", "cls."];

    public static void Load(string dir, ElectraModel body)
    {
        using var file = SafetensorsFile.Open(HfCheckpoint.WeightsPath(dir));
        string prefix = BodyPrefix(file);
        string? Resolve(string name)
        {
            if (file.Contains(prefix + name)) return prefix + name;
            // TF-era BERT checkpoints converted without renaming keep LayerNorm's γ/β names.
            var legacy = prefix + name.Replace("LayerNorm.weight", "LayerNorm.gamma", StringComparison.Ordinal)
                                      .Replace("LayerNorm.bias", "LayerNorm.beta", StringComparison.Ordinal);
            return file.Contains(legacy) ? legacy : null;
        }
        bool IsHead(string stored)
        {
            if (prefix.Length > 0 && !stored.StartsWith(prefix, StringComparison.Ordinal)) return true;
            var inner = stored[prefix.Length..];
            return HeadPrefixes.Any(h => inner.StartsWith(h, StringComparison.Ordinal));
        }
        StateLoader.Load(body, file, Resolve, IsHead);
    }

    /// <summary>"electra.", "bert." or "" — where the file keeps its word embeddings.</summary>
    public static string BodyPrefix(SafetensorsFile file)
    {
        foreach (var prefix in new[] { "electra.", "bert.", "" })
            if (file.Contains(prefix + "embeddings.word_embeddings.weight")) return prefix;
        var some = string.Join(", ", file.Names.Take(6).Select(n => $"'{n}'"));
        throw new CheckpointMismatchException(
            $"{file.Path}: no encoder found (expected 'embeddings.word_embeddings.weight', bare or under 'electra.' or 'bert.'; the file holds {some}{(file.Names.Count > 6 ? ", …" : "")})");
    }
}
