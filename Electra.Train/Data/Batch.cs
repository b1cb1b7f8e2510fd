namespace Electra.Train.Data;

/// <summary>A batch of B examples padded to T, row-major arrays of B*T.</summary>
public sealed class Batch(int batchSize, int seqLen)
{
    public int B { get; } = batchSize;
    public int T { get; } = seqLen;
    public int[] InputIds { get; } = new int[batchSize * seqLen];       // [B, T]
    public int[] TokenTypeIds { get; } = new int[batchSize * seqLen];   // [B, T]
    public int[] AttentionMask { get; } = new int[batchSize * seqLen];  // [B, T], 1 on real tokens
    public int[] Lengths { get; } = new int[batchSize];                 // [B]
    public int[] ExampleIndices { get; } = new int[batchSize];          // [B], global dataset indices
    /// <summary>Where this batch was drawn from; the sampler's cursor after it is <see cref="Next"/>.</summary>
    public BatchCursor Cursor { get; internal set; }
    public BatchCursor Next { get; internal set; }

    /// <summary>Real (non-padding) tokens in the batch.</summary>
    public int TokenCount => Lengths.Sum();
}

/// <summary>
/// A position in the endless batch stream: <see cref="Position"/> examples of epoch <see cref="Epoch"/>'s shuffled
/// order are consumed. Saving it with a checkpoint and handing it back resumes the exact same sequence of batches.
/// </summary>
public readonly record struct BatchCursor(int Epoch, int Position)
{
    public override string ToString() => $"epoch {Epoch}, position {Position}";
}
