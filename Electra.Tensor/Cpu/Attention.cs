using System.Buffers;
using System.Numerics.Tensors;

namespace Electra.Cpu;

public sealed unsafe partial class CpuBackend
{
    // The CPU reference works on one (batch, head) pair at a time: it copies that head's Q, K, V (and dO) out of the
    // fused layout into contiguous [T, HS] scratch, materialises the T×T scores, and does every product on the
    // packed GEMM (single-threaded per head). (b, h) pairs run in parallel in fixed blocks and write disjoint slices
    // of the outputs, so no reduction crosses threads and the result does not depend on scheduling.
    // Dropout on probabilities: element (i, j) of head bh uses Philox number (bh·T + i)·T + j, as the CUDA kernels.

    public void AttentionForward(Tensor qkv, Tensor keyMask, int heads, float scale, float dropout, ulong seed, ulong offset, Tensor output, Tensor lse,
        Tensor? qkvBias = null)
    {
        var (b, t, h, hs) = AttentionDims(qkv, heads);
        float* pq = P(qkv), po = P(output), pl = P(lse), pb = BiasOf(qkvBias, h);
        int* pm = PI(keyMask);
        float keep = 1f / (1f - dropout);
        ParallelRows(b * heads, (long)t * t * hs, (first, end) =>
        {
            var scratch = ArrayPool<float>.Shared.Rent(4 * t * hs + t * t);
            var bitsArray = ArrayPool<uint>.Shared.Rent(t);
            fixed (float* ps = scratch)
            fixed (uint* bits = bitsArray)
            {
                float* q = ps, k = q + t * hs, v = k + t * hs, o = v + t * hs, s = o + t * hs;
                for (int bh = first; bh < end; bh++)
                {
                    int bi = bh / heads, hi = bh % heads;
                    LoadHead(pq, pb, bi, hi, t, h, hs, q, k, v);
                    CpuGemm.Run(q, false, k, true, s, t, t, hs, scale, 0f, threads: 1);      // S = scale·Q·Kᵀ
                    for (int i = 0; i < t; i++)
                    {
                        float* si = s + i * t;
                        float l = SoftmaxRow(si, pm + bi * t, t);
                        pl[(long)bh * t + i] = l;
                        if (dropout > 0f && !float.IsNegativeInfinity(l))
                        {
                            Philox.Fill(seed, offset, ((ulong)bh * (ulong)t + (ulong)i) * (ulong)t, new Span<uint>(bits, t));
                            DropoutMask.Apply(si, bits, dropout, keep, si, t);
                        }
                    }
                    CpuGemm.Run(s, false, v, false, o, t, hs, t, 1f, 0f, threads: 1);       // O = P̃·V
                    StoreHead(o, t, hs, po + (long)bi * t * h + hi * hs, h);
                }
            }
            ArrayPool<float>.Shared.Return(scratch);
            ArrayPool<uint>.Shared.Return(bitsArray);
        });
    }

