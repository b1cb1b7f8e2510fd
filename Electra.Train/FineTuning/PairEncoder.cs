using Electra.Train.Data;
using Electra.Train.Glue;

namespace Electra.Train.FineTuning;

/// <summary>
/// One example as model input: [CLS] A [SEP] (B [SEP]) ids, token types (0 for [CLS] A [SEP], 1 for B [SEP]), and
/// its target: a class id, or a score for regression.
/// </summary>
public sealed record EncodedExample(int[] Ids, int[] TypeIds, int Label, float Score);

/// <summary>Turns GLUE examples into model inputs of at most <c>maxLength</c> tokens, as BERT's GLUE code does.</summary>
public static class PairEncoder
{
    public static EncodedExample Encode(WordPieceTokenizer tokenizer, GlueExample example, int maxLength)
    {
        if (maxLength < (example.TextB is null ? 3 : 4))
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "sequence length too short for [CLS] text [SEP]");
        var a = tokenizer.Encode(example.TextA).ToList();
        var b = example.TextB is null ? null : tokenizer.Encode(example.TextB).ToList();
        return Build(a, b, tokenizer.ClsId, tokenizer.SepId, maxLength, example.Label, example.Score ?? 0f);
    }

    /// <summary>
    /// Builds the ids from already tokenized segments. When a pair is too long, one token at a time comes off the
    /// end of the longer segment (B on a tie), so a short question keeps all of itself next to a long passage.
    /// </summary>
    public static EncodedExample Build(List<int> a, List<int>? b, int clsId, int sepId, int maxLength, int label, float score)
    {
        if (b is null)
        {
            if (a.Count > maxLength - 2) a.RemoveRange(maxLength - 2, a.Count - (maxLength - 2));
        }
        else
        {
            while (a.Count + b.Count > maxLength - 3)
            {
                var longer = a.Count > b.Count ? a : b;
                longer.RemoveAt(longer.Count - 1);
            }
        }
        int n = a.Count + 2 + (b is null ? 0 : b.Count + 1);
        var ids = new int[n];
        var types = new int[n];
        int i = 0;
        ids[i++] = clsId;
        foreach (var t in a) ids[i++] = t;
        ids[i++] = sepId;
        if (b is not null)
        {
            int start = i;
            foreach (var t in b) ids[i++] = t;
            ids[i++] = sepId;
            for (int k = start; k < n; k++) types[k] = 1;
        }
        return new EncodedExample(ids, types, label, score);
    }

    public static List<EncodedExample> EncodeAll(WordPieceTokenizer tokenizer, IEnumerable<GlueExample> examples, int maxLength) =>
        examples.Select(e => Encode(tokenizer, e, maxLength)).ToList();
}

/// <summary>
/// A padded batch on a device: ids, token types and attention mask [B, T] I32, with T the longest example of the
/// batch (so short sentences don't pay for --seq), and the targets: labels [B] I32 or scores [B] F32.
/// </summary>
public sealed class FineTuneBatch : IDisposable
{
    public FineTuneBatch(IReadOnlyList<EncodedExample> examples, int padId, bool regression, Device device)
    {
        int b = examples.Count, t = examples.Max(e => e.Ids.Length);
        var ids = new int[b * t];
        var types = new int[b * t];
        var mask = new int[b * t];
        Array.Fill(ids, padId);
        for (int r = 0; r < b; r++)
        {
            var e = examples[r];
            e.Ids.CopyTo(ids, r * t);
            e.TypeIds.CopyTo(types, r * t);
            Array.Fill(mask, 1, r * t, e.Ids.Length);
        }
        B = b;
        T = t;
        Ids = TensorScope.Outside(() => Tensor.FromArray(ids, [b, t], device));
        TypeIds = TensorScope.Outside(() => Tensor.FromArray(types, [b, t], device));
        Mask = TensorScope.Outside(() => Tensor.FromArray(mask, [b, t], device));
        Labels = regression ? null : TensorScope.Outside(() => Tensor.FromArray(examples.Select(e => e.Label).ToArray(), [b], device));
        Scores = regression ? TensorScope.Outside(() => Tensor.FromArray(examples.Select(e => e.Score).ToArray(), [b], device)) : null;
    }

    public int B { get; }
    public int T { get; }
    public Tensor Ids { get; }
    public Tensor TypeIds { get; }
    public Tensor Mask { get; }
    public Tensor? Labels { get; }
    public Tensor? Scores { get; }

    public void Dispose()
    {
        Ids.Dispose();
        TypeIds.Dispose();
        Mask.Dispose();
        Labels?.Dispose();
        Scores?.Dispose();
    }
}
