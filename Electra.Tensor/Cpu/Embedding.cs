using System.Numerics.Tensors;

namespace Electra.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void EmbeddingForward(Tensor table, Tensor ids, Tensor output)
    {
        int v = table.Shape[0], e = table.Shape[1], n = (int)ids.Count;
        if (output.Count != (long)n * e) throw new ArgumentException($"EmbeddingForward: output {output.Shape} must be [{n}, {e}]");
        float* pt = P(table), po = P(output);
        int* pi = PI(ids);
        for (int r = 0; r < n; r++)
        {
            int id = pi[r];
            if ((uint)id >= (uint)v)
                throw new ArgumentOutOfRangeException(nameof(ids), $"Embedding: id {id} at position {r} is outside the table's {v} rows{(table.Name is null ? "" : $" ({table.Name})")}");
            new ReadOnlySpan<float>(pt + (long)id * e, e).CopyTo(new Span<float>(po + (long)r * e, e));
        }
    }

    public void EmbeddingBackward(Tensor dOutput, Tensor ids, Tensor dTable)
    {
        int e = dTable.Shape[1], n = (int)ids.Count;
        float* pg = P(dOutput), pt = P(dTable);
        int* pi = PI(ids);
        // In position order, so repeated ids accumulate in the same order every run.
        for (int r = 0; r < n; r++)
        {
            var row = new Span<float>(pt + (long)pi[r] * e, e);
            TensorPrimitives.Add(row, new ReadOnlySpan<float>(pg + (long)r * e, e), row);
        }
    }

    public void GatherRows(Tensor src, Tensor indices, Tensor dst)
    {
        int rows = (int)src.Shape.Rows, c = src.Shape.Last, m = (int)indices.Count;
        if (src.DType.Size() != 4 || dst.DType != src.DType || dst.Count != (long)m * c)
            throw new ArgumentException($"GatherRows: dst {dst.Shape} must be [{m}, {c}] of {src.DType.Name()}");
        int* ps = (int*)src.Pointer, pd = (int*)dst.Pointer, pi = PI(indices);
        for (int r = 0; r < m; r++)
        {
            int idx = pi[r];
            if ((uint)idx >= (uint)rows) throw new ArgumentOutOfRangeException(nameof(indices), $"GatherRows: index {idx} at {r} is outside [0, {rows})");
            new ReadOnlySpan<int>(ps + (long)idx * c, c).CopyTo(new Span<int>(pd + (long)r * c, c));
        }
    }

    public void ScatterRows(Tensor src, Tensor indices, Tensor dst, bool accumulate)
    {
        int rows = (int)dst.Shape.Rows, c = dst.Shape.Last, m = (int)indices.Count;
        if (src.DType != dst.DType || src.Count != (long)m * c)
            throw new ArgumentException($"ScatterRows: src {src.Shape} must be [{m}, {c}] of {dst.DType.Name()}");
        if (accumulate) src.RequireDType(DType.F32, "ScatterRows (accumulate)");
        int* pi = PI(indices);
        for (int r = 0; r < m; r++)
        {
            int idx = pi[r];
            if ((uint)idx >= (uint)rows) throw new ArgumentOutOfRangeException(nameof(indices), $"ScatterRows: index {idx} at {r} is outside [0, {rows})");
            if (accumulate)
            {
                var d = new Span<float>(P(dst) + (long)idx * c, c);
                TensorPrimitives.Add(d, new ReadOnlySpan<float>(P(src) + (long)r * c, c), d);
            }
            else
            {
                new ReadOnlySpan<int>((int*)src.Pointer + (long)r * c, c).CopyTo(new Span<int>((int*)dst.Pointer + (long)idx * c, c));
            }
        }
    }

    public void Dropout(Tensor x, float p, ulong seed, ulong offset, Tensor y)
    {
        SameCount("Dropout", x, y);
        float* px = P(x), py = P(y);
        float keep = 1f / (1f - p);
        ParallelRows((int)((x.Count + 255) / 256), 256, (s, e) =>
        {
            uint* bits = stackalloc uint[256];
            for (int blk = s; blk < e; blk++)
            {
                long start = (long)blk * 256;
                int n = (int)Math.Min(256, x.Count - start);
                Philox.Fill(seed, offset, (ulong)start, new Span<uint>(bits, n));
                DropoutMask.Apply(px + start, bits, p, keep, py + start, n);
            }
        });
    }
}