    public void AttentionBackward(Tensor dOutput, Tensor qkv, Tensor keyMask, Tensor output, Tensor lse, int heads, float scale, float dropout, ulong seed, ulong offset, Tensor dQkv,
        Tensor? qkvBias = null, Tensor? dQkvBias = null)
    {
        var (b, t, h, hs) = AttentionDims(qkv, heads);
        float* pq = P(qkv), pdo = P(dOutput), po = P(output), pl = P(lse), pd = P(dQkv), pb = BiasOf(qkvBias, h);
        if (dQkvBias is not null && (qkvBias is null || dQkvBias.DType != DType.F32 || dQkvBias.Count != 3 * h))
            throw new ArgumentException($"AttentionBackward: dQkvBias must be [{3 * h}] f32 beside a qkvBias, got {dQkvBias.Shape} {dQkvBias.DType.Name()}{(qkvBias is null ? " without one" : "")}");
        int* pm = PI(keyMask);
        float keep = 1f / (1f - dropout);
        ParallelRows(b * heads, 3L * t * t * hs, (first, end) =>
        {
            var scratch = ArrayPool<float>.Shared.Rent(7 * t * hs + 3 * t * t);
            var bitsArray = ArrayPool<uint>.Shared.Rent(t);
            fixed (float* ps = scratch)
            fixed (uint* bits = bitsArray)
            {
                float* q = ps, k = q + t * hs, v = k + t * hs, dO = v + t * hs, dq = dO + t * hs, dk = dq + t * hs, dv = dk + t * hs;
                float* p = dv + t * hs, pDropped = p + t * t, ds = pDropped + t * t;
                for (int bh = first; bh < end; bh++)
                {
                    int bi = bh / heads, hi = bh % heads;
                    LoadHead(pq, pb, bi, hi, t, h, hs, q, k, v);
                    LoadRows(pdo + (long)bi * t * h + hi * hs, h, t, hs, dO);
                    CpuGemm.Run(q, false, k, true, p, t, t, hs, scale, 0f, threads: 1);      // scale·Q·Kᵀ, recomputed
                    CpuGemm.Run(dO, false, v, true, ds, t, t, hs, 1f, 0f, threads: 1);      // dP̃ = dO·Vᵀ
                    for (int i = 0; i < t; i++)
                    {
                        float* pi = p + i * t, pdi = pDropped + i * t, dsi = ds + i * t;
                        float l = pl[(long)bh * t + i];
                        if (float.IsNegativeInfinity(l))
                        {
                            // A row with no real key produced zeros: nothing flows back through it.
                            new Span<float>(pi, t).Clear();
                            new Span<float>(pdi, t).Clear();
                            new Span<float>(dsi, t).Clear();
                            continue;
                        }
                        Probabilities(pi, pm + bi * t, l, t);                               // P = exp(S − lse), masked keys 0
                        var dsRow = new Span<float>(dsi, t);
                        if (dropout > 0f)
                        {
                            // P̃ = P∘M and dP = M∘dP̃, M ∈ {0, 1/(1−p)} the forward's mask.
                            Philox.Fill(seed, offset, ((ulong)bh * (ulong)t + (ulong)i) * (ulong)t, new Span<uint>(bits, t));
                            DropoutMask.Apply(pi, bits, dropout, keep, pdi, t);
                            DropoutMask.Apply(dsi, bits, dropout, keep, dsi, t);
                        }
                        else
                        {
                            new ReadOnlySpan<float>(pi, t).CopyTo(new Span<float>(pdi, t));
                        }
                        // dS = P∘(dP − D_i)·scale, D_i = dO_i·O_i (the dropped output, so dropout is included).
                        float dRow = TensorPrimitives.Dot(new ReadOnlySpan<float>(dO + i * hs, hs),
                            new ReadOnlySpan<float>(po + (long)(bi * t + i) * h + hi * hs, hs));
                        TensorPrimitives.Subtract(dsRow, dRow, dsRow);
                        TensorPrimitives.Multiply(dsRow, new ReadOnlySpan<float>(pi, t), dsRow);
                        TensorPrimitives.Multiply(dsRow, scale, dsRow);
                    }
                    CpuGemm.Run(pDropped, true, dO, false, dv, t, hs, t, 1f, 0f, threads: 1); // dV = P̃ᵀ·dO
                    CpuGemm.Run(ds, false, k, false, dq, t, hs, t, 1f, 0f, threads: 1);       // dQ = dS·K
                    CpuGemm.Run(ds, true, q, false, dk, t, hs, t, 1f, 0f, threads: 1);        // dK = dSᵀ·Q
                    float* dBase = pd + (long)bi * t * 3 * h + hi * hs;
                    StoreHead(dq, t, hs, dBase, 3 * h);
                    StoreHead(dk, t, hs, dBase + h, 3 * h);
                    StoreHead(dv, t, hs, dBase + 2 * h, 3 * h);
                }
            }
            ArrayPool<float>.Shared.Return(scratch);
            ArrayPool<uint>.Shared.Return(bitsArray);
        });
        if (dQkvBias is not null) ColumnSums(pd, b * t, 3 * h, P(dQkvBias), 0f);
    }

