using System.Globalization;
using Electra.Optim;

namespace Electra.Train.FineTuning;

/// <summary>
/// Layer-wise learning-rate decay (Clark et al. 2020, §A): the closer a parameter is to the input, the smaller its
/// rate. With L encoder layers and decay d, a parameter's rate is lr·d^exponent where the exponent is
/// 0 for the task head and anything else above the top layer, L − l for encoder layer l (0-based), and L + 1 for the
/// embeddings and embeddings_project — one step per level, so every two neighbouring levels differ by exactly d.
/// </summary>
/// <remarks>
/// The off-by-one we avoid: google-research/electra's <c>_get_layer_lrs</c> gives the embeddings depth 0, layer l
/// depth l + 1 and the task head depth L + 2, then uses d^(L + 2 − depth). Depth L + 1 is never assigned, so the
/// head-to-top-layer step is d² instead of d: the top layer gets lr·d² and the embeddings lr·d^(L+2), every body
/// rate one factor of d lower than the scheme the paper describes. Here the top layer gets lr·d and the
/// embeddings lr·d^(L+1).
/// </remarks>
public static class LayerwiseLr
{
    /// <summary>The exponent of the decay for a parameter of a <c>SequenceClassifier</c> (HF names).</summary>
    public static int Exponent(string name, int layers)
    {
        var inner = name.StartsWith("electra.", StringComparison.Ordinal) ? name["electra.".Length..] : null;
        if (inner is null) return 0;
        if (inner.StartsWith("embeddings.", StringComparison.Ordinal) || inner.StartsWith("embeddings_project.", StringComparison.Ordinal))
            return layers + 1;
        const string layerPrefix = "encoder.layer.";
        if (inner.StartsWith(layerPrefix, StringComparison.Ordinal))
        {
            var rest = inner[layerPrefix.Length..];
            var index = rest[..rest.IndexOf('.')];
            int l = int.Parse(index, CultureInfo.InvariantCulture);
            if (l < 0 || l >= layers) throw new ArgumentException($"parameter '{name}' names layer {l} of a {layers}-layer model");
            return layers - l;
        }
        return 0;
    }

    /// <summary>
    /// AdamW groups: one per (exponent, decays-or-not), each with LrScale = d^exponent; weight decay as in
    /// <see cref="AdamW.DefaultGroups"/> (none for LayerNorm and biases).
    /// </summary>
    public static ParamGroup[] Groups(IEnumerable<(string Name, Tensor Param)> named, int layers, float decay, float weightDecay)
    {
        if (!(decay > 0f && decay <= 1f)) throw new ArgumentOutOfRangeException(nameof(decay), decay, "layer decay must be in (0, 1]");
        var groups = new List<ParamGroup>();
        foreach (var byExponent in named.GroupBy(p => Exponent(p.Name, layers)).OrderBy(g => g.Key))
        {
            float scale = MathF.Pow(decay, byExponent.Key);
            foreach (var g in AdamW.DefaultGroups(byExponent, weightDecay))
                if (g.Params.Count > 0) groups.Add(g with { LrScale = scale });
        }
        return groups.ToArray();
    }
}
