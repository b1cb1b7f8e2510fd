using System.Numerics.Tensors;

namespace Electra.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void EmbeddingSumForward(Tensor word, Tensor position, Tensor type, Tensor ids, Tensor typeIds, Tensor output)
    {
        var (rows, seq, e) = EmbeddingSumShapes("EmbeddingSumForward", word, position, type, ids, typeIds);
        output.RequireDType(DType.F32, "EmbeddingSumForward output");
        if (output.Count != (long)rows * e) throw new ArgumentException($"EmbeddingSumForward: output {output.Shape} must be [{rows}, {e}]");
        CheckEmbeddingSumIds(word, type, ids, typeIds);
        float* pw = P(word), pp = P(position), pt = P(type), po = P(output);
        int* pi = PI(ids), pk = PI(typeIds);
        ParallelRows(rows, 3L * e, (s, end) =>
        {
            for (int r = s; r < end; r++)
            {
                var o = new Span<float>(po + (long)r * e, e);
                TensorPrimitives.Add(new ReadOnlySpan<float>(pw + (long)pi[r] * e, e), new ReadOnlySpan<float>(pp + (long)(r % seq) * e, e), o);
                TensorPrimitives.Add(o, new ReadOnlySpan<float>(pt + (long)pk[r] * e, e), o);
            }
        });
    }

    public void EmbeddingSumBackward(Tensor dOutput, Tensor ids, Tensor typeIds, int padId, Tensor dWord, Tensor dPosition, Tensor dType, bool accumulate)
    {
        var (rows, seq, e) = EmbeddingSumShapes("EmbeddingSumBackward", dWord, dPosition, dType, ids, typeIds);
        dOutput.RequireDType(DType.F32, "EmbeddingSumBackward dOutput");
        if (dOutput.Count != (long)rows * e) throw new ArgumentException($"EmbeddingSumBackward: dOutput {dOutput.Shape} must be [{rows}, {e}]");
        CheckEmbeddingSumIds(dWord, dType, ids, typeIds);
        if (!accumulate)
        {
            F(dWord).Clear();
            F(dPosition).Clear();
            F(dType).Clear();
        }
        float* pg = P(dOutput);
        int* pi = PI(ids), pk = PI(typeIds);

        // Word rows: positions grouped by id (sorted, equal ids in position order), each group summed in that order and
        // then added to its row once, as the CUDA kernels do; [PAD] is never summed.
        var keys = new long[rows];
        int count = 0;
        for (int r = 0; r < rows; r++)
            if (pi[r] != padId) keys[count++] = ((long)pi[r] << 32) | (uint)r;
        Array.Sort(keys, 0, count);
        var starts = new List<int>();
        for (int i = 0; i < count; i++)
            if (i == 0 || keys[i] >> 32 != keys[i - 1] >> 32) starts.Add(i);
        starts.Add(count);
        float* pw = P(dWord);
        ParallelRows(starts.Count - 1, (long)e * Math.Max(1, count / Math.Max(1, starts.Count - 1)), (s, end) =>
        {
            var sum = new float[e];
            for (int g = s; g < end; g++)
            {
                sum.AsSpan().Clear();
                for (int i = starts[g]; i < starts[g + 1]; i++)
                    TensorPrimitives.Add(sum, new ReadOnlySpan<float>(pg + (keys[i] & 0xFFFFFFFFL) * e, e), sum);
                var row = new Span<float>(pw + (keys[starts[g]] >> 32) * e, e);
                TensorPrimitives.Add(row, sum, row);
            }
        });

        // Position rows: Σ over the batch in batch order.
        int batch = rows / seq;
        float* pp = P(dPosition);
        ParallelRows(seq, (long)batch * e, (s, end) =>
        {
            var sum = new float[e];
            for (int t = s; t < end; t++)
            {
                sum.AsSpan().Clear();
                for (int b = 0; b < batch; b++)
                    TensorPrimitives.Add(sum, new ReadOnlySpan<float>(pg + ((long)b * seq + t) * e, e), sum);
                var row = new Span<float>(pp + (long)t * e, e);
                TensorPrimitives.Add(row, sum, row);
            }
        });

        // Token-type rows: Σ over the positions of each type, in position order.
        int k = dType.Shape[0];
        var sums = new float[k * e];
        for (int r = 0; r < rows; r++)
        {
            var sum = sums.AsSpan(pk[r] * e, e);
            TensorPrimitives.Add(sum, new ReadOnlySpan<float>(pg + (long)r * e, e), sum);
        }
        TensorPrimitives.Add(F(dType), sums, F(dType));
    }

    /// <summary>B·T, T and E of an embedding sum, with the tables' and ids' shapes checked against each other.</summary>
    private static (int Rows, int Seq, int E) EmbeddingSumShapes(string op, Tensor word, Tensor position, Tensor type, Tensor ids, Tensor typeIds)
    {
        ids.RequireDType(DType.I32, $"{op} ids");
        typeIds.RequireDType(DType.I32, $"{op} typeIds");
        if (ids.Rank != 2 || typeIds.Shape != ids.Shape)
            throw new ArgumentException($"{op}: ids {ids.Shape} and typeIds {typeIds.Shape} must both be [B, T]");
        int e = word.Shape.Last;
        if (word.Rank != 2 || position.Rank != 2 || type.Rank != 2 || position.Shape[1] != e || type.Shape[1] != e)
            throw new ArgumentException($"{op}: tables {word.Shape}, {position.Shape}, {type.Shape} must be [V, E], [P, E], [K, E] with one E");
        foreach (var t in new[] { word, position, type }) t.RequireDType(DType.F32, $"{op} table");
        int seq = ids.Shape[1];
        if (seq > position.Shape[0])
            throw new ArgumentException($"{op}: sequence length {seq} exceeds the position table's {position.Shape[0]} rows");
        return (checked(ids.Shape[0] * seq), seq, e);
    }

    private static void CheckEmbeddingSumIds(Tensor word, Tensor type, Tensor ids, Tensor typeIds)
    {
        int v = word.Shape[0], k = type.Shape[0];
        var pi = I(ids);
        var pk = I(typeIds);
        for (int r = 0; r < pi.Length; r++)
        {
            if ((uint)pi[r] >= (uint)v)
                throw new ArgumentOutOfRangeException(nameof(ids), $"EmbeddingSum: id {pi[r]} at position {r} is outside the word table's {v} rows{Named(word)}");
            if ((uint)pk[r] >= (uint)k)
                throw new ArgumentOutOfRangeException(nameof(typeIds), $"EmbeddingSum: token type id {pk[r]} at position {r} is outside the token-type table's {k} rows{Named(type)}");
        }
    }

    private static string Named(Tensor t) => t.Name is null ? "" : $" ({t.Name})";
}
