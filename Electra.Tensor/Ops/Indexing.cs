using Electra.Autograd;

namespace Electra;

public static partial class Ops
{
    /// <summary>
    /// Rows of table [V, E] at ids (I32, any shape): result [..ids, E], in the activation dtype (BF16 under
    /// <see cref="Autocast"/>; the table and its gradient stay F32). ELECTRA's embeddings, with their [PAD] row that
    /// takes no gradient, are <see cref="EmbeddingSum"/>.
    /// </summary>
    public static Tensor Embedding(Tensor table, Tensor ids)
    {
        SameDevice("Embedding", table, ids);
        F32("Embedding", table);
        ids.RequireDType(DType.I32, "Embedding ids");
        if (table.Rank != 2) throw new ArgumentException($"Embedding: table must be [V, E], got {table.Shape}");
        int n = checked((int)ids.Count), e = table.Shape[1];
        var dims = ids.Shape.ToArray().Append(e).ToArray();
        var y = Tensor.Empty(new Shape(dims), Autocast.Activations(table.Device, "Embedding"), table.Device);
        using (var flatIds = ids.View(n))
        using (var y2 = y.View(n, e))
        {
            table.Backend.EmbeddingForward(table, flatIds, y2);
        }
        Node.Record("Embedding", y, [table], g =>
        {
            var dTable = Tensor.Zeros(table.Shape, DType.F32, table.Device);
            using var flatIds = ids.View(n);
            using var g2 = g.View(n, e);
            table.Backend.EmbeddingBackward(g2, flatIds, dTable);
            return [dTable];
        });
        return y;
    }

    /// <summary>Rows of x [R, C] at indices [M] (I32, distinct): result [M, C].</summary>
    public static Tensor GatherRows(Tensor x, Tensor indices)
    {
        SameDevice("GatherRows", x, indices);
        indices.RequireDType(DType.I32, "GatherRows indices");
        if (x.Rank != 2 || indices.Rank != 1)
            throw new ArgumentException($"GatherRows: expected x [R, C] and indices [M], got {x.Shape} and {indices.Shape}");
        var y = Tensor.Empty(new Shape(indices.Shape[0], x.Shape[1]), x.DType, x.Device);
        x.Backend.GatherRows(x, indices, y);
        Node.Record("GatherRows", y, [x], g =>
        {
            var dX = Tensor.Zeros(x.Shape, x.DType, x.Device);
            x.Backend.ScatterRows(g, indices, dX, accumulate: true);
            return [dX];
        });
        return y;
    }

    /// <summary>A copy of dst [R, C] with rows indices[m] replaced by src[m] (I32 or F32; not differentiable).</summary>
    public static Tensor ScatterRows(Tensor dst, Tensor indices, Tensor src)
    {
        SameDevice("ScatterRows", dst, indices, src);
        indices.RequireDType(DType.I32, "ScatterRows indices");
        if (src.DType != dst.DType) throw new ArgumentException($"ScatterRows: src {src.DType.Name()} and dst {dst.DType.Name()} differ");
        var y = Copy(dst);
        dst.Backend.ScatterRows(src, indices, y, accumulate: false);
        return y;
    }
}
