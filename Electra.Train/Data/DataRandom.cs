namespace Electra.Train.Data;

/// <summary>
/// A sequential view of one Philox stream (seed, offset): data preparation and batch order draw from it so their
/// results depend on the seed alone, never on the runtime's <see cref="Random"/> implementation.
/// </summary>
public sealed class DataRandom(ulong seed, ulong offset)
{
    /// <summary>Stream offsets: each consumer owns one so their draws never overlap.</summary>
    public const ulong ExampleBuilderOffset = 0x4558_414D_0000_0000; // "EXAM"
    public const ulong ShuffleOffset = 0x5348_5546_0000_0000;        // "SHUF" + epoch

    private ulong _counter;

    public uint NextUInt32() => Philox.Bits(seed, offset, _counter++);

    /// <summary>Uniform in [0, 1) with 53 bits, like Python's random.random().</summary>
    public double NextDouble()
    {
        ulong hi = NextUInt32() >> 5, lo = NextUInt32() >> 6; // 27 + 26 bits
        return (hi * 67108864.0 + lo) * (1.0 / 9007199254740992.0);
    }

    /// <summary>Uniform integer in [0, n), unbiased (Lemire's multiply with rejection).</summary>
    public int NextInt(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        ulong m = (ulong)NextUInt32() * (uint)n;
        uint low = (uint)m;
        if (low < (uint)n)
        {
            uint threshold = (uint)-n % (uint)n;
            while (low < threshold)
            {
                m = (ulong)NextUInt32() * (uint)n;
                low = (uint)m;
            }
        }
        return (int)(m >> 32);
    }

    /// <summary>Uniform integer in [lo, hi], both ends included (Python's random.randint).</summary>
    public int NextInclusive(int lo, int hi) => lo + NextInt(hi - lo + 1);
}