    /// <summary>
    /// One row of scores in place → softmax probabilities over the real keys (masked keys get 0); returns the row's
    /// log-sum-exp, or −∞ (and a zero row) when no key is real. A NaN score, or real keys that all score −∞, make
    /// the whole row and its lse NaN: a diverged query or key weight must show in the output, not vanish.
    /// </summary>
    private static float SoftmaxRow(float* si, int* keyMask, int t)
    {
        float max = float.NegativeInfinity;
        bool anyKey = false;
        for (int j = 0; j < t; j++)
        {
            if (keyMask[j] == 0)
            {
                si[j] = float.NegativeInfinity;
                continue;
            }
            anyKey = true;
            // A plain `>` skips NaN, and a row of NaN scores then looked like a row without keys (zeros).
            if (float.IsNaN(si[j]) || si[j] > max) max = si[j];
        }
        var row = new Span<float>(si, t);
        if (!anyKey)
        {
            row.Clear();
            return float.NegativeInfinity;
        }
        TensorPrimitives.Subtract(row, max, row);
        TensorPrimitives.Exp(row, row);                 // exp(−∞) = 0 for the masked keys
        double sum = TensorPrimitives.Sum(row);
        TensorPrimitives.Multiply(row, (float)(1.0 / sum), row);
        return max + (float)Math.Log(sum);
    }

    /// <summary>Row of scaled scores in place → exp(s − lse), the forward's probabilities; masked keys 0.</summary>
    private static void Probabilities(float* si, int* keyMask, float lse, int t)
    {
        var row = new Span<float>(si, t);
        TensorPrimitives.Subtract(row, lse, row);
        TensorPrimitives.Exp(row, row);
        for (int j = 0; j < t; j++)
            if (keyMask[j] == 0) si[j] = 0f;
    }

    /// <summary>
    /// Copies head (bi, hi) out of qkv [B, T, 3, NH, HS] into q, k, v, each [T, HS], adding the head's slice of
    /// the [3H] bias when there is one (the same sums as AddBias before attention).
    /// </summary>
    private static void LoadHead(float* pq, float* bias, int bi, int hi, int t, int h, int hs, float* q, float* k, float* v)
    {
        float* head = pq + (long)bi * t * 3 * h + hi * hs;
        LoadRows(head, 3 * h, t, hs, q, bias is null ? null : bias + hi * hs);
        LoadRows(head + h, 3 * h, t, hs, k, bias is null ? null : bias + h + hi * hs);
        LoadRows(head + 2 * h, 3 * h, t, hs, v, bias is null ? null : bias + 2 * h + hi * hs);
    }

    /// <summary>rows strided by <paramref name="stride"/> floats → a contiguous [rows, width] block, plus bias[c] if given.</summary>
    private static void LoadRows(float* src, long stride, int rows, int width, float* dst, float* bias = null)
    {
        for (int i = 0; i < rows; i++)
        {
            var from = new ReadOnlySpan<float>(src + i * stride, width);
            var to = new Span<float>(dst + i * width, width);
            if (bias is null) from.CopyTo(to);
            else TensorPrimitives.Add(from, new ReadOnlySpan<float>(bias, width), to);
        }
    }

    private static float* BiasOf(Tensor? qkvBias, int h)
    {
        if (qkvBias is null) return null;
        if (qkvBias.DType != DType.F32 || qkvBias.Count != 3 * h)
            throw new ArgumentException($"Attention: qkvBias must be [{3 * h}] f32, got {qkvBias.Shape} {qkvBias.DType.Name()}");
        return P(qkvBias);
    }

    /// <summary>A contiguous [rows, width] block → rows strided by <paramref name="stride"/> floats.</summary>
    private static void StoreHead(float* src, int rows, int width, float* dst, long stride)
    {
        for (int i = 0; i < rows; i++)
            new ReadOnlySpan<float>(src + i * width, width).CopyTo(new Span<float>(dst + i * stride, width));
    }

    private static (int b, int t, int h, int hs) AttentionDims(Tensor qkv, int heads)
    {
        if (qkv.Rank != 3 || qkv.Shape[2] % (3 * heads) != 0)
            throw new ArgumentException($"Attention: qkv must be [B, T, 3·NH·HS], got {qkv.Shape} for {heads} heads");
        int h = qkv.Shape[2] / 3;
        return (qkv.Shape[0], qkv.Shape[1], h, h / heads);
    }
}
