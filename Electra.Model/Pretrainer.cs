using Electra.Autograd;
using Electra.Nn;

namespace Electra.Model;

/// <summary>What a pretraining run optimises.</summary>
public enum Objective
{
    /// <summary>ELECTRA's replaced-token detection: generator MLM loss + 50 × discriminator BCE.</summary>
    Rtd,

    /// <summary>BERT-style masked LM on a discriminator-sized encoder (15% chosen, 80/10/10), for equal-compute comparisons.</summary>
    Mlm,
}

/// <summary>One batch of token ids, row-major [B, T].</summary>
public sealed record TokenBatch(int[] Ids, int[] TypeIds, int[] AttentionMask, int Batch, int Seq)
{
    public int RealTokens => AttentionMask.Count(m => m != 0);
}

/// <summary>
/// A batch masked for one step on the host (<see cref="Pretrainer.Mask"/>): the plan; the selection as uploaded
/// (<see cref="Positions"/>, <see cref="Targets"/>: the plan's, padded to a fixed length for a fixed-shape step);
/// for replaced-token detection the loss weights (1 on real tokens); and all of it packed as the one buffer the step
/// uploads (<see cref="Packed"/>, laid out as <see cref="Layout"/> says).
/// </summary>
public sealed record MaskedBatch(TokenBatch Batch, long Step, MaskPlan Plan, int[] Positions, int[] Targets, float[]? Weights,
    InputLayout Layout, int[] Packed);

/// <summary>The knobs of the objective; defaults are the paper's.</summary>
public sealed record PretrainOptions
{
    public Objective Objective { get; init; } = Objective.Rtd;
    public float MaskProb { get; init; } = 0.15f;
    public int? MaxPredictions { get; init; }
    public float DiscWeight { get; init; } = 50f;
    public float Temperature { get; init; } = 1f;
    public ulong Seed { get; init; } = 1;
    public SpecialTokens Special { get; init; } = new();
}

/// <summary>
/// Host-side numbers about one step, gathered only on logging steps (they cost a device round trip). DiscAuc ranks
/// the discriminator's logits of replaced against original tokens (0.5: no better than chance), which shows
/// detection improving long before any replaced token crosses the 0.5 probability that DiscAccReplaced counts.
/// </summary>
public sealed record PretrainMetrics(
    float Loss, float MlmLoss, float DiscLoss, float DiscAcc, float DiscAccReplaced, float DiscAccOriginal,
    float ReplacedFrac, float GenAcc, int MaskedTokens, int RealTokens, float DiscAuc = float.NaN);

/// <summary>
/// The ELECTRA pretraining objective over a generator and a discriminator that share one embedding block.
/// Each step: mask the batch (Philox, seeded by step), run the generator and compute MLM cross-entropy only at
/// the masked rows, draw replacements by Gumbel-max from the same logits read (no gradient through the sample),
/// label each token replaced iff it was masked and the sample differs, and add 50 × the discriminator's BCE over
/// the non-padding tokens.
/// </summary>
public sealed class Pretrainer : Module
{
    public Pretrainer(ElectraConfig discriminator, ElectraConfig? generator, PretrainOptions options, Device device, int initSeed = 0)
    {
        Options = options;
        Device = device;
        var rng = new System.Random(initSeed);
        DiscriminatorConfig = discriminator.Validate("discriminator config");
        if (options.Objective == Objective.Rtd)
        {
            GeneratorConfig = (generator ?? discriminator.Generator()).Validate("generator config");
            if (GeneratorConfig.EmbeddingSize != discriminator.EmbeddingSize || GeneratorConfig.VocabSize != discriminator.VocabSize)
                throw new ArgumentException("generator and discriminator must share vocab_size and embedding_size (their embeddings are tied)");
            Embeddings = new ElectraEmbeddings(discriminator, rng, device);
            Discriminator = RegisterModule("discriminator", new Discriminator(discriminator, Embeddings, rng, device));
            Generator = RegisterModule("generator", new Generator(GeneratorConfig, Embeddings, rng, device));
        }
        else
        {
            // The MLM baseline trains a masked LM with the discriminator's size.
            GeneratorConfig = discriminator with { Architectures = ["ElectraForMaskedLM"] };
            Embeddings = new ElectraEmbeddings(discriminator, rng, device);
            Generator = RegisterModule("generator", new Generator(GeneratorConfig, Embeddings, rng, device));
        }
        Rng = new RandomStream(options.Seed);
        UseRandom(Rng);
    }

