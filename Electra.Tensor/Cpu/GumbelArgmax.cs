using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Electra.Cpu;

// Gumbel-max sampling over a row of V logits: argmax_c(x[c]/τ + Gumbel(seed, offset, row·V + c)), lowest index on
// ties, never the skipped column. The result must be bit-identical to the scalar definition (the CUDA kernels
// reproduce the same draws), so the fast path changes only *which* columns are evaluated and how many at a time,
// never how a score is computed:
//  - scores of 16 columns at once from the SIMD Philox and Gumbel (lane-for-lane equal to the scalar functions);
//  - each lane keeps its own first maximum; the lanes are merged by (highest score, then lowest index), which is
//    the scalar scan's answer because scores of non-NaN logits are never NaN (Gumbel noise is finite), so "score"
//    is a total order and the scalar first-maximum is the lowest index among the maximal scores;
//  - a row that holds a NaN score goes through the scalar scan, whose NaN behaviour is the definition.
//  - Pruning. Every noise value is ≤ GumbelMax (the exhaustive maximum over all inputs, see Philox.GumbelMax), and
//    round-to-nearest is monotone: a ≤ a′ and g ≤ g′ imply fl(a + g) ≤ fl(a′ + g′), and for τ⁻¹ > 0,
//    x ≤ x′ implies fl(x·τ⁻¹) ≤ fl(x′·τ⁻¹). So a block of columns with fl(fl(max x · τ⁻¹) + GumbelMax) < L, where
//    L is the actual score of one eligible column, holds only scores < L ≤ the row's best: none of them can be
//    the (strict, first) maximum, and its random bits are never needed. L is the score of the row's largest
//    logit, the likeliest winner. The block holding that column is never pruned (its bound is ≥ L), so the
//    scan still sees a score ≥ L.
//  - Per-column pruning, inside the blocks that remain. The noise of a column is bounded more tightly by the
//    bucket its random bits fall in (GumbelBuckets: by how close the uniform is to 1, each bucket's exhaustive
//    maximum). Where every lane of 16 columns has fl(fl(x·τ⁻¹) + Max[bucket]) < L, none can win, and their
//    noise (two logarithms each) is never computed. L grows to the best score seen after each block, which
//    after the first block is already near the row's maximum, so on flat (untrained) rows nearly every vector
//    is skipped too.
public sealed unsafe partial class CpuBackend
{
    private const int GumbelBlock = 1024;

    /// <summary>argmax_c(x[c]/τ + Gumbel(seed, offset, row·V + c)), lowest index on ties, skipping <paramref name="skip"/>.</summary>
    internal static int GumbelArgmax(ReadOnlySpan<float> x, float temperature, ulong seed, ulong offset, int row, int skip)
    {
        if (!Philox.VectorBlocks.IsSupported || x.Length < 16) return GumbelArgmaxScalar(x, temperature, seed, offset, row, skip);
        int result = GumbelArgmaxVector(x, temperature, seed, offset, row, skip);
        return result == NaNSeen ? GumbelArgmaxScalar(x, temperature, seed, offset, row, skip) : result;
    }

    private const int NaNSeen = int.MinValue;

    /// <summary>The definition: one column at a time, in index order.</summary>
    internal static int GumbelArgmaxScalar(ReadOnlySpan<float> x, float temperature, ulong seed, ulong offset, int row, int skip)
    {
        int v = x.Length;
        Span<uint> bits = stackalloc uint[256];
        float best = float.NegativeInfinity;
        int bestIndex = -1;
        float invT = 1f / temperature;
        ulong rowStart = (ulong)row * (ulong)v;
        for (int c0 = 0; c0 < v; c0 += bits.Length)
        {
            int n = Math.Min(bits.Length, v - c0);
            Philox.FillScalar(seed, offset, rowStart + (ulong)c0, bits[..n]);
            for (int i = 0; i < n; i++)
            {
                int c = c0 + i;
                if (c == skip) continue;
                float score = x[c] * invT + Philox.Gumbel(bits[i]);
                if (score > best || bestIndex < 0) { best = score; bestIndex = c; }
            }
        }
        return bestIndex;
    }

