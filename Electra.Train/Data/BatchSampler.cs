namespace Electra.Train.Data;

/// <summary>
/// Draws batches without replacement in an order that is a pure function of (seed, epoch): each epoch is a
/// Fisher–Yates permutation of all examples driven by Philox stream (seed, ShuffleOffset + epoch), and B
/// consecutive entries form a batch. The last incomplete batch of an epoch is dropped (training wants static shapes),
/// so a batch never mixes epochs. Because the order is recomputed, not remembered, resuming needs only the cursor.
/// </summary>
public sealed class BatchSampler
{
    private readonly ShardDataset _data;
    private readonly ulong _seed;
    private int[]? _order;
    private int _orderEpoch = -1;

    public int BatchSize { get; }
    public BatchCursor Cursor { get; private set; }
    public int BatchesPerEpoch => _data.Count / BatchSize;

    public BatchSampler(ShardDataset data, int batchSize, ulong seed, BatchCursor start = default)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be at least 1");
        if (data.Count < batchSize)
            throw new ArgumentException($"{data.Directory}: {data.Count} examples, fewer than one batch of {batchSize}: prepare more text or use a smaller --batch");
        if (start.Epoch < 0 || start.Position < 0 || start.Position > data.Count)
            throw new ArgumentOutOfRangeException(nameof(start), start, $"cursor outside a dataset of {data.Count} examples");
        _data = data;
        _seed = seed;
        BatchSize = batchSize;
        Cursor = start;
    }

    /// <summary>The shuffled order of <paramref name="epoch"/>: a permutation of 0..Count−1.</summary>
    public int[] EpochOrder(int epoch)
    {
        if (_order is not null && _orderEpoch == epoch) return _order;
        var order = new int[_data.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        var random = new DataRandom(_seed, DataRandom.ShuffleOffset + (ulong)epoch);
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = random.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        _order = order;
        _orderEpoch = epoch;
        return order;
    }

    /// <summary>The batch at the cursor; advances the cursor. Pass <paramref name="reuse"/> to fill it in place.</summary>
    public Batch Next(Batch? reuse = null)
    {
        var batch = reuse is not null && reuse.B == BatchSize && reuse.T == _data.SeqLen ? reuse : new Batch(BatchSize, _data.SeqLen);
        var cursor = Cursor;
        if (cursor.Position + BatchSize > _data.Count) cursor = new BatchCursor(cursor.Epoch + 1, 0);
        var order = EpochOrder(cursor.Epoch);
        int T = _data.SeqLen;
        for (int b = 0; b < BatchSize; b++)
        {
            int index = order[cursor.Position + b];
            batch.ExampleIndices[b] = index;
            batch.Lengths[b] = _data.ReadRow(index,
                batch.InputIds.AsSpan(b * T, T), batch.TokenTypeIds.AsSpan(b * T, T), batch.AttentionMask.AsSpan(b * T, T));
        }
        batch.Cursor = cursor;
        Cursor = batch.Next = cursor with { Position = cursor.Position + BatchSize };
        return batch;
    }
}