    public PretrainOptions Options { get; }
    public Device Device { get; }
    public ElectraConfig DiscriminatorConfig { get; }
    public ElectraConfig GeneratorConfig { get; }
    public ElectraEmbeddings Embeddings { get; }
    public Discriminator? Discriminator { get; }
    public Generator Generator { get; }
    public RandomStream Rng { get; }

    /// <summary>
    /// Called with a phase's name as each phase of <see cref="Forward"/> ends (<see cref="PretrainPhases"/>), so a
    /// benchmark can synchronise the device and time it; null (the default) costs nothing.
    /// </summary>
    public Action<string>? PhaseEnded { get; set; }

    /// <summary>
    /// Gives every step the same shapes, so that one captured CUDA graph can replay them all: the masked selection
    /// is padded to B·maxPredictions rows (padding rows select a position no row masked, with its own token as the
    /// target; the losses skip them and their "sample" leaves that token as it was), and the counts the losses
    /// divide by (masked rows, real tokens) are uploaded with the batch instead of being launch arguments. Real rows
    /// keep their indices, so masks, Gumbel draws and labels are those of the unpadded step; the losses agree to the
    /// rounding of their sums. Off by default (the CPU has nothing to replay).
    /// </summary>
    public bool StaticShapes { get; set; }

    /// <summary>
    /// Runs the objective on one batch at training step <paramref name="step"/> (which seeds masking, sampling and
    /// dropout). Returns the scalar loss to back-propagate and, when asked, the step's metrics.
    /// </summary>
    public (Tensor Loss, PretrainMetrics? Metrics) Forward(TokenBatch batch, long step, bool computeMetrics)
    {
        var inputs = Upload(batch, step);
        PhaseEnded?.Invoke(PretrainPhases.MaskingUpload);
        return Forward(inputs, step, computeMetrics);
    }

    /// <summary>
    /// The host half of a step: masks <paramref name="batch"/> for step <paramref name="step"/> and uploads what the
    /// device half reads. With <paramref name="into"/> the uploads overwrite its tensors (a captured step's inputs,
    /// whose shapes cannot change) and it is returned; otherwise new tensors are made in the current scope.
    /// </summary>
    public PretrainInputs Upload(TokenBatch batch, long step, PretrainInputs? into = null) => Upload(Mask(batch, step), into);

    /// <summary>
    /// Step <paramref name="step"/>'s masking of <paramref name="batch"/>: a function of the two and the options
    /// only, touching no state of the model, so a worker thread can mask step t + 1 while step t runs.
    /// </summary>
    public MaskedBatch Mask(TokenBatch batch, long step)
    {
        int b = batch.Batch, t = batch.Seq, n = b * t;
        if (batch.Ids.Length != n) throw new ArgumentException($"batch holds {batch.Ids.Length} ids, expected B·T = {n}");
        // Masking takes the step's first random offset (Forward skips it): Rng.SeekStep(step) then Next().
        ulong maskOffset = checked((ulong)step * RandomStream.OffsetsPerStep);
        int maxPredictions = Options.MaxPredictions ?? Masking.DefaultMaxPredictions(t);
        bool mlm = Options.Objective == Objective.Mlm;
        var plan = Masking.Choose(batch.Ids, batch.AttentionMask, b, t, Options.Special, maxPredictions, Options.Seed, maskOffset,
            Options.MaskProb, mlm ? 0.8f : 0.85f, mlm ? 0.1f : 0f, DiscriminatorConfig.VocabSize);
        if (plan.Positions.Length == 0) throw new InvalidOperationException("the batch has no maskable tokens (only [CLS]/[SEP]/[PAD])");
        var weights = mlm ? null : batch.AttentionMask.Select(x => x != 0 ? 1f : 0f).ToArray();
        var (positions, targets) = StaticShapes ? PadSelection(plan, batch.Ids, b * maxPredictions) : (plan.Positions, plan.Originals);
        var layout = new InputLayout(b, t, positions.Length, !mlm, StaticShapes);
        return new MaskedBatch(batch, step, plan, positions, targets, weights, layout, layout.Pack(batch, plan, positions, targets, weights));
    }