    private static int GumbelArgmaxVector(ReadOnlySpan<float> x, float temperature, ulong seed, ulong offset, int row, int skip)
    {
        int v = x.Length;
        float invT = 1f / temperature;
        ulong rowStart = (ulong)row * (ulong)v;
        float lowerBound = float.NegativeInfinity;
        if (invT > 0f && float.IsFinite(invT))
        {
            int top = TensorPrimitives.IndexOfMax(x);
            if (top != skip) lowerBound = x[top] * invT + Philox.Gumbel(Philox.Bits(seed, offset, rowStart + (ulong)top));
        }
        bool prune = lowerBound > float.NegativeInfinity; // false for NaN too
        bool pruneColumns = prune && GumbelBuckets.IsSupported;

        Span<uint> bits = stackalloc uint[GumbelBlock];
        Span<float> tx = stackalloc float[16];
        Span<uint> tb = stackalloc uint[16];
        var state = new ArgmaxLanes(invT, skip);
        ref float x0 = ref MemoryMarshal.GetReference(x);
        for (int c0 = 0; c0 < v; c0 += GumbelBlock)
        {
            int n = Math.Min(GumbelBlock, v - c0);
            if (prune && TensorPrimitives.Max(x.Slice(c0, n)) * invT + Philox.GumbelMax < lowerBound) continue;
            Philox.Fill(seed, offset, rowStart + (ulong)c0, bits[..n]);
            ref uint b0 = ref MemoryMarshal.GetReference(bits);
            int i = 0;
            var bound = Vector512.Create(lowerBound);
            for (; i + 16 <= n; i += 16)
            {
                var xs = Vector512.LoadUnsafe(ref x0, (nuint)(c0 + i));
                var bs = Vector512.LoadUnsafe(ref b0, (nuint)i);
                if (pruneColumns && GumbelBuckets.NoneCanReach(xs, bs, state.InvT, bound)) continue;
                state.Add(xs, bs, c0 + i);
            }
            if (i < n)
            {
                // The last partial vector, padded; the padding columns are excluded like the skipped one.
                tx.Clear();
                tb.Clear();
                x.Slice(c0 + i, n - i).CopyTo(tx);
                bits.Slice(i, n - i).CopyTo(tb);
                state.Add(Vector512.Create((ReadOnlySpan<float>)tx), Vector512.Create((ReadOnlySpan<uint>)tb), c0 + i, c0 + n);
            }
            if (prune) lowerBound = MathF.Max(lowerBound, state.BestScore); // a score some lane holds
        }
        if (state.SawNaN) return NaNSeen;
        int winner = state.Winner();
        // Every score was −∞: the scalar scan keeps its first eligible column.
        return winner >= 0 ? winner : skip == 0 ? (v > 1 ? 1 : -1) : 0;
    }

    /// <summary>Per-lane first maximum of the scores, with the column index that reached it.</summary>
    private struct ArgmaxLanes(float invT, int skip)
    {
        private Vector512<float> _best = Vector512.Create(float.NegativeInfinity);
        private Vector512<int> _index = Vector512.Create(-1);
        private Vector512<int> _nan = Vector512<int>.Zero;
        private readonly Vector512<float> _invT = Vector512.Create(invT);
        private readonly Vector512<int> _skip = Vector512.Create(skip);

        public readonly Vector512<float> InvT => _invT;

        /// <summary>The highest score a lane holds: an eligible column's actual score (−∞ before the first).</summary>
        public readonly float BestScore
        {
            get
            {
                float m = float.NegativeInfinity;
                for (int j = 0; j < 16; j++) m = MathF.Max(m, _best.GetElement(j));
                return m;
            }
        }

        /// <summary>Columns firstColumn … firstColumn+15; those at or past <paramref name="end"/> are padding.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Add(Vector512<float> x, Vector512<uint> bits, int firstColumn, int end = int.MaxValue)
        {
            var score = x * _invT + Philox.Gumbel(bits);
            var column = Vector512.Create(firstColumn) + Vector512<int>.Indices;
            var excluded = Vector512.Equals(column, _skip) | Vector512.GreaterThanOrEqual(column, Vector512.Create(end));
            score = Vector512.ConditionalSelect(excluded.AsSingle(), Vector512.Create(float.NegativeInfinity), score);
            _nan |= ~Vector512.Equals(score, score).AsInt32();
            var better = Vector512.GreaterThan(score, _best);
            _best = Vector512.ConditionalSelect(better, score, _best);
            _index = Vector512.ConditionalSelect(better.AsInt32(), column, _index);
        }

        public readonly bool SawNaN => _nan != Vector512<int>.Zero;

        /// <summary>The lowest column among the lanes holding the highest score; −1 when no score beat −∞.</summary>
        public readonly int Winner()
        {
            float best = float.NegativeInfinity;
            int index = -1;
            for (int j = 0; j < 16; j++)
            {
                float s = _best.GetElement(j);
                int c = _index.GetElement(j);
                if (c < 0) continue;
                if (index < 0 || s > best || (s == best && c < index)) { best = s; index = c; }
            }
            return index;
        }
    }
}
