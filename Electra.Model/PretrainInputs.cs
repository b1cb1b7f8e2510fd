namespace Electra.Model;

/// <summary>
/// What the device half of a pretraining step reads, made by <see cref="Pretrainer.Upload(MaskedBatch, PretrainInputs?)"/>:
/// the masked input ids, token types and attention mask [B, T], the masked positions and their original ids [M], and
/// for replaced-token detection the original ids and the loss weights [B·T] (null for the MLM objective). For a
/// fixed-shape step (<see cref="Pretrainer.StaticShapes"/>) M is B·maxPredictions, of which the first
/// <see cref="MaskedRows"/> are real, and the counts the losses divide by are on the device
/// (<see cref="RealRows"/>, <see cref="InverseRealTokens"/>). The host copies of the originals and the mask serve
/// the metrics. Disposing it frees the tensors.
/// </summary>
public sealed class PretrainInputs(
    Tensor ids, Tensor types, Tensor mask, Tensor positions, Tensor targets, Tensor? original, Tensor? weights,
    int[] originals, int[] attentionMask, int realTokens, int batch, int seq,
    Ops.DeviceCount? realRows = null, Tensor? inverseRealTokens = null) : IDisposable
{
    public Tensor Ids { get; } = ids;
    public Tensor Types { get; } = types;
    public Tensor Mask { get; } = mask;
    public Tensor Positions { get; } = positions;
    public Tensor Targets { get; } = targets;
    public Tensor? Original { get; } = original;
    public Tensor? Weights { get; } = weights;
    public int[] Originals { get; private set; } = originals;
    public int[] AttentionMask { get; private set; } = attentionMask;
    public int RealTokens { get; private set; } = realTokens;
    public int Batch { get; } = batch;
    public int Seq { get; } = seq;

    /// <summary>Rows of the masked selection as uploaded (fixed for a fixed-shape step).</summary>
    public int Masked => (int)Positions.Count;

    /// <summary>The real masked positions among them.</summary>
    public int MaskedRows => Originals.Length;

    /// <summary>For a fixed-shape step: the real masked rows and 1/that, on the device; null otherwise.</summary>
    public Ops.DeviceCount? RealRows { get; } = realRows;

    /// <summary>For a fixed-shape step: 1/(real tokens), the BCE's denominator, on the device; null otherwise.</summary>
    public Tensor? InverseRealTokens { get; } = inverseRealTokens;

    public bool FixedShapes => RealRows is not null;

    internal void Refresh(int[] originals, int[] attentionMask, int realTokens) =>
        (Originals, AttentionMask, RealTokens) = (originals, attentionMask, realTokens);

    public void Dispose()
    {
        foreach (var t in new[] { Ids, Types, Mask, Positions, Targets, Original, Weights, RealRows?.Count, RealRows?.Reciprocal, InverseRealTokens })
            t?.Dispose();
    }
}
