using Electra.Autograd;

namespace Electra;

public static partial class Ops
{
    /// <summary>
    /// BERT/ELECTRA embeddings before their LayerNorm: word[ids[b, t]] + position[t] + type[typeIds[b, t]] for ids,
    /// typeIds [B, T] I32 and tables [V, E], [P ≥ T, E], [K, E] (F32) → [B·T, E] in the activation dtype (one rounding
    /// under <see cref="Autocast"/>). Positions are 0 … T−1 in every row. Row <paramref name="paddingIdx"/> of the
    /// word table receives no gradient (PyTorch's padding_idx), so a zero [PAD] embedding stays zero; the backward
    /// uploads nothing and allocates only from the device's pool, so a training step using it can be captured.
    /// </summary>
    public static Tensor EmbeddingSum(Tensor word, Tensor position, Tensor type, Tensor ids, Tensor typeIds, int? paddingIdx = null)
    {
        const string op = "EmbeddingSum";
        SameDevice(op, word, position, type, ids, typeIds);
        F32(op, word, position, type);
        ids.RequireDType(DType.I32, "EmbeddingSum ids");
        typeIds.RequireDType(DType.I32, "EmbeddingSum typeIds");
        if (ids.Rank != 2 || typeIds.Shape != ids.Shape)
            throw new ArgumentException($"{op}: ids {ids.Shape} and typeIds {typeIds.Shape} must both be [B, T]");
        if (word.Rank != 2 || position.Rank != 2 || type.Rank != 2 || position.Shape[1] != word.Shape[1] || type.Shape[1] != word.Shape[1])
            throw new ArgumentException($"{op}: word {word.Shape}, position {position.Shape} and type {type.Shape} tables must be [V, E], [P, E], [K, E] with one E");
        int b = ids.Shape[0], t = ids.Shape[1], e = word.Shape[1];
        if (t > position.Shape[0])
            throw new ArgumentException($"{op}: sequence length {t} exceeds the {position.Shape[0]} rows of the position table{(position.Name is null ? "" : $" ({position.Name})")}");
        int n = checked(b * t);
        var y = Tensor.Empty(new Shape(n, e), Autocast.Activations(word.Device, op), word.Device);
        word.Backend.EmbeddingSumForward(word, position, type, ids, typeIds, y);
        int pad = paddingIdx ?? -1;
        Node.Record(op, y, [word, position, type], g =>
        {
            // Tied tables collect gradients from several uses: add into one the engine offers, else write fresh ones
            // (zeroed only where some other table is accumulated into, so that one call serves all three).
            var offered = new[] { GradAccumulation.TargetFor(word), GradAccumulation.TargetFor(position), GradAccumulation.TargetFor(type) };
            bool accumulate = offered.Any(x => x is not null);
            var tables = new[] { word, position, type };
            var grads = new Tensor[3];
            for (int i = 0; i < 3; i++)
                grads[i] = offered[i] ?? (accumulate ? Tensor.Zeros(tables[i].Shape, DType.F32, word.Device) : Tensor.Empty(tables[i].Shape, DType.F32, word.Device));
            word.Backend.EmbeddingSumBackward(g, ids, typeIds, pad, grads[0], grads[1], grads[2], accumulate);
            return grads;
        });
        return y;
    }
}
