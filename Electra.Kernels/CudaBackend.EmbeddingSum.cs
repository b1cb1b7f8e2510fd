namespace Electra.Cuda;

public sealed partial class CudaBackend
{
    private const string EmbeddingSumSource = "embedding_sum.cu";

    // embedding_sum.cu's TILE: positions per sorted tile and threads per block of the backward's first pass.
    private const int EmbeddingSumTile = 256;

    public void EmbeddingSumForward(Tensor word, Tensor position, Tensor type, Tensor ids, Tensor typeIds, Tensor output)
    {
        Own("EmbeddingSumForward", word, position, type, ids, typeIds, output);
        F32("EmbeddingSumForward", word, position, type);
        string dtype = Activations("EmbeddingSumForward", output);
        var (rows, seq, e) = EmbeddingSumShapes("EmbeddingSumForward", word, position, type, ids, typeIds);
        if (output.Count != (long)rows * e) throw new ArgumentException($"EmbeddingSumForward: output {output.Shape} must be [{rows}, {e}]");
        // Each output element reads one element of each table; the position and type rows it reads are few and stay in L2.
        long tableBytes = 4L * e * (Math.Min(rows, word.Shape[0]) + Math.Min(seq, position.Shape[0]) + type.Shape[0]);
        long bytes = ids.Bytes + typeIds.Bytes + output.Bytes + tableBytes;
        long blocks = Math.Min(((long)rows * e + Threads - 1) / Threads, 65535L * 32);
        K(EmbeddingSumSource, "embedding_sum_forward" + dtype).Launch(new LaunchCost(0, FlopRate.None, bytes), ((uint)blocks, 1, 1), (Threads, 1, 1), 0,
            word, position, type, ids, typeIds, output, (long)rows, seq, word.Shape[0], type.Shape[0], e, ErrorsPointer);
    }

    public void EmbeddingSumBackward(Tensor dOutput, Tensor ids, Tensor typeIds, int padId, Tensor dWord, Tensor dPosition, Tensor dType, bool accumulate)
    {
        Own("EmbeddingSumBackward", dOutput, ids, typeIds, dWord, dPosition, dType);
        F32("EmbeddingSumBackward", dWord, dPosition, dType);
        string dtype = Activations("EmbeddingSumBackward", dOutput);
        var (rows, seq, e) = EmbeddingSumShapes("EmbeddingSumBackward", dWord, dPosition, dType, ids, typeIds);
        if (dOutput.Count != (long)rows * e) throw new ArgumentException($"EmbeddingSumBackward: dOutput {dOutput.Shape} must be [{rows}, {e}]");
        int v = dWord.Shape[0], p = dPosition.Shape[0], k = dType.Shape[0];
        int tiles = (rows + EmbeddingSumTile - 1) / EmbeddingSumTile;
        int columnTiles = (e + 31) / 32;
        if (columnTiles > ColumnTickets)
            throw new ArgumentException($"EmbeddingSumBackward: {e} columns is more than the {ColumnTickets * 32} the ticket table serves");
        using var tileIds = Scratch((long)tiles * EmbeddingSumTile, DType.I32);
        using var partials = Scratch((long)tiles * EmbeddingSumTile * e);
        using var typePartials = Scratch((long)seq * k * e);
        // Pass 1 reads dOut twice (word pieces, and position/type sums), writes at most one piece row per position and
        // the type pieces (read again by the last block of each column tile).
        long firstBytes = 2 * dOutput.Bytes + ids.Bytes + typeIds.Bytes + tileIds.Bytes + partials.Bytes + 2 * typePartials.Bytes
                          + (accumulate ? 2 : 1) * (dPosition.Bytes + dType.Bytes);
        K(EmbeddingSumSource, "embedding_sum_backward" + dtype).Launch(new LaunchCost(0, FlopRate.None, firstBytes),
            ((uint)(tiles + columnTiles * seq), 1, 1), (EmbeddingSumTile, 1, 1), 0,
            dOutput, ids, typeIds, rows, seq, v, k, e, p, padId, tileIds, partials, typePartials, (ulong)_columnTickets, dPosition, dType,
            accumulate ? 1 : 0);
        // Pass 2 searches the tile lists (cached), reads each piece once and writes every row (only the pieces' rows,
        // read and written, when accumulating).
        long pieceBytes = Math.Min(partials.Bytes, 4L * e * Math.Min(rows, v));
        long secondBytes = tileIds.Bytes + pieceBytes + (accumulate ? 2 * pieceBytes : dWord.Bytes);
        const int rowsPerBlock = 8;
        K(EmbeddingSumSource, "embedding_sum_backward_words").Launch(new LaunchCost(0, FlopRate.None, secondBytes),
            ((uint)((v + rowsPerBlock - 1) / rowsPerBlock), 1, 1), (32 * rowsPerBlock, 1, 1), 0,
            partials, tileIds, tiles, v, e, padId, dWord, accumulate ? 1 : 0);
    }

    /// <summary>B·T, T and E of an embedding sum, with the tables' and ids' shapes checked against each other.</summary>
    private static (int Rows, int Seq, int E) EmbeddingSumShapes(string op, Tensor word, Tensor position, Tensor type, Tensor ids, Tensor typeIds)
    {
        Require(op, ids, DType.I32);
        Require(op, typeIds, DType.I32);
        if (ids.Rank != 2 || typeIds.Shape != ids.Shape)
            throw new ArgumentException($"{op}: ids {ids.Shape} and typeIds {typeIds.Shape} must both be [B, T]");
        int e = word.Shape.Last;
        if (word.Rank != 2 || position.Rank != 2 || type.Rank != 2 || position.Shape[1] != e || type.Shape[1] != e)
            throw new ArgumentException($"{op}: tables {word.Shape}, {position.Shape}, {type.Shape} must be [V, E], [P, E], [K, E] with one E");
        int seq = ids.Shape[1];
        if (seq > position.Shape[0])
            throw new ArgumentException($"{op}: sequence length {seq} exceeds the position table's {position.Shape[0]} rows");
        return (checked(ids.Shape[0] * seq), seq, e);
    }
}
