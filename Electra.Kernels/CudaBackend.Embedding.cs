namespace Electra.Cuda;

public sealed partial class CudaBackend
{
    private const string EmbeddingSource = "embedding.cu";

    public void EmbeddingForward(Tensor table, Tensor ids, Tensor output)
    {
        Own("EmbeddingForward", table, ids, output);
        F32("EmbeddingForward", table);
        string type = Activations("EmbeddingForward", output);
        Require("EmbeddingForward", ids, DType.I32);
        int v = table.Shape[0], e = table.Shape[1];
        long n = ids.Count;
        if (output.Count != n * e) throw new ArgumentException($"EmbeddingForward: output {output.Shape} must be [{n}, {e}]");
        K(EmbeddingSource, "embedding_forward" + type).Launch1D(n * e, Threads, table, ids, output, n, v, e, ErrorsPointer);
    }

    public void EmbeddingBackward(Tensor dOutput, Tensor ids, Tensor dTable)
    {
        Own("EmbeddingBackward", dOutput, ids, dTable);
        string type = Activations("EmbeddingBackward", dOutput);
        F32("EmbeddingBackward", dTable);
        Require("EmbeddingBackward", ids, DType.I32);
        int v = dTable.Shape[0], e = dTable.Shape[1];
        // Ids are split into P partitions by id % P; each (column, partition) thread walks all positions in order.
        int partitions = Math.Clamp(v, 1, 64);
        K(EmbeddingSource, "embedding_backward" + type).Launch(((uint)((e + 127) / 128), (uint)partitions, 1), (128, 1, 1), 0, dOutput, ids, dTable, ids.Count, v, e);
    }

    public void GatherRows(Tensor src, Tensor indices, Tensor dst)
    {
        Own("GatherRows", src, indices, dst);
        int rows = (int)src.Shape.Rows, c = src.Shape.Last;
        long m = indices.Count;
        if (dst.DType != src.DType || dst.Count != m * c)
            throw new ArgumentException($"GatherRows: dst {dst.Shape} must be [{m}, {c}] of {src.DType.Name()}");
        K(EmbeddingSource, "gather_rows" + RowElements(src)).Launch1D(m * c, Threads, src, indices, dst, m, c, rows, ErrorsPointer);
    }

    public void ScatterRows(Tensor src, Tensor indices, Tensor dst, bool accumulate)
    {
        Own("ScatterRows", src, indices, dst);
        int rows = (int)dst.Shape.Rows, c = dst.Shape.Last;
        long m = indices.Count;
        if (src.DType != dst.DType || src.Count != m * c)
            throw new ArgumentException($"ScatterRows: src {src.Shape} must be [{m}, {c}] of {dst.DType.Name()}");
        string kernel = accumulate ? "scatter_rows_add" + Activations("ScatterRows (accumulate)", src) : "scatter_rows" + RowElements(src);
        K(EmbeddingSource, kernel).Launch1D(m * c, Threads, src, indices, dst, m, c, rows, ErrorsPointer);
    }

    /// <summary>Row moves copy raw elements: the 4-byte kernels serve F32 and I32, the 2-byte ones BF16.</summary>
    private static string RowElements(Tensor t) => t.DType.Size() == 2 ? "_u16" : "";
}