    /// <summary>
    /// The plan's positions and targets padded to <paramref name="rows"/> with the first position the plan did not
    /// mask (and its original token as the target), so scattering a padding row's "sample" changes nothing.
    /// </summary>
    private static (int[] Positions, int[] Targets) PadSelection(MaskPlan plan, int[] ids, int rows)
    {
        int m = plan.Positions.Length;
        if (m > rows) throw new InvalidOperationException($"masking chose {m} positions, more than the fixed {rows} rows");
        if (m == rows) return (plan.Positions, plan.Originals);
        int pad = 0;
        foreach (int p in plan.Positions) // ascending: the first gap is the first unmasked position
        {
            if (p != pad) break;
            pad++;
        }
        var positions = new int[rows];
        var targets = new int[rows];
        plan.Positions.CopyTo(positions, 0);
        plan.Originals.CopyTo(targets, 0);
        Array.Fill(positions, pad, m, rows - m);
        Array.Fill(targets, ids[pad], m, rows - m);
        return (positions, targets);
    }

    /// <summary>
    /// Uploads a masked batch (see <see cref="Upload(TokenBatch, long, PretrainInputs?)"/>): one copy of its packed
    /// buffer, whose parts are the step's input tensors.
    /// </summary>
    public PretrainInputs Upload(MaskedBatch masked, PretrainInputs? into = null)
    {
        var (batch, step, plan, _, _, _, layout, packed) = masked;
        int real = batch.RealTokens;
        if (into is null) return PretrainInputs.Over(Tensor.FromArray(packed, [layout.Length], Device), layout, plan.Originals, batch.AttentionMask, real);
        // Unpadded inputs hold the real-token count as a shape (the BCE's denominator is a launch argument).
        bool fits = into.Layout == layout && (layout.FixedShapes || into.RealTokens == real);
        if (!fits)
            throw new ArgumentException(
                $"step {step}: a batch of [{layout.Batch}, {layout.Seq}] with {layout.Rows} masked rows and {real} real tokens does not fit inputs of [{into.Batch}, {into.Seq}] with {into.Masked} and {into.RealTokens} (a captured step's shapes are fixed{(into.FixedShapes ? "" : "; Pretrainer.StaticShapes pads every step to the same shapes")})");
        into.Buffer.CopyFrom<int>(packed);
        into.Refresh(plan.Originals, batch.AttentionMask, real);
        return into;
    }

    /// <summary>
    /// The device half of a step on inputs from <see cref="Upload"/>: it queues device work only (no upload, and no
    /// download unless <paramref name="computeMetrics"/>), so it can be captured into a CUDA graph. Its random ops
    /// draw at <paramref name="rngStep"/>'s offsets.
    /// </summary>
    public (Tensor Loss, PretrainMetrics? Metrics) Forward(PretrainInputs inputs, long rngStep, bool computeMetrics)
    {
        int b = inputs.Batch, t = inputs.Seq, n = b * t, m = inputs.MaskedRows;
        Rng.SeekStep(rngStep);
        _ = Rng.Next(); // masking's offset, drawn by Mask
        ulong gumbelOffset = Rng.Next();
        bool mlm = Options.Objective == Objective.Mlm;
        var (ids, types, mask, positions, targets) = (inputs.Ids, inputs.Types, inputs.Mask, inputs.Positions, inputs.Targets);

        var hidden = Generator.Encode(ids, types, mask);                     // [B·T, Hg]
        PhaseEnded?.Invoke(PretrainPhases.GeneratorForward);
        var logits = Generator.Logits(Ops.GatherRows(hidden, positions));   // [M, V], masked rows only
        float genAcc = float.NaN;
        if (computeMetrics)
        {
            using var predicted = Ops.Argmax(logits);                     // before the loss overwrites the logits
            var p = predicted.ToIntArray();
            genAcc = (float)p.Zip(inputs.Originals).Count(x => x.First == x.Second) / m;
        }
        var draw = mlm ? (Ops.GumbelDraw?)null : new Ops.GumbelDraw(Options.Temperature, Options.Seed, gumbelOffset);
        var (mlmLoss, samples) = inputs.RealRows is { } rows
            ? Ops.SoftmaxCrossEntropy(logits, targets, gumbel: draw, realRows: rows)
            : Ops.SoftmaxCrossEntropy(logits, targets, validRows: m, gumbel: draw);
        PhaseEnded?.Invoke(PretrainPhases.GeneratorHead);
        if (mlm)
        {
            if (!computeMetrics) return (mlmLoss, null);
            float l = mlmLoss.Item();
            return (mlmLoss, new PretrainMetrics(l, l, 0f, float.NaN, float.NaN, float.NaN, 0f, genAcc, m, inputs.RealTokens));
        }

        var (corrupted, labels) = Corrupt(inputs.Original!, positions, samples!);
        var discLogits = Discriminator!.Forward(corrupted.Reshape(b, t), types, mask);     // [B·T]
        PhaseEnded?.Invoke(PretrainPhases.DiscriminatorForward);
        int real = inputs.RealTokens;
        var discLoss = inputs.InverseRealTokens is { } inverseReal
            ? Ops.BceWithLogits(discLogits, labels, inputs.Weights!, inverseReal)
            : Ops.BceWithLogits(discLogits, labels, inputs.Weights!, real);
        var loss = Ops.Add(mlmLoss, discLoss, 1f, Options.DiscWeight);
        PhaseEnded?.Invoke(PretrainPhases.Loss);
        if (!computeMetrics) return (loss, null);
        return (loss, Measure(loss, mlmLoss, discLoss, discLogits, labels, inputs.AttentionMask, genAcc, m, real));
    }

