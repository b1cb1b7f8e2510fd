namespace Electra;

/// <summary>
/// Hands out Philox stream offsets to the random ops of a step. Each op takes one offset and addresses its own
/// elements within it, so draws never overlap and are the same on every device. Seeking to a step makes the
/// randomness of that step a pure function of (seed, step): a resumed run draws exactly what it would have drawn.
/// </summary>
public sealed class RandomStream(ulong seed)
{
    /// <summary>Offsets a single step may use; far more than any model has random ops.</summary>
    public const ulong OffsetsPerStep = 1UL << 20;

    public ulong Seed { get; } = seed;
    public ulong Offset { get; private set; }

    /// <summary>The offset for the next random op.</summary>
    public ulong Next() => Offset++;

    /// <summary>Positions the stream at the start of a training step's block of offsets.</summary>
    public void SeekStep(long step) => Offset = checked((ulong)step * OffsetsPerStep);

    public void Seek(ulong offset) => Offset = offset;
}
