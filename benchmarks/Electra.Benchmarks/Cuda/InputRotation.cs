namespace Electra.Benchmarks.Cuda;

/// <summary>
/// How many copies of a case's inputs the harness cycles through so that every timed run reads its inputs from
/// device memory rather than from an L2 still warm from an earlier run. Runs read the copies in turn, so between
/// two reads of one byte all K copies stream through the cache once: K · bytes ≥ 2 × L2 leaves none of it
/// resident. Inputs already twice the L2 size need no second copy. The count is capped by a memory budget and by
/// <see cref="MaxCopies"/>; the report prints the count each case used, so a capped (warmer) case is visible.
/// </summary>
public static class InputRotation
{
    public const int MaxCopies = 64;

    /// <summary>Default budget for one case's copies together: small next to an 80 GB device.</summary>
    public const long DefaultBudgetBytes = 4L << 30;

    public static int Copies(long bytesPerCopy, long l2Bytes, long budgetBytes = DefaultBudgetBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerCopy);
        if (l2Bytes <= 0) return 1;
        long needed = (2 * l2Bytes + bytesPerCopy - 1) / bytesPerCopy;
        long affordable = Math.Max(1, budgetBytes / bytesPerCopy);
        return (int)Math.Max(1, Math.Min(Math.Min(needed, affordable), MaxCopies));
    }
}

/// <summary>
/// Copies of one case's input tensors: the originals (copy 0, which the rotation takes over) and clones of them;
/// <c>this[run]</c> is copy run mod Count, so the harness's run counter picks them in turn. Disposing it frees
/// every copy, the originals included.
/// </summary>
public sealed class Rotation : IDisposable
{
    private readonly List<Tensor[]> _copies = [];

    public Rotation(Tensor[] originals, int copies, Func<Tensor, Tensor> clone)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(copies);
        _copies.Add(originals);
        try
        {
            for (int i = 1; i < copies; i++) _copies.Add(originals.Select(clone).ToArray());
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Count => _copies.Count;

    public Tensor[] this[int run] => _copies[run % _copies.Count];

    public void Dispose()
    {
        foreach (var copy in _copies)
            foreach (var t in copy) t.Dispose();
        _copies.Clear();
    }
}
