using System.Runtime.InteropServices;

namespace Electra.Model;

/// <summary>
/// Where a step's inputs lie in the one buffer it uploads (<see cref="Pretrainer.Upload(MaskedBatch, PretrainInputs?)"/>):
/// offsets in 4-byte elements, each part starting on a 256-byte boundary. In order: the input ids, token types and
/// attention mask [B·T]; the masked positions and their targets [rows]; for replaced-token detection the original ids
/// and the loss weights [B·T] (F32 bits); for a fixed-shape step the masked count (I32) and 1/masked, 1/real tokens
/// (F32 bits).
/// </summary>
public readonly record struct InputLayout(int Batch, int Seq, int Rows, bool Rtd, bool FixedShapes)
{
    private const int Alignment = 64; // elements: 256 bytes

    private static int Aligned(int count) => (count + Alignment - 1) / Alignment * Alignment;

    public int Tokens => Batch * Seq;
    public int Ids => 0;
    public int Types => Ids + Aligned(Tokens);
    public int Mask => Types + Aligned(Tokens);
    public int Positions => Mask + Aligned(Tokens);
    public int Targets => Positions + Aligned(Rows);
    public int Original => Targets + Aligned(Rows);
    public int Weights => Original + (Rtd ? Aligned(Tokens) : 0);
    public int Counts => Weights + (Rtd ? Aligned(Tokens) : 0);
    public int Length => Counts + (FixedShapes ? Alignment : 0);

    /// <summary>The buffer's contents for one masked batch (see <see cref="Pretrainer.Mask"/>).</summary>
    internal int[] Pack(TokenBatch batch, MaskPlan plan, int[] positions, int[] targets, float[]? weights)
    {
        var buffer = new int[Length];
        plan.InputIds.CopyTo(buffer, Ids);
        batch.TypeIds.CopyTo(buffer, Types);
        batch.AttentionMask.CopyTo(buffer, Mask);
        positions.CopyTo(buffer, Positions);
        targets.CopyTo(buffer, Targets);
        if (Rtd)
        {
            batch.Ids.CopyTo(buffer, Original);
            MemoryMarshal.Cast<float, int>(weights!).CopyTo(buffer.AsSpan(Weights));
        }
        if (FixedShapes)
        {
            // The counts a fixed-shape step's losses divide by, read on the device.
            int masked = plan.Positions.Length;
            buffer[Counts] = masked;
            buffer[Counts + 1] = BitConverter.SingleToInt32Bits(1f / masked);
            buffer[Counts + 2] = BitConverter.SingleToInt32Bits(1f / batch.RealTokens);
        }
        return buffer;
    }
}
