namespace Electra.Model;

/// <summary>The ids of the vocabulary's special tokens (bert-base-uncased: [PAD]=0, [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103).</summary>
public sealed record SpecialTokens(int Pad = 0, int Unk = 100, int Cls = 101, int Sep = 102, int Mask = 103)
{
    public bool IsSpecial(int id) => id == Pad || id == Cls || id == Sep;
}

/// <summary>Which positions of a batch were chosen for prediction, and what the corrupted input looks like.</summary>
/// <param name="Positions">Flat positions b·T + t of the chosen tokens, ascending. [M]</param>
/// <param name="Originals">The original token at each chosen position. [M]</param>
/// <param name="InputIds">The batch's ids with the chosen positions corrupted. [B·T]</param>
public sealed record MaskPlan(int[] Positions, int[] Originals, int[] InputIds);

/// <summary>
/// ELECTRA's masking (pretrain_helpers.mask): per sequence k = max(1, min(maxPredictions, round(maskProb · n)))
/// positions, n the non-padding tokens, chosen uniformly without replacement among non-special tokens; each chosen
/// position becomes [MASK] with probability <c>maskTokenProb</c> (0.85) and keeps its token otherwise. The BERT
/// variant (for the MLM baseline) also replaces 10% with a random token.
/// All randomness is Philox(seed, offset): index b·T + t ranks positions, index B·T + b·T + t decides the
/// replacement, index 2·B·T + b·T + t picks a random token.
/// </summary>
public static class Masking
{
    public static MaskPlan Choose(int[] ids, int[] attentionMask, int batch, int seq, SpecialTokens special, int maxPredictions,
        ulong seed, ulong offset, float maskProb = 0.15f, float maskTokenProb = 0.85f, float randomTokenProb = 0f, int vocabSize = 0)
    {
        int n = batch * seq;
        if (ids.Length != n || attentionMask.Length != n)
            throw new ArgumentException($"Masking: ids ({ids.Length}) and attention mask ({attentionMask.Length}) must hold B·T = {n} entries");
        if (randomTokenProb > 0 && vocabSize <= 0) throw new ArgumentException("Masking: a random-token share needs the vocabulary size");
        var positions = new List<int>();
        var input = (int[])ids.Clone();
        var candidates = new List<(uint key, int pos)>(seq);
        for (int b = 0; b < batch; b++)
        {
            int real = 0;
            candidates.Clear();
            for (int t = 0; t < seq; t++)
            {
                int p = b * seq + t;
                if (attentionMask[p] == 0) continue;
                real++;
                if (!special.IsSpecial(ids[p])) candidates.Add((Philox.Bits(seed, offset, (ulong)p), p));
            }
            if (candidates.Count == 0) continue;
            // Round half to even, as TF's tf.round in the original.
            int k = Math.Max(1, Math.Min(maxPredictions, (int)Math.Round(maskProb * real, MidpointRounding.ToEven)));
            k = Math.Min(k, candidates.Count);
            // The k smallest random keys are a uniform draw without replacement; ties (2^-32) go to the earlier position.
            candidates.Sort((x, y) => x.key != y.key ? x.key.CompareTo(y.key) : x.pos.CompareTo(y.pos));
            var chosen = candidates.Take(k).Select(c => c.pos).OrderBy(p => p);
            foreach (int p in chosen)
            {
                positions.Add(p);
                float u = Philox.Uniform(Philox.Bits(seed, offset, (ulong)(n + p)));
                if (u < maskTokenProb) input[p] = special.Mask;
                else if (u < maskTokenProb + randomTokenProb)
                    input[p] = (int)(Philox.Bits(seed, offset, (ulong)(2 * n + p)) % (uint)vocabSize);
            }
        }
        var pos = positions.ToArray();
        return new MaskPlan(pos, pos.Select(p => ids[p]).ToArray(), input);
    }

    /// <summary>Predictions per sequence: 19 at T = 128, as round(0.15·T) in the original configuration.</summary>
    public static int DefaultMaxPredictions(int seq) => Math.Max(1, (int)Math.Round(0.15 * seq, MidpointRounding.ToEven));
}