    /// <summary>
    /// The discriminator's input and targets: masked positions take the generator's samples (no gradient flows
    /// through a sample), and a token counts as replaced only where it was masked and the sample differs from the
    /// original — a sample that happens to equal the original is labelled "original".
    /// original, corrupted [N] I32; positions, samples [M] I32; labels [N] F32.
    /// </summary>
    public static (Tensor Corrupted, Tensor Labels) Corrupt(Tensor original, Tensor positions, Tensor samples)
    {
        int n = checked((int)original.Count), m = checked((int)positions.Count);
        var corrupted = Ops.ScatterRows(original.Reshape(n, 1), positions, samples.Reshape(m, 1)).Reshape(n);
        return (corrupted, Ops.NotEqual(corrupted, original));
    }

    private static PretrainMetrics Measure(Tensor loss, Tensor mlmLoss, Tensor discLoss, Tensor discLogits, Tensor labels,
        int[] attentionMask, float genAcc, int masked, int real)
    {
        using var noGrad = GradMode.NoGrad();
        var x = discLogits.ToFloatArray();
        var y = labels.ToFloatArray();
        int correct = 0, replaced = 0, replacedCorrect = 0, kept = 0, keptCorrect = 0;
        for (int i = 0; i < x.Length; i++)
        {
            if (attentionMask[i] == 0) continue;
            bool isReplaced = y[i] > 0.5f, predicted = x[i] > 0f;
            bool ok = isReplaced == predicted;
            if (ok) correct++;
            if (isReplaced) { replaced++; if (ok) replacedCorrect++; }
            else { kept++; if (ok) keptCorrect++; }
        }
        var replacedLabels = y.Select(v => v > 0.5f).ToArray();
        var isReal = attentionMask.Select(v => v != 0).ToArray();
        return new PretrainMetrics(
            loss.Item(), mlmLoss.Item(), discLoss.Item(),
            DiscAcc: (float)correct / real,
            DiscAccReplaced: replaced == 0 ? float.NaN : (float)replacedCorrect / replaced,
            DiscAccOriginal: kept == 0 ? float.NaN : (float)keptCorrect / kept,
            ReplacedFrac: (float)replaced / masked,
            GenAcc: genAcc, MaskedTokens: masked, RealTokens: real,
            DiscAuc: RocAuc.Compute(x, replacedLabels, isReal));
    }
}

/// <summary>The phases of <see cref="Pretrainer.Forward"/> in order, as passed to <see cref="Pretrainer.PhaseEnded"/>.</summary>
public static class PretrainPhases
{
    public const string MaskingUpload = "masking+upload";
    public const string GeneratorForward = "generator forward";
    public const string GeneratorHead = "generator head+CE/Gumbel";
    public const string DiscriminatorForward = "discriminator forward";
    public const string Loss = "loss";
}
