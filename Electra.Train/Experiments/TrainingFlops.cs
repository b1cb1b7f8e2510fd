using Electra.Model;

namespace Electra.Train.Experiments;

/// <summary>The forward FLOPs of one pretraining step, by network; training costs three forward passes.</summary>
public sealed record StepFlops(double GeneratorForward, double DiscriminatorForward)
{
    public double Forward => GeneratorForward + DiscriminatorForward;

    /// <summary>Forward + backward: the backward of each product computes two products of its size (dX and dW).</summary>
    public double Training => 3 * Forward;
}

/// <summary>
/// Counts training FLOPs from the networks' shapes: every matrix product of the forward pass at 2·m·n·k, attention's
/// QKᵀ and PV included, times three for forward + backward. Element-wise work (LayerNorm, GELU, softmax, dropout,
/// sampling, the optimizer) and embedding lookups are left out: both objectives do about the same amount of it per
/// token, an estimated 2–3% of the products at the tiny shapes. The generator's masked-LM head runs only at the masked rows, which
/// are counted at full length (every sequence at T tokens, so max_predictions rows each), an upper bound that the
/// packed shards (95% full length) nearly reach. Both objectives mask the same rows, so the bound cancels in the
/// comparison.
/// </summary>
public static class TrainingFlops
{
    public static double MatMul(double m, double n, double k) => 2 * m * n * k;

    /// <summary>The embeddings' E→H projection (when E ≠ H) and the transformer layers on B sequences of T tokens.</summary>
    public static double EncoderForward(ElectraConfig c, int batch, int seq)
    {
        double tokens = (double)batch * seq, h = c.HiddenSize, i = c.IntermediateSize;
        double projection = c.EmbeddingSize != c.HiddenSize ? MatMul(tokens, h, c.EmbeddingSize) : 0;
        double layer = MatMul(tokens, 3 * h, h)                      // fused Q, K, V
            + 2 * batch * MatMul(seq, seq, h)                        // QKᵀ and PV: per head T×HS by HS×T, NH·HS = H
            + MatMul(tokens, h, h)                                   // attention output
            + MatMul(tokens, i, h) + MatMul(tokens, h, i);           // FFN
        return projection + c.NumHiddenLayers * layer;
    }

    /// <summary>The replaced-token head on every token: dense H→H, then H→1.</summary>
    public static double DiscriminatorHead(ElectraConfig c, double tokens) => MatMul(tokens, c.HiddenSize, c.HiddenSize) + MatMul(tokens, 1, c.HiddenSize);

    /// <summary>The masked-LM head on the masked rows only: dense H→E, then logits against the tied E×V embeddings.</summary>
    public static double MaskedLmHead(ElectraConfig c, double rows) => MatMul(rows, c.EmbeddingSize, c.HiddenSize) + MatMul(rows, c.VocabSize, c.EmbeddingSize);

    /// <summary>Masked rows of a batch of full-length sequences: max_predictions = round(0.15·T) each.</summary>
    public static int MaskedRows(int batch, int seq) => batch * Masking.DefaultMaxPredictions(seq);

    /// <summary>
    /// One step of <paramref name="objective"/>. RTD runs the generator (encoder + masked-LM head) and the
    /// discriminator (encoder + head on all tokens), and back-propagates through both (the generator's MLM loss; the
    /// sample itself carries no gradient). MLM runs one discriminator-sized masked LM.
    /// </summary>
    public static StepFlops PretrainStep(Objective objective, ElectraConfig discriminator, ElectraConfig? generator, int batch, int seq)
    {
        int rows = MaskedRows(batch, seq);
        if (objective == Objective.Mlm)
            return new StepFlops(EncoderForward(discriminator, batch, seq) + MaskedLmHead(discriminator, rows), 0);
        var g = generator ?? discriminator.Generator();
        return new StepFlops(
            EncoderForward(g, batch, seq) + MaskedLmHead(g, rows),
            EncoderForward(discriminator, batch, seq) + DiscriminatorHead(discriminator, (double)batch * seq));
    }

    /// <summary>
    /// A classifier's forward pass on one example of <paramref name="tokens"/> tokens (encoder, then the head on [CLS]).
    /// Used to estimate how long fine-tuning takes, not reported as a result.
    /// </summary>
    public static double ClassifierForward(ElectraConfig c, int tokens, int labels) =>
        EncoderForward(c, 1, tokens) + MatMul(1, c.HiddenSize, c.HiddenSize) + MatMul(1, labels, c.HiddenSize);

    /// <summary>"20.2 TFLOP": three significant digits and an SI prefix.</summary>
    public static string Format(double flops)
    {
        string[] prefixes = ["", "k", "M", "G", "T", "P", "E"];
        int p = 0;
        double v = flops;
        while (Math.Abs(v) >= 1000 && p < prefixes.Length - 1)
        {
            v /= 1000;
            p++;
        }
        string digits = Math.Abs(v) >= 100 ? v.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)
            : Math.Abs(v) >= 10 ? v.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)
            : v.ToString("F2", System.Globalization.CultureInfo.InvariantCulture);
        return $"{digits} {prefixes[p]}FLOP";
    }
}
