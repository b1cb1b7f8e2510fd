using Electra.Autograd;
using Electra.Model;
using Electra.Train.Data;

namespace Electra.Train.FineTuning;

/// <summary>
/// One text's encoder output: its tokens, last hidden states [T, H] and attention-masked mean [H]. TextTokens counts
/// the text's own tokens before a text longer than the model's positions was cut to fit.
/// </summary>
public sealed record TextEmbedding(string Text, string[] Tokens, float[][] Hidden, float[] Pooled, int TextTokens)
{
    /// <summary>The text had more tokens than fit between [CLS] and [SEP]; only the first ones were embedded.</summary>
    public bool Truncated => TextTokens > Tokens.Length - 2;
}

/// <summary>Runs an encoder over texts (one padded batch) and mean-pools each text's real tokens, [CLS] and [SEP] included.</summary>
public static class Embedder
{
    public static IReadOnlyList<TextEmbedding> Embed(ElectraModel encoder, WordPieceTokenizer tokenizer, IReadOnlyList<string> texts)
    {
        if (texts.Count == 0) throw new ArgumentException("no text to embed");
        int max = encoder.Config.MaxPositionEmbeddings;
        var full = texts.Select(t => tokenizer.EncodeWithSpecialTokens(t).ToArray()).ToList();
        var encoded = full.Select(ids => ids.Length > max ? [.. ids.Take(max - 1), tokenizer.SepId] : ids).ToList();
        var batch = encoded.Select(ids => new EncodedExample(ids, new int[ids.Length], 0, 0f)).ToList();
        var device = encoder.Embeddings.WordEmbeddings.Weight.Device;
        int h = encoder.Config.HiddenSize;
        using var scope = new TensorScope();
        using var noGrad = GradMode.NoGrad();
        using var inputs = new FineTuneBatch(batch, tokenizer.PadId, regression: false, device);
        var hidden = encoder.Forward(inputs.Ids, inputs.TypeIds, inputs.Mask).ToFloatArray();       // [B·T, H]
        var result = new List<TextEmbedding>();
        for (int b = 0; b < texts.Count; b++)
        {
            int n = encoded[b].Length;
            var rows = new float[n][];
            var pooled = new double[h];
            for (int t = 0; t < n; t++)
            {
                rows[t] = hidden.AsSpan((b * inputs.T + t) * h, h).ToArray();
                for (int k = 0; k < h; k++) pooled[k] += rows[t][k];
            }
            result.Add(new TextEmbedding(texts[b], encoded[b].Select(tokenizer.TokenOf).ToArray(), rows, pooled.Select(v => (float)(v / n)).ToArray(),
                full[b].Length - 2));
        }
        return result;
    }

    public static double Cosine(float[] a, float[] b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"vectors of {a.Length} and {b.Length} elements");
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }
        return na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
    }
}
