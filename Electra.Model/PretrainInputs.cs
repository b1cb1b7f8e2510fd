namespace Electra.Model;

/// <summary>
/// What the device half of a pretraining step reads, made by <see cref="Pretrainer.Upload"/>: the masked input ids,
/// token types and attention mask [B, T], the masked positions and their original ids [M], and for replaced-token
/// detection the original ids and the loss weights [B·T] (null for the MLM objective). The host copies of the
/// originals and the mask serve the metrics. Disposing it frees the tensors.
/// </summary>
public sealed class PretrainInputs(
    Tensor ids, Tensor types, Tensor mask, Tensor positions, Tensor targets, Tensor? original, Tensor? weights,
    int[] originals, int[] attentionMask, int realTokens, int batch, int seq) : IDisposable
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
    public int RealTokens { get; } = realTokens;
    public int Batch { get; } = batch;
    public int Seq { get; } = seq;
    public int Masked => (int)Positions.Count;

    internal void Refresh(int[] originals, int[] attentionMask) => (Originals, AttentionMask) = (originals, attentionMask);

    public void Dispose()
    {
        foreach (var t in new[] { Ids, Types, Mask, Positions, Targets, Original, Weights }) t?.Dispose();
    }
}
