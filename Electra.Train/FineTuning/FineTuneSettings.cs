namespace Electra.Train.FineTuning;

/// <summary>
/// One fine-tuning run. Defaults are the ELECTRA paper's GLUE settings (Table 7): lr 1e-4, layer decay 0.8,
/// warmup 10% of the steps then linear decay, 3 epochs, batch 32, weight decay 0.01, clip 1.0, dropout 0.1.
/// </summary>
public sealed record FineTuneSettings
{
    public int Epochs { get; init; } = 3;
    public float Lr { get; init; } = 1e-4f;
    public float LayerDecay { get; init; } = 0.8f;
    public int Batch { get; init; } = 32;
    public int Seq { get; init; } = 128;
    public ulong Seed { get; init; } = 1;
    public float WarmupFraction { get; init; } = 0.1f;
    public float WeightDecay { get; init; } = 0.01f;
    public float ClipNorm { get; init; } = 1f;
    public int LogEvery { get; init; } = 10;
    public int EvalBatch { get; init; } = 128;

    /// <summary>Where metrics.jsonl, best/ (the best-on-dev classifier) and best.json go; null writes nothing.</summary>
    public string? OutDir { get; init; }

    /// <summary>Replace what an earlier run left in <see cref="OutDir"/> (metrics.jsonl, best/, best.json) instead of refusing it.</summary>
    public bool Overwrite { get; init; }

    /// <summary>bf16, tf32 or fp32 for training and the dev evaluations; null: the device's default (<see cref="PrecisionChoice"/>).</summary>
    public Precision? Precision { get; init; }

    public FineTuneSettings Validate()
    {
        if (Epochs < 1) throw new ArgumentException($"--epochs must be at least 1, got {Epochs}");
        if (!(Lr > 0f && Lr <= 1f)) throw new ArgumentException($"--lr must be in (0, 1], got {Lr}");
        if (!(LayerDecay > 0f && LayerDecay <= 1f)) throw new ArgumentException($"--layer-decay must be in (0, 1], got {LayerDecay}");
        if (Batch < 1) throw new ArgumentException($"--batch must be at least 1, got {Batch}");
        if (Seq < 4) throw new ArgumentException($"--seq must be at least 4 ([CLS] A [SEP] B [SEP]), got {Seq}");
        if (!(WarmupFraction >= 0f && WarmupFraction < 1f)) throw new ArgumentException($"--warmup must be in [0, 1), got {WarmupFraction}");
        if (!(WeightDecay >= 0f && WeightDecay < 1f)) throw new ArgumentException($"--weight-decay must be in [0, 1), got {WeightDecay}");
        if (!(ClipNorm > 0f && float.IsFinite(ClipNorm))) throw new ArgumentException($"the gradient clip norm must be positive and finite, got {ClipNorm}");
        if (EvalBatch < 1) throw new ArgumentException($"the evaluation batch must be at least 1, got {EvalBatch}");
        if (LogEvery < 1) throw new ArgumentException($"log interval must be at least 1, got {LogEvery}");
        return this;
    }
}
