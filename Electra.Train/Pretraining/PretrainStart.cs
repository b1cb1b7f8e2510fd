namespace Electra.Train.Pretraining;

/// <summary>How a <see cref="PretrainRunner"/> starts: fresh or from a checkpoint, and what it may do to its run directory.</summary>
public sealed record PretrainStart
{
    /// <summary>A checkpoint to continue (or the run directory holding it); null starts a new run.</summary>
    public string? ResumeFrom { get; init; }

    /// <summary>Replace the files an earlier run left in the run directory instead of refusing it.</summary>
    public bool Overwrite { get; init; }

    /// <summary>The tokenizer's vocabulary hash, which the shards (and a resumed checkpoint) must match; null skips the check.</summary>
    public string? VocabHash { get; init; }

    /// <summary>
    /// On CUDA, capture a training step into one CUDA graph and replay it on every step that logs nothing (the
    /// numbers are those of eager steps, bit for bit); false runs every step eagerly. Ignored on the CPU.
    /// </summary>
    public bool CudaGraph { get; init; } = true;
}
