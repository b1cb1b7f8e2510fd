namespace Electra.Model;

/// <summary>
/// What the device half of a pretraining step reads, made by <see cref="Pretrainer.Upload(MaskedBatch, PretrainInputs?)"/>
/// as parts of one uploaded buffer (<see cref="InputLayout"/>): the masked input ids, token types and attention mask
/// [B, T], the masked positions and their original ids [M], and for replaced-token detection the original ids and the
/// loss weights [B·T] (null for the MLM objective). For a fixed-shape step (<see cref="Pretrainer.StaticShapes"/>) M is
/// B·maxPredictions, of which the first <see cref="MaskedRows"/> are real, and the counts the losses divide by are on
/// the device (<see cref="RealRows"/>, <see cref="InverseRealTokens"/>). The host copies of the originals and the mask
/// serve the metrics. Disposing it frees the tensors.
/// </summary>
public sealed class PretrainInputs : IDisposable
{
    private PretrainInputs(Tensor buffer, InputLayout layout, int[] originals, int[] attentionMask, int realTokens)
    {
        Buffer = buffer;
        Layout = layout;
        int n = layout.Tokens, rows = layout.Rows;
        Tensor Ints(int offset, params int[] shape) => buffer.Part(offset, new Shape(shape), DType.I32);
        Tensor Floats(int offset, params int[] shape) => buffer.Part(offset, new Shape(shape), DType.F32);
        Ids = Ints(layout.Ids, layout.Batch, layout.Seq);
        Types = Ints(layout.Types, layout.Batch, layout.Seq);
        Mask = Ints(layout.Mask, layout.Batch, layout.Seq);
        Positions = Ints(layout.Positions, rows);
        Targets = Ints(layout.Targets, rows);
        if (layout.Rtd)
        {
            Original = Ints(layout.Original, n);
            Weights = Floats(layout.Weights, n);
        }
        if (layout.FixedShapes)
        {
            RealRows = new Ops.DeviceCount(Ints(layout.Counts, 1), Floats(layout.Counts + 1, 1));
            InverseRealTokens = Floats(layout.Counts + 2, 1);
        }
        (Originals, AttentionMask, RealTokens) = (originals, attentionMask, realTokens);
    }

    /// <summary>The inputs as parts of <paramref name="buffer"/> (I32 [layout.Length]), which they take over.</summary>
    internal static PretrainInputs Over(Tensor buffer, InputLayout layout, int[] originals, int[] attentionMask, int realTokens) =>
        new(buffer, layout, originals, attentionMask, realTokens);

    /// <summary>The one buffer the step uploads; the tensors below are its parts.</summary>
    public Tensor Buffer { get; }
    public InputLayout Layout { get; }

    public Tensor Ids { get; }
    public Tensor Types { get; }
    public Tensor Mask { get; }
    public Tensor Positions { get; }
    public Tensor Targets { get; }
    public Tensor? Original { get; }
    public Tensor? Weights { get; }
    public int[] Originals { get; private set; }
    public int[] AttentionMask { get; private set; }
    public int RealTokens { get; private set; }
    public int Batch => Layout.Batch;
    public int Seq => Layout.Seq;

    /// <summary>Rows of the masked selection as uploaded (fixed for a fixed-shape step).</summary>
    public int Masked => Layout.Rows;

    /// <summary>The real masked positions among them.</summary>
    public int MaskedRows => Originals.Length;

    /// <summary>For a fixed-shape step: the real masked rows and 1/that, on the device; null otherwise.</summary>
    public Ops.DeviceCount? RealRows { get; }

    /// <summary>For a fixed-shape step: 1/(real tokens), the BCE's denominator, on the device; null otherwise.</summary>
    public Tensor? InverseRealTokens { get; }

    public bool FixedShapes => Layout.FixedShapes;

    internal void Refresh(int[] originals, int[] attentionMask, int realTokens) =>
        (Originals, AttentionMask, RealTokens) = (originals, attentionMask, realTokens);

    public void Dispose()
    {
        foreach (var t in new[] { Ids, Types, Mask, Positions, Targets, Original, Weights, RealRows?.Count, RealRows?.Reciprocal, InverseRealTokens, Buffer })
            t?.Dispose();
    }
}
